"""Calibration: transforms, noise likelihoods, gradients through simulate, multistart fits, Fisher and
profile uncertainty, synthetic recovery, the LLC data against an independent SciPy fit (float64)."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SHARED
from scipy import optimize, stats

import tumorjax as tj
from tumorjax.calibration import (
    Gaussian, LogNormal, Logit, Power, Problem, Proportional, aic, aicc, bic, fisher_information, fit,
    fit_population, fit_subjects, growth_problem, minimize, profile_likelihood, wald_intervals,
)
from tumorjax.data import load_llc

Y0 = {"T": 1e6, "E": 3.2e5}
TS = np.linspace(2.0, 60.0, 20)


def kuznetsov_problem(**start):
    model = tj.TumourEffector()
    params = model.default_params().replace(**(start or {"r": 0.25, "kappa": 2e-7}))
    return Problem(model, {"r": "log", "kappa": "log", "noise.sigma": "log"}, Y0, params=params,
                   noise=LogNormal(0.2), observe="T")


@pytest.fixture(scope="module")
def synthetic():
    """Kuznetsov (1994) T(t) at the published parameters with 10 % log-normal noise (seed 0)."""
    model = tj.TumourEffector()
    sol = tj.simulate(model, model.default_params(), Y0, (0.0, 60.0), ts=TS)
    noise = np.exp(0.1 * np.random.default_rng(0).standard_normal(TS.size))
    return TS, np.asarray(sol["T"]) * noise


@pytest.fixture(scope="module")
def recovery(synthetic):
    return fit(kuznetsov_problem(), synthetic, n_starts=4, spread=0.3)


def test_transforms_and_bounds():
    tr = Logit(0.5, 2.0)
    x = jnp.array([0.6, 1.0, 1.9])
    assert np.allclose(tr.inverse(tr.forward(x)), x, rtol=1e-14)
    with pytest.raises(ValueError, match=r"lower < upper, got lower=3.0 > upper=1.0"):
        Logit(3.0, 1.0)
    with pytest.raises(ValueError, match="lower = upper"):
        Logit(1.0, 1.0)
    with pytest.raises(ValueError, match="outside its bounds"):
        Problem(tj.TumourGrowth(), {"r": Logit(0.5, 1.0)}, {"T": 1.0})  # default r = 0.3
    with pytest.raises(ValueError, match="log transform but its starting value is 0.0"):
        Problem(tj.BertalanffyGrowth(), {"q": "log"}, {"T": 1.0}, params=tj.BertalanffyParams(q=0.0))
    with pytest.raises(ValueError, match="unknown transform 'sqrt'"):
        Problem(tj.TumourGrowth(), {"r": "sqrt"}, {"T": 1.0})


def test_problem_settings_and_noise_values_are_checked():
    def make(**kw):
        return Problem(tj.TumourGrowth(), {"r": "log"}, {"T": 1.0}, **kw)
    with pytest.raises(ValueError, match="t0 must be finite, got nan"):
        make(t0=np.nan)
    with pytest.raises(ValueError, match=r"rtol and atol must be finite and > 0, got rtol=0.0, atol=1e-08"):
        make(rtol=0.0)
    with pytest.raises(ValueError, match=r"rtol and atol must be finite and > 0, got rtol=1e-08, atol=-1.0"):
        make(atol=-1.0)
    with pytest.raises(ValueError, match="max_steps must be >= 1, got 0"):
        make(max_steps=0)
    with pytest.raises(TypeError, match="noise must be a tumorjax.calibration noise model, got str"):
        make(noise="gaussian")
    with pytest.raises(ValueError, match="Power: exponent must be finite, got nan"):
        Power(exponent=np.nan)
    with pytest.raises(ValueError, match="Gaussian: sigma must be > 0 and finite, got inf"):
        Gaussian(np.inf)
    for V0 in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="V0 must be a finite volume > 0"):
            growth_problem("gompertz", V0=V0)


def test_unknown_names_list_the_model_parameters():
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['rho'\] for TumourEffector; model "
                                         r"parameters: r, K, kappa.*initial states: y0.T, y0.E; noise: noise.sigma"):
        Problem(tj.TumourEffector(), {"rho": "log"}, Y0)
    with pytest.raises(ValueError, match="non-empty dict"):
        Problem(tj.TumourEffector(), {}, Y0)
    with pytest.raises(ValueError, match="TumourEffector has no state 'V'"):
        Problem(tj.TumourEffector(), {"r": "log"}, Y0, observe="V")


def test_bad_data_is_rejected(synthetic):
    p = kuznetsov_problem()
    t, v = synthetic
    with pytest.raises(ValueError, match="must be finite"):
        p.check_series(t, np.where(t > 30, np.nan, v))
    with pytest.raises(ValueError, match="before the initial time t0 = 0"):
        p.check_series(t - 5.0, v)
    with pytest.raises(ValueError, match="sorted"):
        p.check_series(t[::-1], v)
    with pytest.raises(ValueError, match="log-normal noise needs positive data"):
        p.check_series(t, -v)
    with pytest.raises(ValueError, match="unknown optimizer 'bfgs'"):
        fit(p, synthetic, optimizer="bfgs")
    with pytest.raises(ValueError, match=r"level must be a confidence level in \(0, 1\) such as 0.95, got 95"):
        fit(p, synthetic, level=95)
    with pytest.raises(ValueError, match="level must be a confidence level"):
        wald_intervals(p, p.z_start(), np.eye(3), level=1.0)
    with pytest.raises(ValueError, match="r has a log transform but its starting value is -0.1"):
        fit(p, synthetic, starts=[[0.2, 2e-7, 0.1], [-0.1, 2e-7, 0.1]])
    with pytest.raises(ValueError, match=r"starts must have shape \(n_starts, 3\).*got \(3,\)"):
        fit(p, synthetic, starts=[0.2, 2e-7, 0.1])
    with pytest.raises(ValueError, match="starts must be finite"):
        fit(p, synthetic, starts=[[0.2, np.nan, 0.1]])


def test_noise_likelihoods_against_scipy():
    y, f = np.array([1.0, 2.5, 4.0]), np.array([1.2, 2.0, 4.4])
    mask = np.ones(3, bool)
    assert np.isclose(Gaussian().nll(y, f, mask, {"sigma": 0.3}), -stats.norm.logpdf(y, f, 0.3).sum(), rtol=1e-12)
    assert np.isclose(LogNormal().nll(y, f, mask, {"sigma": 0.3}),
                      -stats.lognorm.logpdf(y, 0.3, scale=f).sum(), rtol=1e-12)
    sd = 0.2 * f**0.84
    assert np.isclose(Power().nll(y, f, mask, {"sigma": 0.2, "exponent": 0.84}),
                      -stats.norm.logpdf(y, f, sd).sum(), rtol=1e-12)
    assert float(Proportional(0.1).exponent) == 1.0
    masked = np.array([True, False, True])  # a masked point contributes nothing
    assert np.isclose(Gaussian().nll(y, f, masked, {"sigma": 0.3}),
                      -stats.norm.logpdf(y[masked], f[masked], 0.3).sum(), rtol=1e-12)


def test_information_criteria():
    assert aic(10.0, 3) == 26.0
    assert np.isclose(bic(10.0, 3, 20), 3 * np.log(20) + 20.0)
    assert np.isclose(aicc(10.0, 3, 20), 26.0 + 24 / 16) and aicc(10.0, 3, 4) == np.inf


@pytest.fixture(scope="module")
def jitted(synthetic):
    """The Kuznetsov problem's NLL and its gradient, jitted once for the finite-difference tests."""
    p = kuznetsov_problem()
    t, v = (jnp.asarray(a) for a in synthetic)
    return p, t, v, jax.jit(lambda z: p.nll(z, t, v)), jax.jit(jax.grad(lambda z: p.nll(z, t, v)))


