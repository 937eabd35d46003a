"""Continuation of equilibria: normal forms exact to 1e-8, seed 000 fold, seed 004 Hopf and branch points.

Float64 throughout; located points are compared with closed forms to 1e-8 (absolute or relative, as stated).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.analysis import (
    FoldNormalForm, HopfNormalForm, NormalFormParams, TranscriticalNormalForm, bialternate, continuation,
    continue_fixed, find_equilibria, jacobian, locate_bifurcation,
)
from tumorjax.analysis._continuation import _step_impl
from tumorjax.oncolytic import OncolyticODE, OncolyticODEParams, hopf_test, ode_equilibria, ode_hopf_point

NF = NormalFormParams(a=0.3, omega=2.0)


# -- normal forms: detected points exact to 1e-8 ----------------------------------------------


def test_fold_normal_form():
    b = continuation(FoldNormalForm(), NF, "mu", [1.0], (1.0, -1.0))
    (fold,) = b.points
    assert fold.kind == "fold" and fold.located
    assert abs(fold.param - (-0.3)) < 1e-8 and abs(fold.state[0]) < 1e-8
    # upper branch x = sqrt(mu + a) stable, lower unstable; every point on the parabola
    np.testing.assert_allclose(b.states[:, 0] ** 2, b.params + 0.3, atol=1e-10)
    np.testing.assert_array_equal(b.stable, b.states[:, 0] > 0)
    assert "turned back" in b.message and b.params[-1] == pytest.approx(1.0)


def test_transcritical_normal_form():
    b = continuation(TranscriticalNormalForm(), NF, "mu", [0.0], (-1.0, 1.0))
    (bp,) = b.points
    assert bp.kind == "branch_point" and bp.located
    assert abs(bp.param - 0.3) < 1e-8 and abs(bp.state[0]) < 1e-8
    np.testing.assert_allclose(b.states[:, 0], 0.0, atol=1e-12)
    np.testing.assert_array_equal(b.stable, b.params < 0.3)  # exchange of stability


def test_hopf_normal_form():
    b = continuation(HopfNormalForm(), NF, "mu", [0.1, -0.1], (-1.0, 1.0))
    (h,) = b.points
    assert h.kind == "hopf" and h.located
    assert abs(h.param - 0.3) < 1e-8 and np.max(np.abs(h.state)) < 1e-8
    assert abs(h.omega - 2.0) < 1e-8
    np.testing.assert_array_equal(b.stable, b.params < 0.3)
    np.testing.assert_allclose(b.eigenvalues.real, np.repeat((b.params - 0.3)[:, None], 2, 1), atol=1e-12)


def test_bialternate_product_eigenvalues():
    A = np.random.default_rng(0).normal(size=(4, 4))
    lam = np.linalg.eigvals(A)
    expected = np.sort_complex(np.array([lam[i] + lam[j] for i in range(4) for j in range(i)]))
    got = np.sort_complex(np.linalg.eigvals(np.asarray(bialternate(jnp.asarray(A)))))
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_gradient_of_bifurcation_points_normal_forms():
    """d(mu*)/da is -1 for the fold (mu* = -a) and +1 for the branch point (mu* = a); Hopf: seed 004 below."""
    for model, kind, x, slope in ((FoldNormalForm(), "fold", [0.01], -1.0),
                                  (TranscriticalNormalForm(), "branch_point", [0.01], 1.0)):
        def mu(a):
            return locate_bifurcation(model, NF.replace(a=a), "mu", kind, jnp.asarray(x), 0.3 * slope + 0.02).param

        assert jax.grad(mu)(jnp.asarray(0.3)) == pytest.approx(slope, abs=1e-10)


# -- seed 000: the Kuznetsov bistability fold ----------------------------------------------------


def test_kuznetsov_fold_in_effector_source():
    """The saddle and the large-tumour node meet at a fold in s; beyond it only the dormant state is left."""
    model = tj.TumourEffector()
    p = model.default_params()
    large = max(find_equilibria(model, p.replace(s=1e3)), key=lambda e: e.state[0])
    b = continuation(model, p, "s", large.state, (1e3, 6e4))
    (fold,) = b.points
    assert fold.kind == "fold" and fold.located and 2e4 < fold.param < 2.3e4
    J = np.asarray(jacobian(model, p.replace(s=fold.param), fold.state))
    f = np.asarray(model.vector_field(0.0, jnp.asarray(fold.state), p.replace(s=fold.param)))
    assert np.max(np.abs(f / [p.r * p.K, fold.param])) < 1e-10
    assert abs(np.linalg.det(J)) < 1e-9 * np.prod(np.abs(np.linalg.eigvals(J)).max())  # a zero eigenvalue
    n_below = len(find_equilibria(model, p.replace(s=0.99 * fold.param)))
    n_above = len(find_equilibria(model, p.replace(s=1.01 * fold.param)))
    assert (n_below, n_above) == (4, 2)
    # the large-tumour branch is stable, the saddle branch after the fold is not
    i = next(s.index for s in b.points)
    assert b.stable[:i].all() and not b.stable[i:].any()


# -- seed 004: Hopf points of ODE (3.1) in alpha, zeta, beta; the branch point in beta -----------

OV = OncolyticODEParams()


@pytest.mark.parametrize("name, p_range", [("zeta", (0.05, 2.0)), ("alpha", (1e-4, 1e-2)), ("beta", (0.3, 0.02))])
def test_oncolytic_hopf_points(name, p_range):
    model = OncolyticODE()
    y0 = ode_equilibria(OV.replace(**{name: p_range[0]}))["coexistence"]
    b = continuation(model, OV, name, y0, p_range)
    (h,) = b.special("hopf")
    # the independent Routh-Hurwitz test of tumorjax.oncolytic (closed-form equilibrium) vanishes there
    assert abs(float(hopf_test(OV.replace(**{name: h.param})))) < 1e-10 * float(abs(hopf_test(OV)))
    if name == "zeta":  # and its bisection gives the same point
        assert h.param == pytest.approx(float(ode_hopf_point(OV, name, (0.1, 0.5))), rel=1e-10)
    # the branch is the closed-form coexistence equilibrium (3.2), its stability that of direct eigenvalues
    values = jnp.asarray(b.params)
    closed = np.asarray(jax.vmap(lambda v: ode_equilibria(OV.replace(**{name: v}))["coexistence"])(values))
    np.testing.assert_allclose(b.states, closed, rtol=1e-10, atol=1e-8)
    J = jax.vmap(lambda v, x: jacobian(model, OV.replace(**{name: v}), x))(values, jnp.asarray(closed))
    np.testing.assert_array_equal(b.stable, np.all(np.linalg.eigvals(np.asarray(J)).real < 0, axis=1))
    assert b.stable.any() and not b.stable.all()


def test_oncolytic_hopf_points_match_reference(shared):
    """../shared/reference/ov/README.md: zeta_H = 0.387 (alpha = pi 25 alpha_z), alpha_H = 2.286e-3."""
    text = (shared / "reference/ov/README.md").read_text()
    assert "zeta = 0.387" in text and "alpha = 2.286e-3" in text
    model = OncolyticODE()
    for name, p_range, ref in (("zeta", (0.3, 0.5), 0.387), ("alpha", (2e-3, 2.5e-3), 2.286e-3)):
        y0 = ode_equilibria(OV.replace(**{name: p_range[0]}))["coexistence"]
        (h,) = continuation(model, OV, name, y0, p_range).special("hopf")
        assert h.param == pytest.approx(ref, abs=0.5e-3 * ref / 0.387 if name == "zeta" else 0.5e-6)


def test_oncolytic_branch_point_in_beta():
    r"""Coexistence meets the infection-free state (i* = 0) at beta = (Kpq_z q + S0 zeta p)/(Kpq_z - S0 zeta)."""
    p = OV
    exact = (p.K * p.p * p.q_z * p.q + p.S0 * p.zeta * p.p) / (p.K * p.p * p.q_z - p.S0 * p.zeta)
    y0 = ode_equilibria(p.replace(beta=0.05))["coexistence"]
    b = continuation(OncolyticODE(), p, "beta", y0, (0.05, 0.005))
    (bp,) = b.special("branch_point")
    assert bp.located and abs(bp.param - float(exact)) < 1e-8 * float(exact)
    np.testing.assert_allclose(bp.state, np.asarray(ode_equilibria(p.replace(beta=bp.param))["infection_free"]),
                               atol=1e-6)


def test_gradient_of_hopf_point_matches_finite_differences():
    """d(zeta_H)/d(beta) and d(zeta_H)/d(q) by implicit differentiation against central differences."""
    model = OncolyticODE()
    x = ode_equilibria(OV.replace(zeta=0.387))["coexistence"]

    def zeta_h(beta, q):
        return locate_bifurcation(model, OV.replace(beta=beta, q=q), "zeta", "hopf", x, 0.387).param

    g = jax.grad(zeta_h, argnums=(0, 1))(jnp.asarray(OV.beta), jnp.asarray(OV.q))
    for i, (v, h) in enumerate(((OV.beta, 1e-6), (OV.q, 1e-8))):
        args = [jnp.asarray(OV.beta), jnp.asarray(OV.q)]
        up, down = list(args), list(args)
        up[i], down[i] = args[i] + h, args[i] - h
        fd = (zeta_h(*up) - zeta_h(*down)) / (2 * h)
        assert float(g[i]) == pytest.approx(float(fd), rel=1e-6)


def test_vmapped_hopf_location_and_fixed_step_branches():
    """One vmapped call locates zeta_H for several beta; vmapped fixed-step branches change stability there."""
    model = OncolyticODE()
    betas = jnp.array([0.1, 0.15, 0.2, 0.3])
    x = ode_equilibria(OV.replace(zeta=0.3))["coexistence"]
    zh = jax.vmap(lambda b: locate_bifurcation(model, OV.replace(beta=b), "zeta", "hopf", x, 0.3).param)(betas)
    scale = float(abs(hopf_test(OV)))
    residual = jax.vmap(lambda b, z: hopf_test(OV.replace(beta=b, zeta=z)))(betas, zh)
    assert np.all(np.abs(np.asarray(residual)) < 1e-10 * scale)

    def branch(beta):
        p = OV.replace(beta=beta)
        return continue_fixed(model, p, "zeta", ode_equilibria(p.replace(zeta=0.01))["coexistence"], 0.01, 1.0, 60,
                              ds=0.02)

    fam = jax.jit(jax.vmap(branch))(betas)
    assert fam.params.shape == (4, 61) and bool(jnp.all(fam.converged))
    closed = jax.vmap(jax.vmap(lambda b, z: ode_equilibria(OV.replace(beta=b, zeta=z))["coexistence"]),
                      in_axes=(0, 0))(jnp.repeat(betas[:, None], 61, 1), fam.params)
    np.testing.assert_allclose(np.asarray(closed), fam.states, rtol=1e-9)
    np.testing.assert_array_equal(np.asarray(fam.stable), np.asarray(fam.params) < np.asarray(zh)[:, None])


def test_new_parameter_values_do_not_recompile():
    model = FoldNormalForm()
    continuation(model, NF, "mu", [1.0], (1.0, 0.5))
    before = eqx.debug.get_num_traces(_step_impl)
    continuation(model, NF.replace(a=0.7), "mu", [1.2], (0.9, 0.1))
    continuation(model, NF, "a", [1.0], (1.0, 0.5))  # another parameter: the same compiled step
    assert eqx.debug.get_num_traces(_step_impl) == before


# -- bad input -------------------------------------------------------------------------------------


def test_unknown_parameter_lists_the_parameters():
    with pytest.raises(ValueError, match=r"no parameter 'gamma'; parameters: p, K, beta, zeta, q, alpha, q_z, S0"):
        continuation(OncolyticODE(), OV, "gamma", [1.0, 1.0, 1.0], (0.0, 1.0))
    with pytest.raises(ValueError, match="no parameter 'nu'"):
        continue_fixed(FoldNormalForm(), NF, "nu", [1.0], 0.0, 1.0, 3)
    with pytest.raises(ValueError, match="no parameter 'nu'"):
        locate_bifurcation(FoldNormalForm(), NF, "nu", "fold", [0.0], 0.0)


def test_start_not_near_an_equilibrium():
    # x' = mu - x^2 has no equilibrium at mu = -1: Newton cannot converge
    with pytest.raises(ValueError, match=r"did not converge to an equilibrium of FoldNormalForm at mu = -1.0"):
        continuation(FoldNormalForm(), NF, "mu", [0.5], (-1.0, 1.0))


def test_range_outside_the_domain():
    with pytest.raises(ValueError, match=r"leaves its admissible domain: zeta .* must be >= 0.0 \[1/h\]"):
        continuation(OncolyticODE(), OV, "zeta", [2e3, 500.0, 200.0], (0.5, -0.1))
    with pytest.raises(ValueError, match=r"K .* must be > 0.0"):
        continuation(OncolyticODE(), OV, "K", [2e3, 500.0, 200.0], (1e4, 0.0))
    with pytest.raises(ValueError, match="two different finite numbers"):
        continuation(OncolyticODE(), OV, "zeta", [2e3, 500.0, 200.0], (0.5, 0.5))


def test_bad_shapes_and_kinds():
    with pytest.raises(ValueError, match=r"y0 must have shape \(3,\)"):
        continuation(OncolyticODE(), OV, "zeta", [1.0, 2.0], (0.1, 1.0))
    with pytest.raises(ValueError, match=r"unknown special point kind\(s\) \['cusp'\]"):
        continuation(FoldNormalForm(), NF, "mu", [1.0], (1.0, 0.5), detect=("fold", "cusp"))
    with pytest.raises(ValueError, match="unknown bifurcation kind 'cusp'"):
        locate_bifurcation(FoldNormalForm(), NF, "mu", "cusp", [0.0], 0.0)
    with pytest.raises(ValueError, match="Hopf point needs at least 2 states"):
        locate_bifurcation(FoldNormalForm(), NF, "mu", "hopf", [0.0], 0.0)


def test_continue_fixed_checks_like_continuation():
    model = OncolyticODE()
    y0 = [2e3, 500.0, 200.0]
    with pytest.raises(ValueError, match=r"leaves its admissible domain: zeta .* must be >= 0.0 \[1/h\]"):
        continue_fixed(model, OV, "zeta", y0, -0.1, 1.0, 3)
    with pytest.raises(ValueError, match="p_scale must be a finite non-zero number, got 0.0"):
        continue_fixed(model, OV, "zeta", y0, 0.1, 0.0, 3)
    with pytest.raises(ValueError, match="n_steps must be an int >= 1, got 0"):
        continue_fixed(model, OV, "zeta", y0, 0.1, 1.0, 0)
    with pytest.raises(ValueError, match=r"y0 must have shape \(3,\)"):
        continue_fixed(model, OV, "zeta", [1.0, 2.0], 0.1, 1.0, 3)


def test_wrong_parameter_class_is_a_type_error():
    wrong = tj.TumourEffectorParams()
    with pytest.raises(TypeError, match="OncolyticODE takes OncolyticODEParams, got TumourEffectorParams"):
        continuation(OncolyticODE(), wrong, "zeta", [2e3, 500.0, 200.0], (0.1, 1.0))
    with pytest.raises(TypeError, match="FoldNormalForm takes NormalFormParams, got TumourEffectorParams"):
        locate_bifurcation(FoldNormalForm(), wrong, "mu", "fold", [0.0], 0.0)
    with pytest.raises(TypeError, match="FoldNormalForm takes NormalFormParams, got TumourEffectorParams"):
        continue_fixed(FoldNormalForm(), wrong, "mu", [1.0], 1.0, -1.0, 3)
    with pytest.raises(TypeError, match="TumourEffector takes TumourEffectorParams, got NormalFormParams"):
        find_equilibria(tj.TumourEffector(), NF)


def test_seed002_transcritical_at_A_I_equal_1():
    """Seed 002, conservative linear reduction: E1 = (0, I) and E2 meet and exchange stability at A*I = 1."""
    from tumorjax.kinetic import ConservativeParams, LinearConservative, conservative_equilibria

    p = ConservativeParams()
    for name, p_range, exact in (("A", (2.0, 0.2), 1.0 / p.I), ("I", (2.0, 0.2), 1.0 / p.A)):
        b = continuation(LinearConservative(), p, name, [0.0, float(p_range[0]) if name == "I" else p.I], p_range)
        (bp,) = b.points
        assert bp.kind == "branch_point" and bp.located and abs(bp.param - exact) < 1e-8
        np.testing.assert_allclose(bp.state, np.asarray(conservative_equilibria(p.replace(**{name: bp.param})))[0],
                                   atol=1e-8)
        other = p.I if name == "A" else p.A
        np.testing.assert_array_equal(b.stable, b.params * other > 1)  # E1 is stable iff A I > 1
