"""Worked problem (c), seed 004: re-injection times into the radial PDE (2.8), smooth in time; against a grid
search and the Fig. 12 threshold rule; bad input."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax import therapy as th
from tumorjax.cli import main
from tumorjax.oncolytic import OncolyticParams, Protocol, RadialConfig, solve_radial

tj.enable_x64()
SMALL = dict(N=30, horizon=600.0)  # a 600-h solve on 30 cells: a few ms


@pytest.fixture(scope="module")
def problem():
    return th.oncolytic_injections(n_doses=2, **SMALL)


def test_gradient_in_times_and_fractions_matches_finite_differences():
    """Off the step nodes the solve is smooth in T: autodiff against central differences with h << dt."""
    pr = th.oncolytic_injections(n_doses=2, total=0.6, **SMALL)  # fractions free too
    z = pr.encode(th.BolusSchedule([150.13, 330.61], [0.25, 0.35], "i"))
    f = jax.jit(lambda z: pr.loss(pr.decode(z)))
    g = jax.grad(f)(z)
    for k, h in ((0, 1e-6), (1, 1e-6), (2, 0.01 / pr.horizon), (3, 0.01 / pr.horizon)):
        e = jnp.zeros(4).at[k].set(h)
        fd = (f(z + e) - f(z - e)) / (2 * h)
        assert float(g[k]) == pytest.approx(float(fd), rel=2e-4)
        assert abs(float(g[k])) > 1e-3


def test_on_grid_injections_match_protocol_and_the_threshold_rule(problem):
    """At step nodes the smooth injection is Protocol's jump (and continuous in T across a node); the rule's
    times reproduce threshold_sweep."""
    s = th.BolusSchedule([100.0, 250.25], [0.3, 0.3], "i")
    ts, totals, ok = problem.simulate(s)
    loss = jax.jit(lambda t: problem.loss(th.BolusSchedule(t, [0.3, 0.3], "i")))
    assert float(loss(jnp.array([100.0 - 1e-9, 250.25]))) == pytest.approx(float(loss(s.times)), rel=1e-9)
    ref = solve_radial(problem.params, problem.config, problem.horizon, y0=problem.y0,
                       protocol=Protocol(t_injections=(100.0, 250.25), fraction=0.3))
    assert bool(ok) and ref.ok
    np.testing.assert_allclose(totals[:, 0], ref["U_total"], rtol=1e-12)
    np.testing.assert_allclose(totals[:, 1], ref["I_total"], rtol=1e-12)
    rule = th.threshold_rule(problem, thresholds=[5e4, 1e5])
    assert rule["ok"] and rule["injections"][0] >= 2
    rule_s = th.threshold_schedule(problem, 5e4)
    assert rule_s.times.shape == (int(rule["injections"][0]),)
    pr = th.oncolytic_injections(n_doses=rule_s.times.shape[0], **SMALL)
    assert float(pr.terms(rule_s)["burden_integral"]) == pytest.approx(rule["burden"][0], rel=1e-12)


def test_optimiser_beats_the_best_grid_point_with_fewer_simulations(problem):
    grid = th.grid_search(problem, n_times=8, n_levels=2)  # C(8, 2) = 28 pairs of times at 30 % each
    opt = th.optimize_schedule(problem, steps=10, starts=2, learning_rate=0.05)
    assert opt.n_simulations < grid.n_simulations
    assert opt.value < grid.value and opt.terms["ok"]
    assert max(opt.residuals.values()) < 1e-12
    np.testing.assert_allclose(opt.schedule.amounts, 0.3, rtol=1e-12)  # the fractions stay pinned
    # started from the grid's best (its first iterate), three Adam steps lower the burden by more than 5 %
    refined = th.optimize_schedule(problem, steps=3, starts=1, init=[grid.schedule])
    assert refined.history[0, 0] == pytest.approx(grid.value, rel=1e-12)
    assert refined.value < 0.95 * grid.value and refined.terms["ok"]


def test_cli_optimize_ov_injections(tmp_path):
    out = tmp_path / "ov"
    assert main(["optimize", "ov-injections", "--doses", "1", "--horizon", "100", "--steps", "2",
                 "--starts", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "optimize.json").read_text())
    assert summary["problem"] == "ov-injections" and "threshold_rule" in summary
    assert summary["report"]["n_simulations"] == 1 * 2 + 1  # starts * steps + the final evaluation
    assert {p.name for p in out.iterdir()} == {"schedule.csv", "optimize.json", "figure.png"}
    rows = np.loadtxt(out / "schedule.csv", delimiter=",", skiprows=1, ndmin=2)
    assert rows.shape == (1, 2) and 0 <= rows[0, 0] <= 100 and rows[0, 1] == pytest.approx(0.3)


def test_threshold_schedule_finds_every_injection_of_the_rule():
    """At U_thr = 1e4 the rule injects 16 times in 900 h, more than n_doses + 10: all are found."""
    pr = th.oncolytic_injections(n_doses=1, N=30, horizon=900.0)
    rule = th.threshold_rule(pr, thresholds=[1e4])
    s = th.threshold_schedule(pr, 1e4)
    assert rule["injections"][0] == 16 and s.times.shape == (16,)
    assert np.all(np.diff(np.asarray(s.times)) > 0) and 0 < float(s.times[0]) and float(s.times[-1]) <= 900.0
    same = th.oncolytic_injections(n_doses=16, N=30, horizon=900.0)
    assert float(same.terms(s)["burden_integral"]) == pytest.approx(rule["burden"][0], rel=1e-12)


@pytest.mark.parametrize("bad, message", [
    (lambda: th.oncolytic_injections(fraction=1.0, **SMALL), "fraction must be in"),
    (lambda: th.oncolytic_injections(max_dose=1.0, **SMALL), "must be given and < 1"),
    (lambda: th.oncolytic_injections(objective="ttp", **SMALL), "unknown objective"),
    (lambda: th.oncolytic_injections(horizon=100.5, N=30), "multiple of save_every"),
    (lambda: th.oncolytic_injections(n_doses=3, total=0.6, max_dose=0.1, **SMALL), "n_doses * max_dose"),
    (lambda: th.InjectionProblem(OncolyticParams().to_ode(), RadialConfig(N=30), None,
                                 th.Constraints(horizon=10.0, n_doses=1, max_dose=0.5)), "OncolyticParams"),
])
def test_bad_input_fails_clearly(bad, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        bad()


def test_more_initial_schedules_than_starts_is_refused(problem):
    s = problem.even_schedule()
    with pytest.raises(ValueError, match="2 initial schedules for 1 starts"):
        th.optimize_schedule(problem, starts=1, init=[s, s])


@pytest.mark.parametrize("init, message", [
    (th.BolusSchedule([100.0, 200.0, 300.0], [0.3] * 3, "i"), r"init\[0\]: schedule has 3 doses, the constraints 2"),
    (th.BolusSchedule([100.0, 200.0], [0.3, 0.3], "u"), r"init\[0\] doses state 'u'; the problem doses 'i'"),
    (th.InfusionSchedule([0.0, 300.0, 600.0], [0.1, 0.1]), "constraints are for a bolus schedule"),
])
def test_initial_schedules_of_another_family_length_or_state_are_refused(problem, init, message):
    with pytest.raises(ValueError, match=message):
        th.optimize_schedule(problem, starts=1, init=[init])