def test_gradient_through_simulate_matches_finite_differences(jitted):
    p, _, _, f, grad = jitted
    z = p.z_start()
    h = 1e-6
    fd = np.array([(f(z.at[i].add(h)) - f(z.at[i].add(-h))) / (2 * h) for i in range(z.size)])
    np.testing.assert_allclose(grad(z), fd, rtol=1e-5)


def test_forward_mode_gradient_rule_equals_reverse_mode(jitted):
    """The fits' gradient (`Problem.loss`: forward-mode tangents for <= 6 names) is the reverse-mode one,
    under jit and vmap; `gradient=` chooses the rule, and an unknown one is refused."""
    p, t, v, f, grad = jitted
    assert p.gradient == "auto" and p.n_free == 3
    z = jnp.stack([p.z_start(), p.z_start() + 0.1])
    value, g = jax.jit(jax.vmap(jax.value_and_grad(p.loss(t, v))))(z)
    # Elementwise to 1e-10, with a floor of 1e-13 of the largest component: at the second point
    # d/dz_0 = -3.5e-3 is what is left of per-observation terms whose magnitudes sum to 1130, and
    # the two modes round it differently (1.4e-12 apart when the solve loop is one XLA kernel).
    ref = jax.vmap(grad)(z)
    np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-13 * float(np.max(np.abs(ref))))
    np.testing.assert_allclose(value, jax.vmap(f)(z), rtol=1e-14)
    forward = tj.calibration.forward_gradient(lambda x: jnp.sin(x[0]) * x[1] ** 2)
    np.testing.assert_allclose(jax.grad(forward)(jnp.array([0.3, 2.0])), [4 * np.cos(0.3), 4 * np.sin(0.3)])
    with pytest.raises(ValueError, match="unknown gradient 'adjoint'"):
        Problem(tj.TumourGrowth(), {"r": "log"}, {"T": 1.0}, gradient="adjoint")


