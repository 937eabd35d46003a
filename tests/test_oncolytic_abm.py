"""Seed 004 lattice ABM: exact binomial sampler, closed forms (logistic mean, random-walk MSD,
Fisher front speed), the reference Octave runs (0-6 h), probabilities, reproducibility,
protocols, tracing. Counts are int32 and probabilities float32 (`LatticeConfig.dtype`);
statistical tests use 4 standard errors (two-sided)."""

import csv
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from tumorjax.oncolytic import (
    REFERENCE_CODE, LatticeConfig, LatticeProtocol, LatticeState, binomial, simulate_lattice, simulate_replicates,
    wilson_interval,
)
from tumorjax.oncolytic._lattice import _scan, initial_state
from tumorjax.oncolytic._lattice_events import for_each_event

pytestmark = pytest.mark.long_file  # about 4 min in all on the 2-core machine

QUIET = REFERENCE_CODE.replace(S0=0.0, alpha_z=0.0, beta=0.0, zeta=0.0, q=0.0, q_z=0.0, alpha_phi=0.0,
                               gamma_phi=0.0)


_BINOMIAL = jax.jit(binomial)


def _state(U, config, I=None):
    U = jnp.asarray(U, jnp.int32)
    zeros = jnp.zeros_like(U)
    return LatticeState(U=U, I=zeros if I is None else jnp.asarray(I, jnp.int32), Z=zeros,
                        phi=jnp.zeros(U.shape, config.dtype), p_max=jnp.asarray(0.0, config.dtype))


@pytest.mark.parametrize("n,p", [(1, 0.3), (7, 0.02), (90, 4e-4), (100, 0.9), (500, 0.3), (40, 0.5)])
def test_binomial_sampler_matches_the_pmf(n, p):
    draws = np.asarray(_BINOMIAL(jax.random.key(n), jnp.full((40000,), n, jnp.int32), jnp.float32(p)))
    assert draws.min() >= 0 and draws.max() <= n
    k = np.arange(n + 1)
    expected = 40000 * stats.binom.pmf(k, n, p)
    observed = np.bincount(draws, minlength=n + 1)
    keep = expected >= 5  # pool the tails so every chi-square cell has >= 5 expected counts
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    obs, exp = obs[exp > 0], exp[exp > 0]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4
    assert abs(draws.mean() - n * p) < 4 * np.sqrt(n * p * (1 - p) / draws.size) + 1e-12


def test_binomial_edge_cases():
    n = jnp.array([0, 5, 5, 1000], jnp.int32)
    assert np.array_equal(_BINOMIAL(jax.random.key(0), n, jnp.array([0.5, 0.0, 1.0, 0.0], jnp.float32)), [0, 0, 5, 0])


def _count_events(n, m, n_keys, chunk):
    """Events per site over `n_keys` keys, and the kind-picking uniforms v/m of the events."""
    n, m = jnp.asarray(n, jnp.int32), jnp.asarray(m, jnp.float32)
    M = n.shape[0]

    def one(key):
        def fn(carry, site, event, v, u):
            counts, hist = carry
            counts = counts.at[site].add(event.astype(jnp.int32), mode="drop")
            bins = jnp.clip((10 * v / m[site]).astype(jnp.int32), 0, 9)
            hist = hist.at[jnp.where(event, bins, 20)].add(1, mode="drop")
            u_bins = jnp.clip((10 * u).astype(jnp.int32), 0, 9)
            return counts, hist.at[jnp.where(event, 10 + u_bins, 20)].add(1, mode="drop")

        return for_each_event(key, n, m, fn, (jnp.zeros(M, jnp.int32), jnp.zeros(20, jnp.int32)), chunk)

    counts, hist = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(M + chunk), n_keys))
    return np.asarray(counts), np.asarray(hist).sum(0)


