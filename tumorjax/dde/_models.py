"""Delay models of seed 000 ("Delay-Induced Oscillations") and the Hutchinson equation."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp

from ..core import DDEModel, Parameters, param
from ..ode._responses import GROWTH_LAWS, KILLING, growth, killing

_SRC = "seed 000, Delay-Induced Oscillations"


class HutchinsonParams(Parameters):
    """Delayed logistic growth N' = r N (1 - N(t - tau)/K)."""

    r: float = param(1.0, "1/day", "intrinsic growth rate", "Hutchinson 1948")
    K: float = param(1.0, "cells", "carrying capacity", "Hutchinson 1948", strict=True)
    tau: float = param(1.0, "day", "delay of the density feedback", "Hutchinson 1948", strict=True)


class Hutchinson(DDEModel):
    """The delayed logistic equation; N = K loses stability at r*tau = pi/2 with period ~ 4*tau."""

    state_names: ClassVar = ("N",)
    params_class: ClassVar = HutchinsonParams

    def vector_field(self, t, y, y_delayed, p):
        return p.r * y * (1 - y_delayed[0] / p.K)

    def delays(self, p):
        return jnp.reshape(p.tau, (1,))


class LinearDelay(DDEModel):
    """y'(t) = -a y(t - tau): the classical test problem with a piecewise-polynomial solution."""

    state_names: ClassVar = ("y",)
    params_class: ClassVar = None  # set below
    nonnegative: ClassVar = False

    def vector_field(self, t, y, y_delayed, p):
        return -p.a * y_delayed[0]

    def delays(self, p):
        return jnp.reshape(p.tau, (1,))


class LinearDelayParams(Parameters):
    a: float = param(1.0, "1/day", "feedback gain")
    tau: float = param(1.0, "day", "delay", strict=True)


LinearDelay.params_class = LinearDelayParams


class DelayedTumourEffectorParams(Parameters):
    r"""Parameters of

    $$\frac{dT}{dt} = G(T) - F(T)E,\qquad
      \frac{dE}{dt} = s + \gamma T(t-\tau)E - \delta E - \varepsilon TE .$$

    Seed 000 gives the form of this model but no numbers, so the defaults are illustrative.
    Populations are non-dimensional, in units of the carrying capacity ($K = 1$; "cells"
    below means "units of $K$"), time in days. For the default logistic growth and
    mass-action killing the coexistence equilibrium is $(T^*, E^*) = (0.3, 0.35)$, and the
    characteristic equation $\lambda^2 + p\lambda + q + ce^{-\lambda\tau} = 0$ has
    $p = rT^*/K + s/E^* = 0.25$, $q = rsT^*/(KE^*) - \kappa\varepsilon T^*E^* = 0.015$,
    $c = \kappa\gamma T^*E^* = 0.105$. The equilibrium is a stable focus at $\tau = 0$
    (eigenvalues $-0.125 \pm 0.323i$); since $|c| > |q|$ it loses stability in a Hopf
    bifurcation at $\tau^* = 2.6476$ days, $\omega^* = 0.29822$/day (period
    $2\pi/\omega^* = 21.07$ days at onset; see [`tumorjax.dde.hopf_closed_form`][]). Above
    $\tau^*$ it oscillates on a limit cycle whose amplitude grows from zero (supercritical
    in simulation). The default $\tau = 4$ days lies above $\tau^*$: a cycle of period about
    30 days. The Holling II/III constants `k`, `theta`, `m` are used only with those
    killing laws.
    """

    r: float = param(0.5, "1/day", "intrinsic tumour growth rate", _SRC)
    K: float = param(1.0, "cells", "tumour carrying capacity", _SRC, strict=True)
    kappa: float = param(1.0, "1/(cell*day)", "mass-action killing coefficient", _SRC)
    k: float = param(1.0, "1/day", "maximal per-effector kill rate (Holling II/III)", _SRC)
    theta: float = param(1.0, "cells", "half-saturation of killing", _SRC, strict=True)
    m: float = param(2.0, "-", "Hill exponent", _SRC, lower=1.0)
    gamma: float = param(1.0, "1/(cell*day)", "delayed proliferation coefficient", _SRC)
    s: float = param(0.035, "cells/day", "effector source", _SRC)
    delta: float = param(0.4, "1/day", "effector death rate", _SRC, strict=True)
    eps: float = param(0.0, "1/(cell*day)", "exhaustion coefficient", _SRC)
    tau: float = param(4.0, "day", "delay between antigen presentation and effector arrival", _SRC, strict=True)


class DelayedTumourEffector(DDEModel):
    """The seed-000 tumour-effector model with delayed proliferation gamma*T(t - tau)*E(t)."""

    growth: str = eqx.field(default="logistic", static=True)
    killing: str = eqx.field(default="mass_action", static=True)

    state_names: ClassVar = ("T", "E")
    params_class: ClassVar = DelayedTumourEffectorParams

    def __check_init__(self):
        if self.growth not in GROWTH_LAWS:
            raise ValueError(f"unknown growth law {self.growth!r}; choose from {GROWTH_LAWS}")
        if self.killing not in KILLING:
            raise ValueError(f"unknown killing {self.killing!r}; choose from {KILLING}")

    def vector_field(self, t, y, y_delayed, p):
        T, E = y[0], y[1]
        T_lag = y_delayed[0, 0]
        dT = growth(self.growth, T, p.r, p.K) - killing(self.killing, T, p.kappa, p.k, p.theta, p.m) * E
        dE = p.s + p.gamma * T_lag * E - p.delta * E - p.eps * T * E
        return jnp.stack([dT, dE])

    def delays(self, p):
        return jnp.reshape(p.tau, (1,))