def test_fisher_information_matches_finite_differences_of_the_gradient(jitted):
    p, t, v, _, grad = jitted
    z = p.z_start()
    H = np.asarray(fisher_information(p, z, t, v, jnp.ones(t.shape, bool)))
    h = 1e-5
    fd = np.stack([(grad(z.at[i].add(h)) - grad(z.at[i].add(-h))) / (2 * h) for i in range(z.size)])
    np.testing.assert_allclose(H, fd, rtol=1e-4, atol=1e-6 * np.abs(H).max())
    assert np.allclose(H, H.T, rtol=1e-10)


def test_minimize_quadratic_both_optimizers():
    A = jnp.array([[3.0, 0.5], [0.5, 1.0]])
    b = jnp.array([1.0, -2.0])
    f = lambda z: 0.5 * z @ A @ z - b @ z  # noqa: E731
    exact = np.linalg.solve(A, b)
    for name, steps in (("lbfgs", 50), ("adam", 3000)):
        out = minimize(f, jnp.zeros(2), optimizer=name, max_steps=steps, gtol=1e-9, learning_rate=0.02)
        np.testing.assert_allclose(out.z, exact, rtol=1e-6, err_msg=name)
        assert bool(out.converged) or name == "adam"  # Adam's gradient oscillates around 1e-7 here


