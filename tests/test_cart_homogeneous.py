"""CAR-T homogeneous ODE (9)-(15): steady states, stability conditions, stiff solve (float64)."""

import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax
from tumorjax.analysis import jacobian
from tumorjax.cart import (
    NORMALISED, REFERENCE_CODE, CARTHomogeneous, CARTParams, coexistence_states, healthy_stability, invasion_test,
    tumour_states,
)

MODEL = CARTHomogeneous()


def test_mixed_tumour_state_matches_reference_readme():
    (mixed,) = tumour_states(REFERENCE_CODE)  # r_T < d_TA + mu_0: no T_A-only state (27)
    assert mixed["kind"].startswith("mixed")
    C, E, TA, TB, S, A, H = mixed["state"]
    assert TA + TB == pytest.approx(2.2154e8, rel=1e-4) and TB / TA == pytest.approx(1.857, rel=1e-3)
    assert (S, A, H) == pytest.approx((8.428e4, 1.4769e6, 0.2576), rel=1e-3)
    f = np.asarray(MODEL.vector_field(0.0, jnp.asarray(mixed["state"]), REFERENCE_CODE))
    assert np.all(np.abs(f) <= 1e-9 * np.abs(mixed["state"]).max())


def test_homogeneous_tumour_state_27_exact_only_without_antigen_loss():
    p = NORMALISED.replace(mu_0=0.0, nu=0.0)
    (hom,) = [s for s in tumour_states(p) if s["kind"].startswith("homogeneous")]
    assert hom["exact"] and hom["state"][2] == pytest.approx(1 - 0.01 / 0.13)
    np.testing.assert_allclose(MODEL.vector_field(0.0, jnp.asarray(hom["state"]), p), 0.0, atol=1e-15)
    hom_loss = [s for s in tumour_states(NORMALISED.replace(r_T=0.5)) if s["kind"].startswith("homogeneous")][0]
    assert not hom_loss["exact"]  # dT_B/dt = mu_0 T_A > 0 there


@pytest.mark.parametrize("r_T", [0.05, 0.13, 0.3])
def test_healthy_state_conditions_38_match_jacobian(r_T):
    p = REFERENCE_CODE.replace(r_T=r_T)
    J = np.asarray(jacobian(MODEL, p, jnp.zeros(7)))
    eig = np.linalg.eigvals(J[2:4, 2:4])
    s = healthy_stability(p)
    assert s["trace"] == pytest.approx(eig.real.sum()) and s["det"] == pytest.approx(np.prod(eig).real)
    assert s["stable"] == bool(np.all(np.linalg.eigvals(J).real < 0))


def test_invasion_block_is_the_jacobian_block_at_E_T():
    for p in (REFERENCE_CODE, NORMALISED):
        state = tumour_states(p)[-1]["state"]
        J = np.asarray(jacobian(MODEL, p, jnp.asarray(state)))
        test = invasion_test(p, state)
        np.testing.assert_allclose(test["J_CE"], J[:2, :2], rtol=1e-12)
    assert invasion_test(REFERENCE_CODE, tumour_states(REFERENCE_CODE)[-1]["state"])["resistant"]
    assert invasion_test(NORMALISED, tumour_states(NORMALISED)[-1]["state"])["invadable"]  # expansion possible


def test_coexistence_state_of_the_normalised_set():
    (ect,) = coexistence_states(NORMALISED, n_starts=64)
    assert ect.state[0] > 0 and ect.state[2] > 0 and ect.residual < 1e-10 and ect.stable
    # S does not act back on the homogeneous dynamics, so -lambda_S is an eigenvalue; A and H do
    # (through k_e and p_r/(1+A)) once C > 0, so -lambda_A, -lambda_H are not (Sec. 2.2 says they are).
    assert np.min(np.abs(ect.eigenvalues + float(NORMALISED.lambda_S))) < 1e-10
    assert np.min(np.abs(ect.eigenvalues + float(NORMALISED.lambda_A))) > 1e-3


def test_stiff_solve_matches_radau_reference(shared):
    ref = np.loadtxt(shared / "reference/cart/homog_ode_radau.csv", delimiter=",", skiprows=1)
    y0 = dict(zip(MODEL.state_names, ref[0, 1:]))
    sol = tumorjax.simulate(MODEL, REFERENCE_CODE, y0, (0.0, 200.0), ts=ref[:, 0], rtol=1e-9, atol=1e-9,
                            max_steps=200_000)
    assert sol.ok
    err = np.abs(np.asarray(sol.ys) - ref[:, 1:]).max(0) / np.abs(ref[:, 1:]).max(0)
    assert np.all(err < 1e-6), err
    # T_A - C is conserved while gamma = delta_CT: the accurate total tumour at t = 30 is 1.58e8
    i30 = np.argmin(np.abs(ref[:, 0] - 30))
    assert float(sol["TA"][i30] + sol["TB"][i30]) == pytest.approx(1.58e8, rel=1e-2)


def test_negative_rate_is_rejected():
    with pytest.raises(ValueError, match="rho_C"):
        CARTParams(rho_C=-0.1)
