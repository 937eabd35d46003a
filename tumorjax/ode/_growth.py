"""Single-population tumour growth laws of seed 000 ("Modeling Tumor Growth Dynamics")."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel, Parameters, param
from ..core._params import is_concrete
from ._responses import bertalanffy, growth

_SRC = "seed 000, Modeling Tumor Growth Dynamics"


class GrowthParams(Parameters):
    """Exponential, logistic and Gompertz growth."""

    r: float = param(0.3, "1/day", "intrinsic growth rate", _SRC)
    K: float = param(1e9, "cells", "carrying capacity (unused by exponential growth)", _SRC, strict=True)


class BertalanffyParams(Parameters):
    """von Bertalanffy growth dT/dt = p T^a - q T^b (0 < a < 1 < b is the plausible range)."""

    p: float = param(2.0, "cells^(1-a)/day", "anabolic coefficient", _SRC)
    q: float = param(0.1, "cells^(1-b)/day", "catabolic coefficient", _SRC)
    a: float = param(2 / 3, "-", "anabolic exponent", _SRC)
    b: float = param(1.0, "-", "catabolic exponent", _SRC)


class TumourGrowth(ODEModel):
    """dT/dt = g(T) T for `law` in exponential, logistic, gompertz."""

    law: str = eqx.field(default="logistic", static=True)
    state_names: ClassVar = ("T",)
    params_class: ClassVar = GrowthParams

    def __check_init__(self):
        growth(self.law, 0.0, 1.0, 1.0)  # raises on an unknown law

    def vector_field(self, t, y, p: GrowthParams):
        return jnp.stack([growth(self.law, y[0], p.r, p.K)])

    def closed_form(self, t, T0, p: GrowthParams):
        """The exact solution T(t) from T(0) = T0."""
        e = jnp.exp(p.r * t)
        if self.law == "exponential":
            return T0 * e
        if self.law == "logistic":
            return p.K * T0 * e / (p.K + T0 * (e - 1))
        return p.K * jnp.exp(jnp.log(T0 / p.K) * jnp.exp(-p.r * t))

    def state_scale(self, p):
        return jnp.stack([p.K])


class BertalanffyGrowth(ODEModel):
    """dT/dt = p T^a - q T^b."""

    state_names: ClassVar = ("T",)
    params_class: ClassVar = BertalanffyParams

    def vector_field(self, t, y, p: BertalanffyParams):
        return jnp.stack([bertalanffy(y[0], p.p, p.q, p.a, p.b)])

    def closed_form(self, t, T0, p: BertalanffyParams):
        r"""Exact solution for b = 1: $T^{1-a} = p/q + (T_0^{1-a} - p/q)e^{-(1-a)qt}$."""
        if is_concrete(p.b) and np.any(np.asarray(p.b) != 1):
            raise ValueError(f"the closed form holds for b = 1 only, got b = {p.b}")
        c = 1 - p.a
        return (p.p / p.q + (T0**c - p.p / p.q) * jnp.exp(-c * p.q * t)) ** (1 / c)

    def state_scale(self, p):
        return jnp.stack([(p.p / p.q) ** (1 / (p.b - p.a))])
