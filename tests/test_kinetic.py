"""Seed 002 (kinetic tumour-immune models): reductions, equilibria and bifurcations (float64)."""

import json

import numpy as np
import pytest

import tumorjax.kinetic as K
from tumorjax.analysis import find_equilibria, jacobian
from tumorjax.cli import main


def _sorted(states):
    """Equilibria sorted by (Y1, Y2) after rounding away signed round-off (Y1 = -1e-29)."""
    states = np.asarray(states, float)
    return states[np.lexsort(np.round(states, 9).T[::-1])]


def _eigs(model, p, y):
    return np.linalg.eigvals(np.asarray(jacobian(model, p, np.asarray(y, float))))


def test_conservative_E2_closed_form_in_linear_and_cross():
    p = K.ConservativeParams(A=2.5, B=0.7, C=1.3, I=1.1)
    e1, e2 = np.asarray(K.conservative_equilibria(p))
    C, A, B, I = 1.3, 2.5, 0.7, 1.1
    assert e2 == pytest.approx([C / A * (A * I - 1) / (1 + B * I), (1 + B * I) / (A + B)], abs=1e-15)
    found = np.array([e.state for e in find_equilibria(K.LinearConservative(), p)])
    assert found.shape == (2, 2)
    np.testing.assert_allclose(found, [e1, e2], rtol=1e-12, atol=1e-12)
    cross = np.array([e.state for e in find_equilibria(K.CrossConservative(), p)])
    np.testing.assert_allclose(cross[:, 0], [0.0, e2[0]], rtol=1e-12, atol=1e-12)
    # the cross reduction's fast balance Y2 = CI/(C + A Y1) gives the same Y2 at E2
    assert float(K.CrossConservative.active_immune(e2[0], p)) == pytest.approx(e2[1], rel=1e-12)


@pytest.mark.parametrize("AI", [0.8, 0.99, 1.01, 1.5])
def test_E1_stability_flips_at_AI_equal_one_in_linear_and_cross(AI):
    p = K.ConservativeParams(A=AI / 1.2, B=0.5, C=0.9, I=1.2)
    lin = _eigs(K.LinearConservative(), p, [0.0, 1.2])
    assert sorted(lin.real) == pytest.approx(sorted([1 - AI, -0.9]), abs=1e-12)
    cross = _eigs(K.CrossConservative(), p, [0.0])
    assert cross.real == pytest.approx([1 - AI], abs=1e-12)
    stable = AI > 1
    assert (lin.real.max() < 0) == stable and (cross.real.max() < 0) == stable
    # E2 is biologically relevant (Y1 > 0) exactly when E1 is stable: the transcritical exchange
    y1_e2 = float(K.conservative_equilibria(p)[1, 0])
    assert (y1_e2 > 0) == stable
    n_lin = len(find_equilibria(K.LinearConservative(), p))
    n_cross = len(find_equilibria(K.CrossConservative(), p))
    assert n_lin == n_cross == (2 if stable else 1)


def test_E1_and_E2_meet_at_the_transcritical_point():
    p = K.ConservativeParams(A=0.8, I=1.25)  # A*I = 1
    e1, e2 = np.asarray(K.conservative_equilibria(p))
    assert e2[0] == pytest.approx(0.0, abs=1e-15)
    assert e2[1] == pytest.approx((1 + p.B * p.I) / (p.A + p.B), rel=1e-15)
    assert _eigs(K.CrossConservative(), p, [0.0])[0] == pytest.approx(0.0, abs=1e-14)


def test_proliferative_E1_to_E4_by_newton_match_the_quadratics():
    p = K.ProliferativeParams()
    closed = K.proliferative_equilibria(p)
    assert closed.shape == (4, 3) and np.sum(closed[:, 0] == 0) == 2  # E1, E2 tumour-free; E3, E4 coexistence
    found = _sorted([e.state for e in find_equilibria(K.LinearProliferative(), p)])
    np.testing.assert_allclose(found, _sorted(closed), rtol=1e-10, atol=1e-12)


def test_self_reduction_has_the_same_equilibria():
    p = K.ProliferativeParams()
    q = K.self_params(p)
    assert float(q.P) == pytest.approx(float(p.E / p.C))
    lin = K.proliferative_equilibria(p)
    mapped = np.column_stack([lin[:, 0], lin[:, 1] + lin[:, 2]])
    found = _sorted([e.state for e in find_equilibria(K.SelfProliferative(), q)])
    np.testing.assert_allclose(found, _sorted(mapped), rtol=1e-10, atol=1e-12)
    # the fast split recovers (Y2, Y3)
    y2, y3 = K.SelfProliferative.split(mapped[:, 1], q)
    np.testing.assert_allclose(np.column_stack([y2, y3]), lin[:, 1:], rtol=1e-12)
    with pytest.raises(ValueError, match="E = F"):
        K.self_params(p.replace(F=0.2))


def test_coexistence_interval_and_shared_bifurcation_point():
    p = K.ProliferativeParams()
    lo, hi = K.coexistence_interval(p)
    assert lo < 1e-8 and hi == pytest.approx(5 / 9, abs=1e-9)  # E4 meets the tumour-free (0, 6, 9) at B = 5/9
    for B, expected in [(hi - 0.01, 2), (hi + 0.01, 1), (0.2, 2)]:
        pb = p.replace(B=B)
        lin = int(np.sum(K.proliferative_equilibria(pb)[:, 0] > 0))
        slf = sum(e.state[0] > 1e-9 for e in find_equilibria(K.SelfProliferative(), K.self_params(pb)))
        assert lin == slf == expected
    assert K.coexistence_interval(p.replace(H=0.5)) is None  # H small: no coexistence state for any B


def test_equilibria_cli_on_reductions(capsys):
    assert main(["equilibria", "kinetic-cc-cross-ode", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    states = sorted(e["state"]["Y1"] for e in out["equilibria"])
    assert states == pytest.approx([0.0, 0.25], abs=1e-12)
    assert main(["equilibria", "kinetic-pc-linear-ode", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["equilibria"]) == 4


def test_bad_reduction_parameters():
    with pytest.raises(ValueError, match="C"):
        K.ConservativeParams(C=0.0)
    with pytest.raises(ValueError, match="P"):
        K.SelfParams(P=-1.0)