@pytest.mark.parametrize("chunk", [8, 256])
def test_event_sampler_gives_binomial_counts_per_site(chunk):
    """`for_each_event`: the events of site j are Bin(n_j, m_j) (mean and variance within 4 SE,
    a chi-square test of the pmf at two sites), whatever the chunk (8: many loop passes, hits
    of one cell split across chunks); v/m and u are uniform for the events."""
    n = np.array([0, 1, 5, 100, 100, 3, 40, 1000, 7, 0, 2, 60, 250, 1, 9, 30], np.int32)
    m = np.array([0.3, 0.5, 1.0, 1e-3, 0.0, 0.9, 0.03, 2e-4, 0.6, 0.0, 1.0, 0.25, 0.01, 0.05, 0.12, 0.45])
    n_keys = 4000
    counts, hist = _count_events(n, m, n_keys, chunk)
    assert counts.min() >= 0 and np.all(counts <= n)
    mean, var = n * m, n * m * (1 - m)
    se_mean = np.sqrt(var / n_keys)
    np.testing.assert_array_less(np.abs(counts.mean(0) - mean), 4 * se_mean + 1e-12)
    moment4 = n * m * (1 - m) * (1 + 3 * (n - 2) * m * (1 - m))  # central 4th moment of Bin(n, m)
    se_var = np.sqrt((moment4 - var**2 * (n_keys - 3) / (n_keys - 1)) / n_keys)  # SE of the sample variance
    np.testing.assert_array_less(np.abs(counts.var(0, ddof=1) - var), 4 * se_var + 1e-12)
    for j in (6, 11):  # Bin(40, 0.03), Bin(60, 0.25)
        k = np.arange(n[j] + 1)
        expected = n_keys * stats.binom.pmf(k, n[j], m[j])
        observed = np.bincount(counts[:, j], minlength=n[j] + 1)
        keep = expected >= 5
        obs = np.append(observed[keep], observed[~keep].sum())
        exp = np.append(expected[keep], expected[~keep].sum())
        assert stats.chisquare(obs[exp > 0], exp[exp > 0] * obs.sum() / exp[exp > 0].sum()).pvalue > 1e-4
    for h in (hist[:10], hist[10:]):  # v / m[site] and u over all events
        assert stats.chisquare(h).pvalue > 1e-4


@pytest.mark.parametrize("m", [3.2e-5, 3.3e-5])
def test_event_sampler_with_more_ticks_than_float32_counts_exactly(m):
    """The inflow's case: 31,392 sites of one cell each, about one event per draw, so the ticks
    (1.35e8 and 1.39e8 here, by the rule of the module docstring) exceed 2^24. The mean count over
    20,000 draws is S m within 4 SE (a float32 copy of the last tick once made a spurious hit: +34%
    at m = 3.3e-5)."""
    S, keys = 31392, 20000
    ticks = S * np.ceil((m + m * m) * 2.0 ** np.floor(np.log2(2**28 / (S * (m + m * m)))))
    assert ticks > 2**24
    n = jnp.ones(S, jnp.int32)
    count = jax.jit(lambda k: for_each_event(k, n, jnp.float32(m), lambda c, s, e, v, u: c + jnp.sum(e, dtype=jnp.int32),
                                             jnp.int32(0), 32))
    draws = np.asarray(jax.jit(jax.vmap(count))(jax.random.split(jax.random.key(3), keys)))
    assert abs(draws.mean() - S * m) < 4 * np.sqrt(S * m * (1 - m) / keys)


def test_event_sampler_refuses_unpadded_lengths():
    with pytest.raises(ValueError, match="multiple of 16"):
        for_each_event(jax.random.key(0), jnp.ones(15, jnp.int32), jnp.float32(0.1), lambda c, *a: c, 0, 8)


def test_event_and_dense_samplers_agree():
    """The two samplers draw the same laws: 12 replicates each of the small scenario with
    strong killing and inflow (every rule active), totals of U, I, Z at 1-4 h within 4 SE."""
    params = REFERENCE_CODE.replace(zeta=5.0, S0=200.0, beta=2.0)
    runs = [simulate_replicates(params, jax.random.key(9), 4.0, 12, _small(sampler=s)).totals[:, 1:, :3]
            for s in ("events", "dense")]
    a, b = (r.astype(float) for r in runs)
    se = np.sqrt(a.var(0, ddof=1) / 12 + b.var(0, ddof=1) / 12)
    np.testing.assert_array_less(np.abs(a.mean(0) - b.mean(0)), 4 * se)
    assert np.all(np.abs(a.mean(0)[-1] - a.mean(0)[0]) > 4 * se[-1])  # the totals move: the test has power


def test_initial_lattice_matches_the_code():
    s = initial_state(REFERENCE_CODE)
    assert int(s.U.sum()) == 190350 and int((s.U > 0).sum()) == 2115  # README: floating-point -L:delta:L
    assert int(s.I.sum()) == 3070 and int((s.I > 0).sum()) == 307
    assert int((LatticeConfig().radius() < 10).sum()) == 31397


