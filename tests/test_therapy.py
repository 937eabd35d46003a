"""tumorjax.therapy: projections, schedule simulation, gradients against finite differences, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import tumorjax as tj
from tumorjax import therapy as th

tj.enable_x64()
RNG = np.random.default_rng(0)
PROJECT = jax.jit(th.project_capped_simplex)


def _slsqp(y, constraints, bounds, starts=()):
    """Brute-force Euclidean projection: SLSQP from many starts, best successful result."""
    best = None
    hi = 10.0 if bounds[0][1] is None else bounds[0][1]
    for x0 in [*starts, np.clip(y, bounds[0][0], hi)] + [RNG.uniform(bounds[0][0], hi, y.size) for _ in range(5)]:
        r = minimize(lambda x: 0.5 * np.sum((x - y) ** 2), x0, jac=lambda x: x - y, bounds=bounds,
                     constraints=constraints, method="SLSQP", options={"ftol": 1e-13, "maxiter": 1000})
        slack = min([0.0] + [float(c["fun"](r.x)) if c["type"] == "ineq" else -abs(float(c["fun"](r.x)))
                             for c in constraints])
        if slack > -1e-9 and (best is None or r.fun < best.fun):
            best = r
    return best.x


@pytest.mark.parametrize("case", ["total", "budget_active", "budget_slack", "weighted", "no_cap"])
def test_capped_simplex_projection_is_feasible_idempotent_and_optimal(case):
    k = 6
    w = np.ones(k) if case != "weighted" else RNG.uniform(0.5, 2.0, k)
    cap = None if case == "no_cap" else 1.5
    total = {"total": 4.0, "weighted": 4.0, "no_cap": 4.0}.get(case)
    budget = {"budget_active": 2.0, "budget_slack": 50.0}.get(case)
    for _ in range(4):
        y = RNG.normal(0.8, 1.5, k)
        x = np.asarray(PROJECT(y, total, cap, w, budget))
        c = np.inf if cap is None else cap
        assert np.all(x >= 0) and np.all(x <= c + 1e-12)
        if total is not None:
            assert abs(w @ x - total) < 1e-10
        if budget is not None:
            assert w @ x <= budget + 1e-10
        np.testing.assert_allclose(PROJECT(x, total, cap, w, budget), x, atol=1e-12)
        # variational inequality: (y - x).(z - x) <= 0 for every feasible z
        z = RNG.uniform(0, min(c, 5.0), (300, k))
        if total is not None:  # other feasible points
            z = np.asarray(jax.vmap(lambda v: PROJECT(v, total, cap, w, None))(z))
        else:
            z *= np.minimum(1.0, budget / (z @ w))[:, None]
        assert np.all((z - x) @ (y - x) <= 1e-9)
        cons = ([{"type": "eq", "fun": lambda v: w @ v - total}] if total is not None
                else [{"type": "ineq", "fun": lambda v: budget - w @ v}])
        ref = _slsqp(y, cons, [(0.0, cap)] * k)
        np.testing.assert_allclose(x, ref, atol=1e-6)


def test_isotonic_regression_matches_pava():
    def pava(y):
        blocks = [[v, 1] for v in y]
        i = 0
        while i < len(blocks) - 1:
            if blocks[i][0] > blocks[i + 1][0]:
                (a, n), (b, m) = blocks[i], blocks.pop(i + 1)
                blocks[i] = [(a * n + b * m) / (n + m), n + m]
                i = max(i - 1, 0)
            else:
                i += 1
        return np.concatenate([[v] * n for v, n in blocks])

    iso = jax.jit(th.isotonic_regression)
    for _ in range(20):
        y = RNG.normal(size=7)
        np.testing.assert_allclose(iso(y), pava(y), atol=1e-12)


def test_time_projection_is_feasible_idempotent_and_optimal():
    H, d, k = 10.0, 1.5, 5
    project = jax.jit(lambda t: th.project_times(t, H, d))
    for _ in range(5):
        y = RNG.uniform(-3.0, 13.0, k)
        t = np.asarray(project(y))
        assert t[0] >= -1e-12 and t[-1] <= H + 1e-12 and np.all(np.diff(t) >= d - 1e-12)
        np.testing.assert_allclose(project(t), t, atol=1e-12)
        cons = [{"type": "ineq", "fun": lambda v, i=i: v[i + 1] - v[i] - d} for i in range(k - 1)]
        ref = _slsqp(y, cons, [(0.0, H)] * k, starts=[d * np.arange(k) + 0.1 * j for j in range(5)])
        np.testing.assert_allclose(t, ref, atol=1e-6)
        # variational inequality against random feasible schedules
        z = np.sort(RNG.uniform(0.0, H - (k - 1) * d, (300, k)), axis=1) + d * np.arange(k)
        assert np.all((z - t) @ (y - t) <= 1e-9)


def _kuznetsov_boluses(objective="auc"):
    """Effector boluses into the default Kuznetsov model (non-stiff, fast)."""
    model = tj.TumourEffector()
    c = th.Constraints(horizon=20.0, n_doses=2, total=4e5, max_dose=3e5, min_interval=2.0)
    return th.ScheduleProblem(model, None, {"T": 2e6, "E": 3e5}, c, burden_states="T", dosed_state="E",
                              objective=objective, progression=3e6, ttp_width=0.2, n_save=81)


def test_bolus_simulation_matches_segmentwise_simulate():
    p = _kuznetsov_boluses()
    s = p.schedule(jnp.array([2.5e5, 1.5e5]), jnp.array([7.0, 3.0]))  # unsorted on purpose
    ts, ys, ok = p.simulate(s)
    assert bool(ok)
    y = p.y0
    for t_a, t_b, dose in ((0.0, 3.0, 0.0), (3.0, 7.0, 1.5e5), (7.0, 20.0, 2.5e5)):
        y = y.at[1].add(dose)
        y = tj.simulate(p.model, p.params, y, (t_a, t_b), n_save=2).ys[-1]
    np.testing.assert_allclose(ys[-1], y, rtol=1e-6)
    assert np.all(np.diff(np.asarray(ts)) >= 0)


@pytest.mark.parametrize("objective", ["final", "auc", "ttp"])
def test_gradient_in_amounts_and_times_matches_central_differences(objective):
    p = _kuznetsov_boluses(objective)
    z = p.encode(p.schedule(jnp.array([2.5e5, 1.5e5]), jnp.array([3.0, 9.0])))
    f = jax.jit(lambda z: p.loss(p.decode(z)))
    g = np.asarray(jax.grad(lambda z: p.loss(p.decode(z)))(z))
    h = 1e-4
    fd = np.array([(f(z.at[i].add(h)) - f(z.at[i].add(-h))) / (2 * h) for i in range(z.size)])
    assert np.all(np.abs(fd) > 1e-6), fd  # every variable, times included, matters
    np.testing.assert_allclose(g, fd, rtol=2e-4, atol=1e-7)


def test_gradient_in_infusion_rates_matches_central_differences():
    p = th.infusion_control(n_doses=3, horizon=30.0, objective="auc")
    z = jnp.array([0.3, 0.6, 0.2])
    f = jax.jit(lambda z: p.loss(p.decode(z)))
    g = np.asarray(jax.grad(lambda z: p.loss(p.decode(z)))(z))
    h = 1e-5
    fd = np.array([(f(z.at[i].add(h)) - f(z.at[i].add(-h))) / (2 * h) for i in range(z.size)])
    assert np.all(np.abs(fd) > 1e-6)
    np.testing.assert_allclose(g, fd, rtol=1e-4)


def test_smooth_ttp_tends_to_the_crossing_time():
    model = tj.TumourGrowth(law="exponential")
    p = model.default_params()
    c = th.Constraints(horizon=30.0, n_doses=1, max_dose=0.0)
    prob = th.ScheduleProblem(model, p, {"T": 1.0}, c, burden_states="T", dosed_state="T", objective="ttp",
                              progression=float(np.exp(10 * p.r)), ttp_width=1e-3, n_save=2001)
    ttp = float(prob.terms(prob.schedule(jnp.zeros(1), jnp.zeros(1)))["ttp"])
    assert abs(ttp - 10.0) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    (dict(horizon=10.0, n_doses=3, total=1.0, max_dose=0.3), r"n_doses \* max_dose = 3 \* 0.3"),
    (dict(horizon=10.0, n_doses=4, min_interval=4.0), r"\(n_doses - 1\) \* min_interval = 3 \* 4.0 = 12 > horizon"),
    (dict(horizon=10.0, n_doses=2, total=2.0, max_dose=0.1, family="infusion"), r"max_dose \* horizon"),
    (dict(horizon=10.0, n_doses=2, min_interval=1.0, family="infusion"), "min_interval applies to bolus"),
    (dict(horizon=10.0, n_doses=2, total=1.0, budget=2.0), "either total"),
    (dict(horizon=-1.0, n_doses=2), "horizon must be a finite non-negative"),
    (dict(horizon=10.0, n_doses=0), "n_doses must be an integer >= 1"),
    (dict(horizon=10.0, n_doses=2, max_dose=-1.0), "max_dose must be a finite non-negative"),
    (dict(horizon=10.0, n_doses=2, family="pill"), "family must be"),
])
def test_infeasible_or_bad_constraints_raise_before_tracing(kwargs, match):
    with pytest.raises(ValueError, match=match):
        th.Constraints(**kwargs)


def test_bad_problem_and_optimiser_inputs_raise():
    c = th.Constraints(horizon=10.0, n_doses=2, total=1.0)
    model = tj.TumourEffector()
    with pytest.raises(ValueError, match="unknown objective"):
        th.ScheduleProblem(model, None, {"T": 1e6, "E": 1e5}, c, burden_states="T", dosed_state="E", objective="x")
    with pytest.raises(ValueError, match="has no state 'X'"):
        th.ScheduleProblem(model, None, {"T": 1e6, "E": 1e5}, c, burden_states="T", dosed_state="X")
    with pytest.raises(ValueError, match="needs dosed_state"):
        th.ScheduleProblem(model, None, {"T": 1e6, "E": 1e5}, c, burden_states="T")
    with pytest.raises(ValueError, match="progression"):
        th.ScheduleProblem(model, None, {"T": 1e6, "E": 1e5}, c, burden_states="T", dosed_state="E", objective="ttp")
    with pytest.raises(ValueError, match="non-negative"):
        th.ScheduleProblem(model, None, {"T": -1.0, "E": 1e5}, c, burden_states="T", dosed_state="E")
    with pytest.raises(ValueError, match="takes no time-dependent infusion"):
        th.ScheduleProblem(tj.CytokineModel(), None, np.ones(3), th.Constraints(10.0, 2, family="infusion"),
                           burden_states="T")
    prob = th.ScheduleProblem(model, None, {"T": 1e6, "E": 1e5}, c, burden_states="T", dosed_state="E")
    with pytest.raises(ValueError, match="unknown method"):
        th.optimize_schedule(prob, method="newton")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        th.optimize_schedule(prob, steps=0)
    with pytest.raises(ValueError, match="constraints are for a bolus"):
        c.check(th.InfusionSchedule([0.0, 5.0, 10.0], [1.0, 1.0]))
    with pytest.raises(ValueError, match="schedule has 3 doses"):
        c.check(th.BolusSchedule([0.0, 1.0, 2.0], [1.0, 1.0, 1.0], "E"))



def test_residuals_and_penalty_read_the_times_in_simulation_order():
    c = th.Constraints(horizon=20.0, n_doses=2, min_interval=2.0)
    unsorted = th.BolusSchedule([10.0, 2.0], [1.0, 1.0], "E")  # 8 apart once sorted: feasible
    assert float(c.residuals(unsorted)["min_interval"]) == 0.0 and float(c.penalty(unsorted)) == 0.0
    close = th.BolusSchedule([3.0, 2.0], [1.0, 1.0], "E")  # 1 apart: short by 1 = 0.05 horizons
    assert float(c.residuals(close)["min_interval"]) == pytest.approx(0.05, rel=1e-12)
    assert float(c.penalty(close)) == pytest.approx(0.05**2, rel=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(dose_scale=0.0), "dose_scale must be finite and > 0, got 0.0"),
    (dict(dose_scale=-1.0), "dose_scale must be finite and > 0, got -1.0"),
    (dict(dose_scale=float("nan")), "dose_scale must be finite and > 0, got nan"),
    (dict(ttp_width=0.0), "ttp_width must be finite and > 0, got 0.0"),
    (dict(n_save=1), "n_save must be an integer >= 2"),
])
def test_bad_problem_scales_and_save_counts_raise(kwargs, match):
    c = th.Constraints(horizon=10.0, n_doses=2, total=1.0)
    with pytest.raises(ValueError, match=match):
        th.ScheduleProblem(tj.TumourEffector(), None, {"T": 1e6, "E": 1e5}, c, burden_states="T", dosed_state="E",
                           **kwargs)


def test_simulate_boluses_needs_two_saved_points_per_segment():
    model = tj.TumourEffector()
    s = th.BolusSchedule([1.0], [1e5], "E")
    with pytest.raises(ValueError, match="n_save must be an integer >= 2 .*, got 1"):
        th.simulate_boluses(model, model.default_params(), jnp.array([1e6, 1e5]), s, 10.0, n_save=1)


def test_initial_schedule_is_checked_and_projected_before_it_is_recorded():
    p = _kuznetsov_boluses()
    with pytest.raises(ValueError, match="init\\[0\\]: schedule has 3 doses, the constraints 2"):
        th.optimize_schedule(p, starts=1, init=[p.schedule(jnp.full(3, 1e5), jnp.array([1.0, 5.0, 9.0]))])
    with pytest.raises(ValueError, match="init\\[0\\] doses state 'T'; the problem doses 'E'"):
        th.optimize_schedule(p, starts=1, init=[th.BolusSchedule([1.0, 9.0], [2e5, 2e5], "T")])
    # doses over max_dose and the total, times 1 apart (< min_interval = 2): the one recorded point is feasible
    bad = th.BolusSchedule([5.0, 4.0], [5e5, 4e5], "E")
    assert max(float(v) for v in p.constraints.residuals(bad).values()) > 0.1
    report = th.optimize_schedule(p, steps=1, starts=1, init=[bad])
    assert max(report.residuals.values()) < 1e-12
    assert float(report.schedule.total) == pytest.approx(4e5, rel=1e-12)
    assert np.diff(np.sort(np.asarray(report.schedule.times)))[0] >= 2.0 - 1e-12


def test_infusion_initial_schedule_on_other_edges_is_refused():
    p = th.infusion_control(n_doses=2, horizon=30.0)
    other = th.InfusionSchedule([0.0, 10.0, 30.0], [1e5, 1e5])
    with pytest.raises(ValueError, match=r"init\[0\] has edges \(0.0, 10.0, 30.0\); the problem's are \(0.0, 15.0"):
        th.optimize_schedule(p, starts=1, init=[other])


def test_every_start_failing_to_solve_is_a_clear_error():
    """Exponential growth at r = 100 overflows by t = 7.2 (e^720 > 1.8e308): no schedule has a finite objective."""
    model = tj.TumourGrowth(law="exponential")
    c = th.Constraints(horizon=7.2, n_doses=1, max_dose=1.0)
    p = th.ScheduleProblem(model, model.default_params().replace(r=100.0), {"T": 1.0}, c, burden_states="T",
                           dosed_state="T")
    with pytest.raises(th.NoFiniteObjective, match="every start failed to solve"):
        th.optimize_schedule(p, steps=1, starts=1)
    with pytest.raises(th.NoFiniteObjective, match="every grid point failed to solve"):
        th.grid_search(p, n_times=2, n_levels=1)
