r"""The spatially homogeneous reductions of seed 002 and their equilibria.

Slides "Qualitative analysis of the spatially homogeneous settings": the conservative case
(linear reduction in $(Y_1, Y_2)$, cross-diffusion reduction in $Y_1$ with $I$ fixed) and the
proliferative case (linear reduction in $(Y_1, Y_2, Y_3)$, self-diffusion reduction in
$(Y_1, Y_N)$). The cross and self reductions are the linear ones restricted to the manifold on
which the fast immune switching balances, so equilibria (and therefore bifurcation points,
where equilibria collide) coincide: the slides' claim, checked in the tests.
"""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ._params import ConservativeParams, ProliferativeParams, SelfParams


class LinearConservative(ODEModel):
    r"""Conservative case, linear-diffusion reduction:
    $\dot Y_1 = -AY_1Y_2 + BY_1(I - Y_2) + Y_1$, $\dot Y_2 = -AY_1Y_2 + C(I - Y_2)$."""

    state_names: ClassVar = ("Y1", "Y2")
    params_class: ClassVar = ConservativeParams
    time_units: ClassVar = "dimensionless"

    def vector_field(self, t, y, p: ConservativeParams):
        Y1, Y2 = y[0], y[1]
        return jnp.stack([-p.A * Y1 * Y2 + p.B * Y1 * (p.I - Y2) + Y1, -p.A * Y1 * Y2 + p.C * (p.I - Y2)])

    def state_scale(self, p):
        return jnp.stack([jnp.maximum(p.C / p.A * jnp.abs(p.A * p.I - 1) / (1 + p.B * p.I), p.I), p.I])


class CrossConservative(ODEModel):
    r"""Conservative case, cross-diffusion reduction ($I$ fixed):
    $\dot Y_1 = \frac{AIY_1}{C + AY_1}(BY_1 - C) + Y_1$.

    The active immune density follows as $Y_2 = CI/(C + AY_1)$ ([`active_immune`][]).
    """

    state_names: ClassVar = ("Y1",)
    params_class: ClassVar = ConservativeParams
    time_units: ClassVar = "dimensionless"

    def vector_field(self, t, y, p: ConservativeParams):
        Y1 = y[0]
        return jnp.stack([p.A * p.I * Y1 / (p.C + p.A * Y1) * (p.B * Y1 - p.C) + Y1])

    @staticmethod
    def active_immune(Y1, p: ConservativeParams):
        """$Y_2 = CI/(C + AY_1)$: the fast active/passive balance of the cross-diffusion scaling."""
        return p.C * p.I / (p.C + p.A * Y1)

    def state_scale(self, p):
        return LinearConservative().state_scale(p)[:1]


class LinearProliferative(ODEModel):
    r"""Proliferative case, linear-diffusion reduction:
    $\dot Y_1 = -AY_1Y_2 + BY_1Y_3 + Y_1$, $\dot Y_2 = -AY_1Y_2 + DY_3 - GY_2 + H$,
    $\dot Y_3 = -CY_3 + EY_2Y_3 + FY_2^2$."""

    state_names: ClassVar = ("Y1", "Y2", "Y3")
    params_class: ClassVar = ProliferativeParams
    time_units: ClassVar = "dimensionless"

    def vector_field(self, t, y, p: ProliferativeParams):
        Y1, Y2, Y3 = y[0], y[1], y[2]
        return jnp.stack([
            -p.A * Y1 * Y2 + p.B * Y1 * Y3 + Y1,
            -p.A * Y1 * Y2 + p.D * Y3 - p.G * Y2 + p.H,
            -p.C * Y3 + p.E * Y2 * Y3 + p.F * Y2**2,
        ])

    def state_scale(self, p):
        y2 = jnp.maximum(p.H / p.G, p.C / jnp.maximum(p.E, 1e-3 * p.C))  # Y3 >= 0 needs Y2 < C/E
        return jnp.stack([p.H / p.A, 2 * y2, 4 * p.F * y2**2 / p.C])


class SelfProliferative(ODEModel):
    r"""Proliferative case, self-diffusion reduction:
    $\dot Y_1 = \frac{Y_1Y_N}{1 + PY_N}(BPY_N - A) + Y_1$,
    $\dot Y_N = \frac{Y_N}{1 + PY_N}(-AY_1 + DPY_N - G) + H$."""

    state_names: ClassVar = ("Y1", "YN")
    params_class: ClassVar = SelfParams
    time_units: ClassVar = "dimensionless"

    def vector_field(self, t, y, p: SelfParams):
        Y1, YN = y[0], y[1]
        s = YN / (1 + p.P * YN)
        return jnp.stack([Y1 * s * (p.B * p.P * YN - p.A) + Y1, s * (-p.A * Y1 + p.D * p.P * YN - p.G) + p.H])

    @staticmethod
    def split(YN, p: SelfParams):
        """$(Y_2, Y_3) = (N/(1+PN),\\ PN^2/(1+PN))$: the fast passive balance."""
        return YN / (1 + p.P * YN), p.P * YN**2 / (1 + p.P * YN)

    def state_scale(self, p):
        return jnp.stack([10 * p.H / p.A, 2.0 / p.P])


