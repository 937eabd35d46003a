"""The spatially homogeneous model (9)-(15): ODE, steady states E_0, E_T, E_CT and their stability."""

from typing import ClassVar

import numpy as np

from ..analysis import find_equilibria
from ..core import ODEModel
from ._accurate_scheme import field_scale
from ._kinetics import FIELDS, reactions
from ._params import CARTParams


class CARTHomogeneous(ODEModel):
    r"""The CAR-T model without space, Eqs. (9)-(15) (seed 003, Sec. 2.2).

    States `C, E, TA, TB, S, A, H`; parameters [`CARTParams`][]. Very stiff at the published
    values (the kill rate $\delta_{CT}T_A$ is about $10^7$/day), hence `stiff = True`:
    [`tumorjax.simulate`][] then uses an implicit solver.
    """

    state_names: ClassVar[tuple[str, ...]] = FIELDS
    params_class: ClassVar[type] = CARTParams
    stiff: ClassVar[bool] = True

    def vector_field(self, t, y, p):
        return reactions(y, p)

    def state_scale(self, p):
        return field_scale(p)


def _f(x):
    return float(np.asarray(x))


def healthy_stability(p: CARTParams) -> dict:
    r"""Stability of $E_0 = 0$ against tumour invasion, conditions (36)-(38).

    $\operatorname{tr}J_T(E_0) = 2r_T - (d_{T_A}+d_{T_B}+\mu_0+\mu_1)$,
    $\det J_T(E_0) = (r_T-d_{T_A}-\mu_0)(r_T-d_{T_B}-\mu_1) - \mu_0\mu_1$; stable iff tr < 0 and
    det > 0. The (C, E) block (32) is always stable; the S, A, H eigenvalues are $-\lambda$.
    """
    r, dA, dB, m0, m1 = (_f(getattr(p, n)) for n in ("r_T", "d_TA", "d_TB", "mu_0", "mu_1"))
    tr = 2 * r - (dA + dB + m0 + m1)
    det = (r - dA - m0) * (r - dB - m1) - m0 * m1
    return {"trace": tr, "det": det, "stable": bool(tr < 0 and det > 0)}


def _tumour_fields(p, TA, TB):
    """S*, A*, H* of Eqs. (21)-(23) for given T_A*, T_B*."""
    N = TA + TB
    H = _f(p.eta) / _f(p.lambda_H) * N
    A = (_f(p.sigma_A) * N + _f(p.sigma_M) * H / (_f(p.K_H) + H)) / _f(p.lambda_A)
    return np.array([0.0, 0.0, TA, TB, _f(p.sigma_S) / _f(p.lambda_S) * TA, A, H])


def tumour_states(p: CARTParams) -> list[dict]:
    r"""The CAR-T-free tumour steady states $E_T$: Eq. (27) and the mixed states (28)-(30).

    (27): $T_A^* = K_T(1 - (d_{T_A}+\mu_0)/r_T)$, $T_B^* = 0$, when $r_T > d_{T_A}+\mu_0$; it is
    an exact steady state of (11)-(12) only when $\mu_0 = 0$ (otherwise $\dot T_B = \mu_0T_A > 0$),
    which the returned `exact` flag says. (28)-(30): roots $R_k$ of
    $R^2 - (d_{T_A}+d_{T_B}+\mu_0+\mu_1)R + (d_{T_A}+\mu_0)(d_{T_B}+\mu_1) - \mu_0\mu_1 = 0$,
    $N_k^* = K_T(1 - R_k/r_T)$, $T_B^*/T_A^* = (d_{T_A}+\mu_0-R_k)/\mu_1$; kept when
    $0 < N_k^* < K_T$ and both populations are positive. Each entry holds `kind`, `state`
    (7 values in field order), `exact`.
    """
    r, K, dA, dB, m0, m1 = (_f(getattr(p, n)) for n in ("r_T", "K_T", "d_TA", "d_TB", "mu_0", "mu_1"))
    out = []
    if r > dA + m0:
        TA = K * (1 - (dA + m0) / r)
        out.append({"kind": "homogeneous (27)", "state": _tumour_fields(p, TA, 0.0), "exact": m0 == 0.0})
    b = dA + dB + m0 + m1
    c = (dA + m0) * (dB + m1) - m0 * m1
    disc = b * b - 4 * c
    if disc >= 0 and m1 > 0:
        for R in sorted({(b - np.sqrt(disc)) / 2, (b + np.sqrt(disc)) / 2}):
            N = K * (1 - R / r)
            ratio = (dA + m0 - R) / m1
            if 0 < N < K and ratio > 0:
                TA = N / (1 + ratio)
                out.append({"kind": "mixed (28)-(30)", "state": _tumour_fields(p, TA, N - TA), "exact": True,
                            "R": R, "N": N, "TB_over_TA": ratio})
    return out


def invasion_test(p: CARTParams, state) -> dict:
    r"""CAR-T invasion of a tumour state $E_T$, Eqs. (39)-(48).

    $a_{11} = (\rho_C/K_C - \delta_{CT})T_A^* - k_e^* - d_C$, $a_{12} = p_r/(1+A^*)$,
    $a_{21} = k_e^*$, $a_{22} = -(p_r^* + d_E)$. CAR-T cells cannot invade when
    tr < 0 and det > 0 (48); they can when the largest real part is positive.
    """
    _, _, TA, _, _, A, H = np.asarray(state, float)
    ke = _f(p.k_e0) * (1 + _f(p.beta_A) * A + _f(p.beta_H) * H)
    pr = _f(p.p_r) / (1 + A)
    J = np.array([[(_f(p.rho_C) / _f(p.K_C) - _f(p.delta_CT)) * TA - ke - _f(p.d_C), pr],
                  [ke, -(pr + _f(p.d_E))]])
    eig = np.linalg.eigvals(J)
    tr, det = float(np.trace(J)), float(np.linalg.det(J))
    return {"J_CE": J, "trace": tr, "det": det, "max_real_eigenvalue": float(eig.real.max()),
            "resistant": bool(tr < 0 and det > 0), "invadable": bool(eig.real.max() > 0)}


def coexistence_states(p: CARTParams, n_starts: int = 512, seed: int = 0):
    """Coexistence states $E_{CT}$ (C > 0, T_A > 0), found numerically by Newton from many starts
    ([`tumorjax.analysis.find_equilibria`][]), with their 7x7 eigenvalues."""
    model = CARTHomogeneous()
    found = find_equilibria(model, p, n_starts=n_starts, seed=seed)
    return [e for e in found if e.state[0] > 0 and e.state[2] > 0]
