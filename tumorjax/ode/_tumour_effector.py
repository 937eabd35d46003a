"""The tumour-effector model of seed 000 with pluggable growth, killing and proliferation."""

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel, Parameters, PiecewiseConstant, param
from ..core._params import is_concrete
from ._responses import GROWTH_LAWS, KILLING, PROLIFERATION, growth, killing, proliferation

_SRC = "seed 000, Core Processes"
_KUZ = "Kuznetsov et al. 1994, Bull. Math. Biol. 56:295"


class TumourEffectorParams(Parameters):
    r"""Parameters of

    $$\frac{dT}{dt} = G(T) - F(T)E,\qquad
      \frac{dE}{dt} = s + u(t) + P(T)E - \varepsilon TE - \delta E - \gamma E^2 .$$

    Defaults are the BCL1 lymphoma values of Kuznetsov et al. (1994), the classic instance
    of this model (saturating proliferation, mass-action killing, exhaustion), which is
    bistable: a dormant small tumour and a large tumour are both stable.
    """

    r: float = param(0.18, "1/day", "intrinsic tumour growth rate", f"seed 000 logistic law; {_KUZ} (a)")
    K: float = param(5e8, "cells", "tumour carrying capacity", f"seed 000 logistic law; {_KUZ} (1/b)", strict=True)
    kappa: float = param(1.101e-7, "1/(cell*day)", "mass-action killing coefficient", f"seed 000 Holling I; {_KUZ} (n)")
    k: float = param(1.101, "1/day", "maximal per-effector kill rate", "seed 000 Holling II/III")
    theta: float = param(1e7, "cells", "half-saturation tumour size of killing", "seed 000 Holling II/III", strict=True)
    m: float = param(2.0, "-", "Hill exponent of sigmoidal killing", "seed 000 Holling III", lower=1.0)
    alpha: float = param(
        0.1245, "1/day (saturating) or 1/(cell*day) (mass action)", "effector proliferation rate",
        f"seed 000 Immune Cell Dynamics; {_KUZ} (p)",
    )
    beta: float = param(2.019e7, "cells", "half-saturation tumour size of proliferation", f"{_KUZ} (g)", strict=True)
    eps: float = param(3.422e-10, "1/(cell*day)", "exhaustion coefficient", f"seed 000 exhaustion; {_KUZ} (m)")
    s: float = param(1.3e4, "cells/day", "effector source (sigma in the therapy section)", f"{_KUZ} (s)")
    delta: float = param(0.0412, "1/day", "effector death rate", f"{_KUZ} (d)", strict=True)
    gamma: float = param(0.0, "1/(cell*day)", "effector self-limitation", "seed 000 Immune Cell Dynamics")
    u: float = param(0.0, "cells/day", "constant immunotherapy infusion", "seed 000 Therapeutic Implications")


class TumourEffector(ODEModel):
    """Tumour T and effector cells E with a chosen growth law, killing and proliferation.

    **Arguments:**

    - `growth`: `"exponential"`, `"logistic"` (default) or `"gompertz"`.
    - `killing`: `"mass_action"` (default), `"michaelis_menten"` or `"hill"`.
    - `proliferation`: `"mass_action"` or `"saturating"` (default).
    - `infusion`: an optional time-dependent infusion (e.g. [`tumorjax.PiecewiseConstant`][])
      added to the constant rate `u`; its values are differentiable.
    """

    growth: str = eqx.field(default="logistic", static=True)
    killing: str = eqx.field(default="mass_action", static=True)
    proliferation: str = eqx.field(default="saturating", static=True)
    infusion: PiecewiseConstant | None = None

    state_names: ClassVar = ("T", "E")
    params_class: ClassVar = TumourEffectorParams

    def __check_init__(self):
        for name, value, options in (
            ("growth", self.growth, GROWTH_LAWS),
            ("killing", self.killing, KILLING),
            ("proliferation", self.proliferation, PROLIFERATION),
        ):
            if value not in options:
                raise ValueError(f"unknown {name} {value!r}; choose from {options}")
        if self.infusion is not None and is_concrete(self.infusion.values) and np.any(self.infusion.values < 0):
            raise ValueError(f"infusion rates must be >= 0 [cells/day], got values {np.asarray(self.infusion.values)}")

    def therapy(self, t, p: TumourEffectorParams):
        """Total infusion rate u(t) [cells/day]."""
        return p.u if self.infusion is None else p.u + self.infusion(t)

    def kill_rate(self, T, p: TumourEffectorParams):
        """Per-effector kill rate F(T) [1/day]."""
        return killing(self.killing, T, p.kappa, p.k, p.theta, p.m)

    def effector_growth_rate(self, T, E, p: TumourEffectorParams):
        """Per-capita effector growth from the tumour: P(T) - eps*T - delta - gamma*E [1/day]."""
        return proliferation(self.proliferation, T, p.alpha, p.beta) - p.eps * T - p.delta - p.gamma * E

    def vector_field(self, t, y, p: TumourEffectorParams):
        T, E = y[0], y[1]
        dT = growth(self.growth, T, p.r, p.K) - self.kill_rate(T, p) * E
        dE = self.therapy(t, p) + p.s + self.effector_growth_rate(T, E, p) * E
        return jnp.stack([dT, dE])

    def jump_times(self):
        return None if self.infusion is None else self.infusion.times

    def state_scale(self, p: TumourEffectorParams):
        return jnp.stack([p.K, 10 * (p.s + p.u) / p.delta])