def test_logistic_mean_follows_the_ode():
    """No movement, no immune cells: 1681 independent sites, each a logistic birth process from
    1000 cells (K delta^2 = 1e4); their mean follows u' = p u (1 - u/K) within 4 standard errors
    (the demographic correction -Var/K and the tau = 0.02 h Euler map are each below 2 SE here)."""
    config = LatticeConfig(L=2.0, save_every=2.5, profile_every=2.5)
    params = QUIET.replace(D=0.0, D_z=0.0, p=0.2, K=1e6)
    u0, K_site = 1000, 1e4
    run = simulate_lattice(params, jax.random.key(3), 20.0, config, state=_state(np.full((41, 41), u0), config))
    n_sites = 41 * 41
    mean = np.asarray(run.totals[:, 0], float) / n_sites
    sd = np.asarray(run.midrow[:, 0], float).std(axis=-1, ddof=1)  # 41 sites of the middle row per time
    se = sd / np.sqrt(n_sites)
    t = np.asarray(run.t, float) + config.tau  # the state labelled t is after t/tau + 1 steps
    ode = K_site / (1 + (K_site / u0 - 1) * np.exp(-0.2 * t))
    np.testing.assert_array_less(np.abs(mean - ode)[1:], 4 * se[1:])
    assert np.all(se[1:] < 0.002 * ode[1:]) and mean[-1] > 8 * u0  # the band is narrow: the test has power


def test_random_walk_msd_is_4Dt():
    """A pure random walk: E|x - x0|^2 = n theta delta^2 = 4 D t after n steps, D = theta delta^2/(4 tau).
    10,000 walkers start on a 5 x 5 block; the boundary (3 mm) is more than 4 RMS displacements away."""
    config = LatticeConfig(L=3.0, R_u=0.0, R_i=0.0, profile_every=2.0)
    theta = 0.4
    D = theta * config.delta**2 / (4 * config.tau)
    params = QUIET.replace(D=D, p=0.0)
    U = np.zeros((61, 61), int)
    U[28:33, 28:33] = 400
    xx, yy = np.meshgrid(config.x(), config.x())
    r2 = xx**2 + yy**2
    msd0 = (U * r2).sum() / U.sum()
    run = simulate_lattice(params, jax.random.key(11), 2.0, config, state=_state(U, config))
    final = np.asarray(run.final.U, float)
    assert final.sum() == U.sum()  # no births, deaths or losses through the boundary
    msd = (final * r2).sum() / final.sum()
    n = 2.0 / config.tau + 1
    expected = 4 * D * n * config.tau
    se = np.sqrt((final * (r2 - msd) ** 2).sum() / final.sum() / final.sum())
    assert abs(msd - msd0 - expected) < 4 * se, (msd - msd0, expected, se)
    assert se < 0.03 * expected


def test_planar_front_moves_at_fisher_speed():
    """Growth without infection or immune cells from a planar step: the front (mass / (K delta^2 rows))
    moves at 2 sqrt(D p) within a few percent, and below it. The fit removes Bramson's
    -3/(2 lambda) ln t lag of a pulled front.

    The lattice's own linear spreading speed, min over lambda of
    ln[(1 + p tau)(1 - theta/2 + theta/2 cosh(lambda delta))]/(lambda tau), is 2 sqrt(D p) to 0.03%
    here; a front of finitely many cells is slower than that mean-field speed (Brunet and Derrida:
    by about pi^2/(2 ln^2 N), 6.5% for the N = 6100 cells of a saturated column). Measured, both
    samplers: 0.94-0.96 of 2 sqrt(D p) over 13 keys (events 0.941-0.962, dense 0.950-0.957), so the
    band is (0.90, 0.99): a wrong D or p by 20% (speed off by 10%) or a mean-field front fails."""
    config = LatticeConfig(L=3.0, R_u=0.0, R_i=0.0, save_every=0.5, profile_every=12.0)
    p, D = 1.0, 0.04  # front width sqrt(D/p) = 2 sites; theta = 0.32, p tau = 0.02
    params = QUIET.replace(D=D, p=p)
    U = np.zeros((61, 61), int)
    U[:, :6] = 100
    run = simulate_replicates(params, jax.random.key(5), 12.0, 2, config, state=_state(U, config))
    x_front = run.totals[..., 0].mean(0) / (100 * 61) * config.delta
    t = run.t + config.tau
    sel = (t >= 4) & (t <= 12)
    lag = 1.5 * np.sqrt(D / p) * np.log(t[sel])
    speed = np.polyfit(t[sel], x_front[sel] + lag, 1)[0]
    theta, tau, delta = 4 * D * config.tau / config.delta**2, config.tau, config.delta
    lams = np.linspace(1.0, 20.0, 20001)
    lattice_speed = np.min(np.log((1 + p * tau) * (1 - theta / 2 + theta / 2 * np.cosh(lams * delta))) / (lams * tau))
    assert lattice_speed == pytest.approx(2 * np.sqrt(D * p), rel=5e-4)
    assert 0.90 < speed / (2 * np.sqrt(D * p)) < 0.99