def test_new_values_and_data_reuse_the_compiled_fit(recovery, synthetic):
    """Other starting values, noise level and data of the same shapes: no new trace of the multistart."""
    from tumorjax.calibration._fit import _multistart_impl

    before = eqx.debug.get_num_traces(_multistart_impl)
    t, v = synthetic
    problem = kuznetsov_problem(r=0.2, kappa=1.5e-7)
    again = fit(problem, (t, v * 1.02), n_starts=4, spread=0.3, uncertainty=False)
    assert eqx.debug.get_num_traces(_multistart_impl) == before
    assert again.converged and abs(again.estimate[0] - recovery.estimate[0]) < 0.01
    # no Fisher information computed: identifiability unknown, not "not identifiable"
    assert again.identifiable is None and json.loads(again.to_json())["identifiable"] is None
    assert "uncertainty not computed" in again.summary() and "not identifiable" not in again.summary()
    with pytest.raises(ValueError, match="sigma must be > 0"):
        LogNormal(0.0)


def test_synthetic_recovery_within_confidence_intervals(recovery):
    """The published Kuznetsov r, kappa and the noise sd 0.1 lie inside the 95 % Wald intervals."""
    truth = {"r": 0.18, "kappa": 1.101e-7, "noise.sigma": 0.1}
    assert recovery.converged and recovery.identifiable
    for name, lo, hi, est in zip(recovery.names, recovery.lower, recovery.upper, recovery.estimate):
        assert lo < truth[name] < hi, (name, lo, truth[name], hi)
        assert lo < est < hi
    assert recovery.se[0] / recovery.estimate[0] < 0.05  # r is well determined by T(t) alone
    assert np.all(np.isfinite(recovery.starts_nll))
    text = recovery.summary()
    assert "kappa" in text and "converged" in text and "95% CI" in text
    # the JSON's log-scale Wald interval: geometric mean = estimate, ln(upper/lower) = 2 z_0.975 se/estimate (delta)
    r = json.loads(recovery.to_json())["parameters"]["r"]
    assert np.isclose(r["lower"] * r["upper"], r["estimate"] ** 2, rtol=1e-12)
    assert np.isclose(np.log(r["upper"] / r["lower"]), 2 * stats.norm.ppf(0.975) * r["se"] / r["estimate"],
                      rtol=1e-10)
    with pytest.raises(ValueError, match="level must be a confidence level"):
        profile_likelihood(recovery, "r", level=95)
    with pytest.raises(ValueError, match="r has a log transform but its starting value is -0.1"):
        profile_likelihood(recovery, "r", values=[-0.1, 0.2])


@pytest.mark.slow  # ~20 s of compilation; benchmarks/bench_calibration.py runs the same profile and checks
def test_profile_likelihood_agrees_with_wald_interval(recovery, tmp_path):
    prof = profile_likelihood(recovery, "r", n=11)
    assert np.argmin(prof.nll) == 5 and np.isclose(prof.nll.min(), recovery.nll, atol=1e-6)
    # near-quadratic profile: profile and Wald intervals agree to a few per cent of their width
    width = recovery.upper[0] - recovery.lower[0]
    assert abs(prof.lower - recovery.lower[0]) < 0.05 * width and abs(prof.upper - recovery.upper[0]) < 0.05 * width
    assert prof.lower < 0.18 < prof.upper
    prof.plot(tmp_path / "profile.png")
    recovery.plot(tmp_path / "fit.png", log=True)
    assert (tmp_path / "profile.png").stat().st_size > 0 and (tmp_path / "fit.png").stat().st_size > 0
    with pytest.raises(ValueError, match="'K' is not a fitted name"):
        profile_likelihood(recovery, "K")


def _gompertz_nll_numpy(x, t, v, alpha=0.84):
    r, K, sigma = x
    f = K * np.exp(np.log(1.0 / K) * np.exp(-r * t))  # closed form from V(0) = 1
    return -stats.norm.logpdf(v, f, sigma * f**alpha).sum()


@pytest.fixture(scope="module")
def llc_fits():
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    data = load_llc(SHARED / "data").select(subjects=["mouse0", "mouse1", "mouse2"])
    return data, fit_subjects(growth_problem("gompertz"), data, n_starts=4)