def self_params(p: ProliferativeParams) -> SelfParams:
    r"""The self-diffusion parameters whose reduction is the linear one on $\dot Y_3 = 0$.

    $\dot Y_3 = 0$ gives $CY_3 = EY_2Y_3 + FY_2^2$, which is the self scaling's
    $Y_3 = PY_N Y_2$ for every state only if $E = F$, with $P = E/C$. A `ValueError` otherwise.
    """
    if not np.isclose(float(p.E), float(p.F), rtol=1e-12, atol=0.0):
        raise ValueError(f"the self-diffusion reduction needs E = F (got E = {float(p.E)}, "
                         f"F = {float(p.F)}): "
                         "only then is Y3' = 0 the manifold Y3 = P*YN*Y2")
    return SelfParams(A=p.A, B=p.B, D=p.D, G=p.G, H=p.H, P=p.E / p.C, D1=p.D1, D2=p.D2, D3=p.D3)


def conservative_equilibria(p: ConservativeParams):
    r"""The closed forms of the slides: $E_1 = (0, I)$ and
    $E_2 = \left(\frac{C}{A}\frac{AI - 1}{1 + BI},\ \frac{1 + BI}{A + B}\right)$, as a `(2, 2)` array.

    $E_2$ is non-negative iff $AI \ge 1$; at $AI = 1$ it meets $E_1$ (transcritical point).
    The eigenvalues of $E_1$ are $1 - AI$ and $-C$: $E_1$ is stable iff $AI > 1$.
    """
    e1 = jnp.stack([jnp.zeros_like(p.I), p.I])
    e2 = jnp.stack([p.C / p.A * (p.A * p.I - 1) / (1 + p.B * p.I), (1 + p.B * p.I) / (p.A + p.B)])
    return jnp.stack([e1, e2])


def _real_roots(a, b, c):
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    s = np.sqrt(disc)
    return sorted({(-b - s) / (2 * a), (-b + s) / (2 * a)})


def proliferative_equilibria(p: ProliferativeParams) -> np.ndarray:
    r"""Every non-negative equilibrium of the linear proliferative reduction, from two quadratics.

    Tumour-free ($Y_1 = 0$): $\dot Y_3 = 0$ gives $Y_3 = FY_2^2/(C - EY_2)$ and $\dot Y_2 = 0$
    becomes $(DF + GE)Y_2^2 - (GC + HE)Y_2 + HC = 0$ (the slides' $E_1, E_2$).
    Coexistence: $\dot Y_1 = 0$ gives $Y_3 = (AY_2 - 1)/B$, so $(AE + BF)Y_2^2 - (AC + E)Y_2 + C = 0$
    and $Y_1 = (DY_3 - GY_2 + H)/(AY_2)$ ($E_3, E_4$). An independent check of
    `find_equilibria`; returns an `(k, 3)` host array sorted by $(Y_1, Y_2)$.
    """
    A, B, C, D, E, F, G, H = (float(getattr(p, n)) for n in "ABCDEFGH")
    out = []
    for y2 in _real_roots(D * F + G * E, -(G * C + H * E), H * C):
        if y2 > 0 and C - E * y2 > 0:
            out.append((0.0, y2, F * y2**2 / (C - E * y2)))
    if B > 0:
        for y2 in _real_roots(A * E + B * F, -(A * C + E), C):
            y3 = (A * y2 - 1) / B
            y1 = (D * y3 - G * y2 + H) / (A * y2) if y2 > 0 else -1.0
            if y2 > 0 and y3 >= 0 and y1 > 0:
                out.append((y1, y2, y3))
    return np.array(sorted(out), dtype=float).reshape(-1, 3)


def coexistence_interval(p: ProliferativeParams, B_max: float = 20.0, n: int = 4001, tol: float = 1e-10):
    r"""The interval $(\bar B, \tilde B)$ of $B$ in which both coexistence equilibria $E_3, E_4$ exist.

    The slides state the condition "$H > 1$, $\bar B < B < \tilde B$" without formulas for the
    bounds, so they are located numerically: the number of positive coexistence equilibria is
    counted on a grid of `n` values in $(0, B_{max}]$ and each end of the longest run with two
    of them is refined by bisection to `tol`. Returns `(B_bar, B_tilde)` or `None` if there is
    no such $B$. Each bound is a bifurcation point: a coexistence state meets a tumour-free
    one ($Y_1 \to 0$, transcritical) or $E_3$ and $E_4$ collide (fold, $(AC + E)^2 = 4C(AE + BF)$).
    With the defaults the interval is $(0, 5/9)$: at $B = 5/9$, $E_4$ meets the tumour-free
    $(0, 6, 9)$, since $Y_3 = (AY_2 - 1)/B$ there.
    """
    def count(b):
        return int(np.sum(proliferative_equilibria(p.replace(B=b))[:, 0] > 0))

    grid = np.linspace(B_max / (n - 1), B_max, n)
    two = np.array([count(b) == 2 for b in grid])
    if not two.any():
        return None
    idx = np.flatnonzero(two)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    run = max(runs, key=len)

    def refine(inside, outside):
        while abs(outside - inside) > tol:
            mid = 0.5 * (inside + outside)
            inside, outside = (mid, outside) if count(mid) == 2 else (inside, mid)
        return inside

    lo = refine(grid[run[0]], grid[run[0] - 1] if run[0] > 0 else 0.0)  # B = 0 has no coexistence state
    hi = grid[run[-1]] if run[-1] == n - 1 else refine(grid[run[-1]], grid[run[-1] + 1])
    return float(lo), float(hi)