def _reference_totals(shared, seed):
    with open(shared / f"reference/ov/abm/abm_weak_central_seed{seed}_totals.csv") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[k]) for k in ("t_label_h", "U_total", "I_total", "Z_total")] for r in rows])


def test_replicates_agree_with_the_reference_runs_0_to_40h(shared):
    """Five replicates of the 201 x 201 weak/central scenario against the three Octave seeds:
    the difference of means at 5, 10, ..., 40 h within 4 pooled standard errors (U, I, Z);
    0-400 h is in benchmarks/bench_ov_abm.py."""
    m = 5
    run = simulate_replicates(REFERENCE_CODE, jax.random.key(0), 40.0, m, LatticeConfig(profile_every=40.0))
    assert np.all(run.p_max <= 1)
    ref = np.stack([_reference_totals(shared, s)[:41, 1:] for s in (1, 2, 3)])
    ours = run.totals[:, :, :3].astype(float)
    for j in range(5, 41, 5):
        a, b = ours[:, j], ref[:, j]
        resid = np.concatenate([a - a.mean(0), b - b.mean(0)])
        sd = np.sqrt((resid**2).sum(0) / (len(resid) - 2))
        se = sd * np.sqrt(1 / m + 1 / 3)
        np.testing.assert_array_less(np.abs(a.mean(0) - b.mean(0)), 4 * se)
    assert ours[:, 40, 2].mean() > 10 * ours[:, 5, 2].mean()  # immune cells arrive: Z grows tenfold and more


def _small(**kw):
    return LatticeConfig(L=1.5, R_u=1.0, R_i=0.5, save_every=1.0, profile_every=2.0, **kw)


def test_counts_stay_nonnegative_and_probabilities_valid():
    config = _small()
    params = REFERENCE_CODE.replace(zeta=5.0, S0=50.0)
    run = simulate_lattice(params, jax.random.key(2), 4.0, config)
    for a in (run.final.U, run.final.I, run.final.Z):
        assert int(a.min()) >= 0
    assert 0 < float(run.p_max) <= 1
    assert float(run.final.phi.min()) >= 0 and float(run.final.phi.max()) <= float(params.phi_star)


def test_same_key_same_result_and_chunking_invariance():
    config = _small()
    a = simulate_replicates(REFERENCE_CODE, jax.random.key(7), 2.0, 3, config)
    b = simulate_replicates(REFERENCE_CODE, jax.random.key(7), 2.0, 3, config, chunk_size=2, batch_size=1)
    b2 = simulate_replicates(REFERENCE_CODE, jax.random.key(7), 2.0, 3, config, batch_size=2)
    np.testing.assert_array_equal(a.totals, b2.totals)
    c = simulate_replicates(REFERENCE_CODE, jax.random.key(8), 2.0, 3, config)
    np.testing.assert_array_equal(a.totals, b.totals)
    np.testing.assert_array_equal(a.radial, b.radial)
    assert not np.array_equal(a.totals, c.totals)


def test_parameter_and_protocol_sweeps_do_not_retrace_and_vmap():
    config = _small()
    state = initial_state(REFERENCE_CODE, config)
    f = eqx.filter_jit(eqx.debug.assert_max_traces(
        lambda p, k, events: _scan(p, k, state, config, events, 2).totals, max_traces=1))
    plain = LatticeProtocol().events(config)
    f(REFERENCE_CODE, jax.random.key(0), plain)
    f(REFERENCE_CODE.replace(zeta=5.0, beta=0.2), jax.random.key(0), plain)  # a new value: no new trace
    treated = LatticeProtocol(enhance_time=1.0, enhance_factor=3.0, reinject_time=1.0, reinject_fraction=0.5)
    f(REFERENCE_CODE, jax.random.key(0), treated.events(config))  # nor a new protocol
    zetas = jnp.array([0.0, 50.0])
    sweep = jax.vmap(lambda z: f(REFERENCE_CODE.replace(zeta=z, S0=500.0), jax.random.key(0), plain))(zetas)
    assert sweep.shape[0] == 2 and float(sweep[1, -1, 0]) < float(sweep[0, -1, 0])