def test_llc_gompertz_subject_fits_match_an_independent_scipy_fit(llc_fits, tmp_path):
    """Per-mouse Gompertz fits (one vmapped call) reach SciPy's optimum of the same likelihood (closed form)."""
    data, fits = llc_fits
    assert fits.subjects == ["mouse0", "mouse1", "mouse2"]
    for r in fits.reports:
        assert r.converged and r.identifiable
        t, v = data.series(r.subject)
        ref = optimize.minimize(_gompertz_nll_numpy, r.estimate * 1.2, args=(t, v), method="Nelder-Mead",
                                options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
        assert r.nll <= ref.fun + 1e-7
        np.testing.assert_allclose(r.estimate, ref.x, rtol=1e-4)
        assert np.isclose(r.nll, _gompertz_nll_numpy(r.estimate, t, v), rtol=1e-8)
    cols = fits.columns()
    assert cols["r"].shape == (3,) and np.all(cols["converged"] == 1)
    # criteria from the SciPy NLL at the estimates: 3 fitted names per mouse, BIC with each mouse's ln n
    nll = [_gompertz_nll_numpy(r.estimate, *data.series(r.subject)) for r in fits.reports]
    n = [data.series(r.subject)[0].size for r in fits.reports]
    assert np.isclose(fits.aic, sum(2 * 3 + 2 * x for x in nll), rtol=1e-8)
    assert np.isclose(fits.bic, sum(3 * np.log(k) + 2 * x for x, k in zip(nll, n)), rtol=1e-8)
    fits.to_csv(tmp_path / "fits.csv")
    fits.plot(tmp_path / "fits.png")
    assert "sum AIC" in fits.summary()


@pytest.mark.slow  # ~25 s of compilation; benchmarks/bench_calibration.py runs it on all 20 mice
def test_population_fit_shared_and_individual(llc_fits):
    """Shared K and noise, individual r: one joint fit; it cannot beat three independent fits in NLL."""
    data, fits = llc_fits
    pop = fit_population(growth_problem("gompertz"), data, shared=["K", "noise.sigma"], individual=["r"])
    assert pop.converged and pop.n_params == 2 + 3 and pop.n_obs == sum(r.n_obs for r in fits.reports)
    assert pop.nll >= fits.nll - 1e-6
    assert pop.shared["K"]["lower"] < pop.shared["K"]["estimate"] < pop.shared["K"]["upper"]
    assert pop.individual["r"].shape == (3,) and np.all(np.isfinite(pop.individual_se["r"]))
    assert "shared" in pop.summary()
    with pytest.raises(ValueError, match=r"in neither \['r'\]"):
        fit_population(growth_problem("gompertz"), data, shared=["K", "noise.sigma"], individual=[])


def _log_linear_nll(y, sse):
    """Log-normal NLL with sigma at its MLE sqrt(sse / n): y = ln(data), sse the residual sum of squares of y."""
    n = y.size
    return 0.5 * n * np.log(2 * np.pi * sse / n) + 0.5 * n + np.sum(y)


def test_profile_of_an_exponential_rate_matches_its_closed_form():
    """ln V = r t + sigma eps with V0 = 1 and sigma = 0.1 known: the NLL is quadratic in r, minimal at
    sum(t ln V) / sum(t^2), and the profile interval is r_hat -+ sqrt(chi2_1(0.95)) sigma / sqrt(sum t^2)."""
    t = np.linspace(1.0, 10.0, 12)
    v = np.exp(0.3 * t + 0.1 * np.random.default_rng(1).standard_normal(t.size))
    problem = Problem(tj.TumourGrowth(law="exponential"), {"r": "log"}, {"T": 1.0}, noise=LogNormal(0.1))
    report = fit(problem, (t, v), n_starts=1, uncertainty=False)
    r_hat = np.sum(t * np.log(v)) / np.sum(t * t)
    half = np.sqrt(stats.chi2.ppf(0.95, 1)) * 0.1 / np.sqrt(np.sum(t * t))
    assert np.isclose(report.estimate[0], r_hat, rtol=1e-7)
    values = r_hat + np.linspace(-1.45, 1.55, 31) * half  # no grid point on the crossings
    prof = profile_likelihood(report, "r", values=values)
    exact = [-stats.lognorm.logpdf(v, 0.1, scale=np.exp(r * t)).sum() for r in values]
    np.testing.assert_allclose(prof.nll, exact, atol=1e-6)  # the solve's rtol 1e-8 on V: ~1e-7 in the NLL
    # linear interpolation between grid points 0.1 half-widths apart is off by ~0.1 % of the half-width
    np.testing.assert_allclose([prof.lower, prof.upper], [r_hat - half, r_hat + half], atol=5e-3 * half)


def test_population_fit_of_log_linear_growth_matches_least_squares(monkeypatch):
    """Shared r and sigma, individual V0: ln V_s = ln V0_s + r t + sigma eps is a linear regression with one
    intercept per subject, so the MLE, NLL and standard errors are least squares in closed form."""
    from tumorjax.calibration import _population

    rng = np.random.default_rng(2)
    times = [np.linspace(1.0, 8.0, 8), np.linspace(2.0, 10.0, 9), np.linspace(0.5, 5.0, 6)]
    value = [v0 * np.exp(0.3 * tk + 0.1 * rng.standard_normal(tk.size)) for v0, tk in zip((1.0, 2.0, 0.5), times)]
    subject = np.repeat(["s0", "s1", "s2"], [tk.size for tk in times])
    data = tj.data.Dataset(subject, np.full(subject.size, "c"), np.concatenate(times), np.concatenate(value),
                           unit="mm^3")
    t, y = data.time, np.log(data.value)
    X = np.column_stack([t] + [(data.subject == s).astype(float) for s in data.subjects])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    sse = np.sum((y - X @ beta) ** 2)
    s2 = sse / y.size
    se_beta = np.sqrt(s2 * np.diag(np.linalg.inv(X.T @ X)))
    problem = growth_problem("exponential", noise=LogNormal(0.2), fit_V0=True)
    args = dict(shared=["r", "noise.sigma"], individual=["y0.T"], n_starts=2)
    pop = fit_population(problem, data, **args)
    assert pop.converged and pop.identifiable and pop.n_params == 5 and pop.n_obs == 23
    assert np.isclose(pop.nll, _log_linear_nll(y, sse), atol=1e-7)
    r, sigma = pop.shared["r"], pop.shared["noise.sigma"]
    np.testing.assert_allclose([r["estimate"], r["se"]], [beta[0], se_beta[0]], rtol=1e-5)
    np.testing.assert_allclose([sigma["estimate"], sigma["se"]], [np.sqrt(s2), np.sqrt(s2 / (2 * y.size))], rtol=1e-5)
    np.testing.assert_allclose(pop.individual["y0.T"], np.exp(beta[1:]), rtol=1e-5)
    np.testing.assert_allclose(pop.individual_se["y0.T"], np.exp(beta[1:]) * se_beta[1:], rtol=1e-5)
    q = stats.norm.ppf(0.975)
    np.testing.assert_allclose([r["lower"], r["upper"]], beta[0] * np.exp(np.array([-q, q]) * se_beta[0] / beta[0]),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="level must be a confidence level"):
        fit_population(problem, data, level=95, **args)
    # a Hessian that is invertible but not positive definite: no standard errors (as in wald_intervals)
    monkeypatch.setattr(_population, "_population_hessian", lambda *a: np.diag([1.0, -1.0, 1.0, 1.0, 1.0]))
    bad = fit_population(problem, data, **args)
    assert bad.identifiable is False and "not identifiable" in bad.summary()
    assert all(np.isnan(bad.shared["r"][k]) for k in ("se", "lower", "upper"))
    assert np.all(np.isnan(bad.individual_se["y0.T"]))
