"""Seed 002 spatial models: finite-volume PDEs and the discrete-velocity kinetic solver (float64)."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
import tumorjax.kinetic as K
from tumorjax.numerics import FVGrid

G1 = FVGrid((40,), 1.0)
G2 = FVGrid((12, 10), (1.0, 0.8))


def _state(model, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 1.0, (len(model.state_names), *model.grid.shape))


CASES = [("linear", "conservative", K.ConservativeParams()),
         ("linear", "proliferative", K.ProliferativeParams()),
         ("cross", "conservative", K.ConservativeParams()), ("self", "proliferative", K.SelfParams())]


PARAMS = [(r, c, p, G1) for r, c, p in CASES] + [(r, c, p, G2) for r, c, p in CASES if r != "linear" or
                                                  c == "conservative"]


@pytest.mark.parametrize("regime,case,p,grid", PARAMS, ids=[f"{r}-{c}-{g.ndim}d" for r, c, _, g in PARAMS])
def test_mass_conserved_without_reactions_and_nonnegative_with(regime, case, p, grid):
    model = K.MacroscopicModel(regime=regime, case=case, grid=grid, reactions=False)
    n0 = _state(model)
    for scheme in ("explicit", "implicit"):
        sol = K.solve_macroscopic(model, p, n0, 0.5, scheme=scheme, n_save=3)
        masses = np.asarray(sol.masses())
        np.testing.assert_allclose(masses, masses[:1].repeat(3, 0), rtol=1e-13, atol=0)
    # with reactions, the implicit scheme at ten times the explicit limit stays non-negative
    react = K.solve_macroscopic(dataclasses.replace(model, reactions=True), p, n0, 0.5, scheme="implicit",
                                n_save=3)
    assert np.all(np.asarray(react.ys) >= 0) and np.all(np.isfinite(np.asarray(react.ys)))


def test_conservative_reactions_keep_total_immune_mass():
    model = K.MacroscopicModel(regime="linear", case="conservative", grid=G1)
    sol = K.solve_macroscopic(model, K.ConservativeParams(), _state(model), 1.0, n_save=5)
    m = np.asarray(sol.masses())
    np.testing.assert_allclose(m[:, 1] + m[:, 2], m[0, 1] + m[0, 2], rtol=1e-13)


@pytest.mark.parametrize("scheme", ["explicit", "implicit"])
def test_diffusion_converges_to_cosine_mode(scheme):
    """n = 1 + cos(pi x) exp(-D pi^2 t) solves n_t = D n_xx with zero flux; error O(h^2) (dt ~ h^2)."""
    p = K.ConservativeParams(D1=0.05, D2=0.05, D3=0.05)
    errors = []
    for nx in (16, 32):
        grid = FVGrid((nx,), 1.0)
        model = K.MacroscopicModel(regime="linear", case="conservative", grid=grid, reactions=False)
        x = grid.centres()
        exact = lambda t: 1 + np.cos(np.pi * x) * np.exp(-0.05 * np.pi**2 * t)  # noqa: E731
        # cell averages of the initial profile
        h = grid.h[0]
        avg = 1 + (np.sin(np.pi * (x + h / 2)) - np.sin(np.pi * (x - h / 2))) / (np.pi * h)
        n0 = np.stack([avg, avg, avg])
        dt = 0.4 * grid.h[0] ** 2 / (2 * 0.05)
        sol = K.solve_macroscopic(model, p, n0, 1.0, dt=dt, scheme=scheme, n_save=2)
        errors.append(np.max(np.abs(np.asarray(sol.ys[-1, 0]) - exact(1.0))))
    order = np.log2(errors[0] / errors[1])
    assert 1.8 < order < 2.3, (errors, order)


def test_myopic_steady_state_is_inverse_motility():
    """Laplacian(D m(x) n) = 0 with zero flux has n ~ 1/m(x), not a constant (Fick would give one)."""
    grid = FVGrid((30,), 1.0)
    m = 1.0 + 0.5 * np.sin(2 * np.pi * grid.centres())
    model = K.MacroscopicModel(regime="linear", case="conservative", grid=grid, motility=m, reactions=False)
    n0 = np.ones((3, 30))
    sol = K.solve_macroscopic(model, K.ConservativeParams(D1=0.1, D2=0.1, D3=0.1), n0, 50.0, dt=0.5,
                              scheme="implicit", n_save=2)
    n = np.asarray(sol.ys[-1, 0])
    expected = (1 / m) * 30 / np.sum(1 / m)
    np.testing.assert_allclose(n, expected, rtol=1e-9)


def test_homogeneous_pde_follows_the_reduction():
    """Uniform data: the cross PDE's n1 is the cross reduction's Y1 (first order in dt)."""
    p = K.ConservativeParams()
    model = K.MacroscopicModel(regime="cross", grid=FVGrid((4,), 1.0))
    ode = tj.simulate(K.CrossConservative(), p, {"Y1": 0.4}, (0.0, 1.0), n_save=2, rtol=1e-10, atol=1e-12)
    errs = []
    for dt in (2e-3, 1e-3):
        n0 = np.stack([np.full(4, 0.4), np.full(4, float(p.I))])
        sol = K.solve_macroscopic(model, p, n0, 1.0, dt=dt, n_save=2)
        errs.append(abs(float(sol.ys[-1, 0, 0]) - float(ode["Y1"][-1])))
    assert errs[1] < 1e-2 * float(ode["Y1"][-1]) and 1.8 < errs[0] / errs[1] < 2.2


def test_explicit_step_above_limit_is_refused():
    model = K.MacroscopicModel(regime="linear", case="conservative", grid=G1)
    p = K.ConservativeParams()
    limit = float(model.stable_dt(p))
    assert limit == pytest.approx(G1.h[0] ** 2 / (2 * 1e-2))
    with pytest.raises(ValueError, match=r"largest stable step is 0\.03125"):
        K.solve_macroscopic(model, p, _state(model), 1.0, dt=1.5 * limit)
    K.solve_macroscopic(model, p, _state(model), 1.0, dt=1.5 * limit, scheme="implicit", n_save=2)  # fine


def test_bad_input_is_refused():
    for bad in (dict(D1=0.0), dict(D2=-1e-3), dict(D3=0.0)):
        with pytest.raises(ValueError, match="diffusion coefficient"):
            K.ConservativeParams(**bad)
    for bad in (dict(lam1=0.0), dict(lam3=-1.0)):
        with pytest.raises(ValueError, match="turning frequency"):
            K.KineticParams(**bad)
    with pytest.raises(ValueError, match="epsilon"):
        K.KineticParams(epsilon=0.0)
    with pytest.raises(ValueError, match="motility must be positive"):
        K.MacroscopicModel(regime="linear", case="conservative", grid=G1, motility=np.zeros(40))
    with pytest.raises(ValueError, match="cross-diffusion is the conservative"):
        K.MacroscopicModel(regime="cross", case="proliferative", grid=G1)
    model = K.MacroscopicModel(regime="self", grid=G1)
    with pytest.raises(ValueError, match="takes SelfParams"):
        K.solve_macroscopic(model, K.ProliferativeParams(), _state(model), 1.0)
    with pytest.raises(ValueError, match="shape"):
        K.solve_macroscopic(model, K.SelfParams(), np.ones((3, 40)), 1.0)
    with pytest.raises(ValueError, match="unknown scheme"):
        K.solve_macroscopic(model, K.SelfParams(), _state(model), 1.0, scheme="crank")


def test_vmap_grad_and_one_compile():
    model = K.MacroscopicModel(regime="cross", grid=FVGrid((20,), 1.0))
    n0 = jnp.asarray(_state(model))

    def tumour_mass(A):
        sol = K.solve_macroscopic(model, K.ConservativeParams(A=A), n0, 0.5, dt=0.01, n_save=2)
        return sol.masses()[-1, 0]

    jitted = eqx.filter_jit(eqx.debug.assert_max_traces(tumour_mass, max_traces=1))
    first, second = jitted(jnp.asarray(2.0)), jitted(jnp.asarray(2.2))  # a new value does not retrace
    masses = jax.vmap(tumour_mass)(jnp.array([1.5, 2.0, 2.2]))
    assert masses[0] > masses[1] > masses[2]  # more killing, less tumour
    np.testing.assert_allclose(masses[1:], [first, second], rtol=1e-13)
    g = jax.grad(tumour_mass)(2.0)
    fd = (tumour_mass(2.0 + 1e-6) - tumour_mass(2.0 - 1e-6)) / 2e-6
    assert float(g) == pytest.approx(float(fd), rel=1e-6)


def test_kinetic_converges_to_linear_diffusion_at_least_linearly_in_epsilon():
    model = K.MacroscopicModel(regime="linear", case="conservative", grid=FVGrid((40,), 1.0))
    x = model.grid.centres()
    bump = lambda c, a: a * np.exp(-((x - c) / 0.1) ** 2)  # noqa: E731
    n0 = np.stack([bump(0.3, 0.5), np.ones_like(x), bump(0.6, 0.2)])
    eps, errors, orders = K.convergence_table(model, K.ConservativeParams(), n0, 0.5, [0.2, 0.1, 0.05, 0.025])
    assert np.all(np.diff(errors) < 0) and np.all(orders >= 1.0)
    assert np.all(np.abs(orders - 2) < 0.1)  # the telegraph correction is O(eps^2)
    assert errors[-1] < 1e-4


def test_kinetic_is_asymptotic_preserving_and_conservative():
    p = K.ConservativeParams()
    base = K.MacroscopicModel(regime="linear", case="conservative", grid=FVGrid((30,), 1.0))
    n0 = _state(base, seed=3)
    dt = 0.9 * float(base.stable_dt(p))
    macro = K.solve_macroscopic(base, p, n0, 0.3, dt=dt, n_save=2)
    kin, _ = K.solve_kinetic(base, p, K.KineticParams(epsilon=1e-7), n0, 0.3, dt=dt, n_save=2)
    np.testing.assert_allclose(np.asarray(kin.ys[-1]), np.asarray(macro.ys[-1]), rtol=1e-11, atol=1e-13)
    off = dataclasses.replace(base, reactions=False)
    kin, j = K.solve_kinetic(off, p, K.KineticParams(epsilon=0.5, lam2=0.3), n0, 1.0, n_save=4)
    m = np.asarray(kin.masses())
    np.testing.assert_allclose(m, m[:1].repeat(4, 0), rtol=1e-13)
    assert j.shape == (3, 29)


@pytest.mark.parametrize("eps", [0.3, 0.05])
def test_kinetic_step_limit(eps):
    """The limit is the smallest per-population bound h^2 (lam + sqrt(lam^2 + 16 c^2 eps^2/h^2))/(4 c^2),
    c^2 = lam D; 0.98 of it stays bounded over 3000 steps, 1.05 of it blows up the limiting population."""
    from tumorjax.kinetic._dvm import kinetic_step

    p = K.ConservativeParams()
    model = K.MacroscopicModel(regime="linear", case="conservative", grid=FVGrid((30,), 1.0))
    k = K.KineticParams(epsilon=eps, lam1=2.0)
    limit = float(K.kinetic_stable_dt(model, p, k))
    h = 1 / 30
    expect = [h**2 * (lam + np.sqrt(lam**2 + 16 * lam * D * eps**2 / h**2)) / (4 * lam * D)
              for lam, D in [(2.0, 2e-3), (1.0, 1e-2), (1.0, 1e-3)]]
    assert limit == pytest.approx(min(expect), rel=1e-13)
    free = dataclasses.replace(model, reactions=False)
    rho0 = jnp.asarray(_state(model, seed=4))
    run = jax.jit(lambda dt: jax.lax.fori_loop(0, 3000, lambda _, c: kinetic_step(free, p, k, *c, dt),
                                               (rho0, jnp.zeros((3, 29))))[0])
    stable, unstable = np.asarray(run(0.98 * limit)), np.asarray(run(1.05 * limit))
    assert np.abs(stable).max() <= float(rho0.max())  # diffusion: a maximum principle
    worst = int(np.argmin(expect))
    assert not np.abs(unstable[worst]).max() < 1e3  # NaN or huge
    assert np.abs(np.delete(unstable, worst, 0)).max() <= float(rho0.max())
    with pytest.raises(ValueError, match="largest stable step"):
        K.solve_kinetic(model, p, k, _state(model), 1.0, dt=1.01 * limit)
    with pytest.raises(ValueError, match="1D grid"):
        K.solve_kinetic(K.MacroscopicModel(regime="cross", grid=G1), p, k, np.ones((2, 40)), 1.0)


@pytest.mark.parametrize("name", ["kinetic-cc-linear-pde", "kinetic-pc-self-pde", "kinetic-cc-dvm",
                                  "kinetic-cc-linear-pde-2d"])
def test_scenarios_write_masses_and_profiles(name, tmp_path):
    import json

    scenario = tj.get_scenario(name)
    result = scenario.run(t_end=0.2)
    paths = result.write(tmp_path)
    header = paths["csv"].read_text().splitlines()[0].split(",")
    assert header[:4] == ["t", "mass_n1", "mass_n2", "mass_n3"]
    summary = json.loads(paths["json"].read_text())
    assert summary["status"] == "success" and summary["metrics"]["min_density"] >= 0
    assert paths["png"].stat().st_size > 10_000
    if scenario.model.case == "conservative":
        total = result.columns["mass_n2"] + result.columns["mass_n3"]
        np.testing.assert_allclose(total, total[0], rtol=1e-12)