def test_delayed_enhancement_and_reinjection():
    config = _small()
    base = simulate_lattice(REFERENCE_CODE.replace(zeta=0.5, S0=200.0), jax.random.key(4), 4.0, config)
    enh = simulate_lattice(REFERENCE_CODE.replace(zeta=0.5, S0=200.0), jax.random.key(4), 4.0, config,
                           LatticeProtocol(enhance_time=2.0, enhance_factor=10.0))
    np.testing.assert_array_equal(base.totals[:3], enh.totals[:3])  # identical up to the step labelled 2 h
    assert float(enh.totals[-1, 0]) < float(base.totals[-1, 0])
    reinj = simulate_lattice(REFERENCE_CODE, jax.random.key(4), 4.0, config,
                             LatticeProtocol(reinject_time=2.0, reinject_fraction=0.3))
    plain = simulate_lattice(REFERENCE_CODE, jax.random.key(4), 4.0, config)
    np.testing.assert_array_equal(plain.totals[:3], reinj.totals[:3])
    jump = float(plain.totals[2, 0]) - float(reinj.totals[3, 0])  # about 30% of U moves to I at the jump
    assert 0.25 * float(plain.totals[2, 0]) < jump < 0.35 * float(plain.totals[2, 0])
    assert float(reinj.totals[3, 1]) > float(plain.totals[3, 1]) + jump * 0.8


def test_tcp_icp_and_wilson_interval():
    ci = wilson_interval(np.array([0, 5, 10]), 10)
    assert ci[0, 0] == 0 and ci[2, 1] == pytest.approx(1) and 0.2 < ci[1, 0] < 0.5 < ci[1, 1] < 0.8
    config = _small()
    run = simulate_replicates(REFERENCE_CODE.replace(zeta=0.0, q=20.0, beta=0.0), jax.random.key(1), 2.0, 3, config)
    np.testing.assert_array_equal(run.icp[1:], 1.0)  # tau*q = 0.4: the infected die out within an hour
    assert np.all(run.tcp == 0)
    assert np.all(run.icp_ci[1:, 0] > 0.35)


def test_invalid_parameters_are_refused_with_the_limit():
    with pytest.raises(ValueError, match="theta = 4 D tau / delta.*largest valid tau is 13.2979"):
        simulate_lattice(REFERENCE_CODE, jax.random.key(0), 1.0,
                         LatticeConfig(tau=20.0, save_every=20.0, profile_every=20.0))
    with pytest.raises(ValueError, match="tau \\* q_z.*largest valid tau"):
        simulate_replicates(REFERENCE_CODE.replace(q_z=100.0), jax.random.key(0), 1.0, 1, LatticeConfig())
    with pytest.raises(ValueError, match="theta_z \\+ nu = 3.89.*must be < 1"):
        simulate_lattice(REFERENCE_CODE, jax.random.key(0), 1.0, LatticeConfig(strict_chemotaxis=True))
    with pytest.raises(ValueError, match="theta_z \\+ nu = 1.35"):
        LatticeConfig(strict_chemotaxis=True, chemotaxis="paper").check(REFERENCE_CODE)
    LatticeConfig(strict_chemotaxis=True).check(REFERENCE_CODE.replace(chi=0.01))
    with pytest.raises(ValueError, match="save_every / tau must be a whole number"):
        LatticeConfig(save_every=0.03)
    with pytest.raises(ValueError, match="chemotaxis must be"):
        LatticeConfig(chemotaxis="other")
    with pytest.raises(ValueError, match="sampler must be 'events' or 'dense'"):
        LatticeConfig(sampler="gpu")
    with pytest.raises(ValueError, match="reinject_fraction"):
        LatticeProtocol(reinject_fraction=1.5)
    with pytest.raises(ValueError, match="event time / tau"):
        simulate_lattice(REFERENCE_CODE, jax.random.key(0), 0.5, dataclasses.replace(_small(), save_every=0.5),
                         LatticeProtocol(enhance_time=0.01))
    with pytest.raises(ValueError, match="t_end must be >= 0"):
        simulate_lattice(REFERENCE_CODE, jax.random.key(0), -1.0, _small())
    with pytest.raises(ValueError, match="n_replicates"):
        simulate_replicates(REFERENCE_CODE, jax.random.key(0), 1.0, 0)


def test_runtime_probability_status_flags_a_cap():
    """beta so large that tau*beta*i/K > 1: the code caps it at 1; the run reports p_max > 1."""
    run = simulate_lattice(REFERENCE_CODE.replace(beta=1e3), jax.random.key(0), 4.0, _small())
    assert float(run.p_max) > 1


def test_cli_run_writes_replicate_means_tcp_icp_and_per_replicate_files(tmp_path):
    """`tumorjax run ov-abm-... --replicates 2 --seed S --t-end` on the full 201 x 201 lattice (2 h, 100 steps)."""
    from tumorjax.cli import main

    out = tmp_path / "abm"
    args = ["run", "ov-abm-strong-central", "--replicates", "2", "--seed", "3", "--t-end", "2",
            "--set", "zeta=4", "--no-figure", "--out", str(out)]
    assert main(args) == 0
    with open(out / "timeseries.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["t", "U_total", "I_total", "Z_total"]
    assert {"TCP", "TCP_lo", "TCP_hi", "ICP", "ICP_lo", "ICP_hi", "U_sem"} <= set(rows[0])
    assert [float(r["t"]) for r in rows] == [0.0, 1.0, 2.0]  # saved every hour
    with open(out / "replicates.csv") as f:
        reps = list(csv.DictReader(f))
    assert {r["replicate"] for r in reps} == {"0", "1"}
    # the means are the means of the per-replicate rows
    last = [r for r in reps if float(r["t"]) == float(rows[-1]["t"])]
    assert np.isclose(float(rows[-1]["U_total"]), np.mean([float(r["U_total"]) for r in last]))
    # tumour and infection both persist at 2 h in both replicates: TCP = ICP = 0 (4.2), (4.4)
    assert float(rows[-1]["TCP"]) == 0.0 and float(rows[-1]["ICP"]) == 0.0
    assert float(rows[-1]["TCP_hi"]) > 0.0  # the Wilson interval of 0/2 is not degenerate
    assert (out / "radial.csv").exists() and (out / "summary.json").exists()
    # the same seed gives the same file
    out2 = tmp_path / "abm2"
    assert main(args[:-1] + [str(out2)]) == 0
    assert (out / "timeseries.csv").read_text() == (out2 / "timeseries.csv").read_text()


def test_cli_rejects_bad_lattice_input(tmp_path, capsys):
    from tumorjax.cli import main

    assert main(["run", "ov-abm-weak-central", "--set", "nonsense=1", "--out", str(tmp_path)]) == 2
    assert "nonsense" in capsys.readouterr().err
    assert main(["run", "ov-abm-weak-central", "--set", "q=-1", "--out", str(tmp_path)]) == 2


def test_bad_state_and_lattice_settings_are_refused_before_tracing():
    config = _small()  # 31 x 31 sites
    good = initial_state(REFERENCE_CODE, config)
    bad = {
        r"state.U must have shape \(31, 31\).*got \(30, 31\)": dataclasses.replace(good, U=good.U[1:]),
        r"state.I must hold counts >= 0, got min -1": dataclasses.replace(good, I=good.I.at[3, 3].set(-1)),
        r"state.Z must hold integer counts": dataclasses.replace(good, Z=good.Z.astype(float)),
        r"state.phi must lie in \[0, phi\* = 2.92": dataclasses.replace(good, phi=good.phi + 3.0),
    }
    for message, state in bad.items():
        with pytest.raises(ValueError, match=message):
            simulate_lattice(REFERENCE_CODE, jax.random.key(0), 1.0, config, state=state)
        with pytest.raises(ValueError, match=message):
            simulate_replicates(REFERENCE_CODE, jax.random.key(0), 1.0, 2, config, state=state)
    with pytest.raises(ValueError, match=r"L / delta must be a whole number.*L = 1.55"):
        LatticeConfig(L=1.55)
    assert LatticeConfig(L=0.3).n_sites == 7  # 0.3 / 0.1 = 2.9999999999999996: a whole number to round-off
    with jax.enable_x64(False), pytest.raises(ValueError, match="float64 requested but JAX x64 is off"):
        simulate_lattice(REFERENCE_CODE, jax.random.key(0), 1.0, _small(dtype="float64"))
