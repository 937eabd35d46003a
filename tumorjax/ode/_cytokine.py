"""The IL-2 cytokine three-variable model of seed 000 ("The Role of Cytokines")."""

from typing import ClassVar

import jax.numpy as jnp

from ..core import ODEModel, Parameters, param

_SRC = "seed 000, Extending the Model: The Role of Cytokines"


class CytokineParams(Parameters):
    r"""Parameters of

    $$\frac{dT}{dt} = rT(1 - T/K) - \kappa TE,\quad
      \frac{dE}{dt} = s + \alpha_I IE - \delta E,\quad
      \frac{dI}{dt} = \sigma TE - \gamma_I I .$$

    Seed 000 gives no values; these are illustrative. Without IL-2 (`alpha_I = 0`) the
    tumour escapes (R_T = r*delta/(kappa*s) = 20); with it, a growing tumour drives an IL-2
    burst that expands the effectors a thousandfold and eliminates it. The positive
    feedback I*E has no saturation: larger `alpha_I*sigma` make E blow up.
    """

    r: float = param(0.2, "1/day", "intrinsic tumour growth rate", _SRC)
    K: float = param(1e9, "cells", "tumour carrying capacity", _SRC, strict=True)
    kappa: float = param(1e-7, "1/(cell*day)", "mass-action killing coefficient", _SRC)
    s: float = param(1e4, "cells/day", "effector source", _SRC)
    delta: float = param(0.1, "1/day", "effector death rate", _SRC, strict=True)
    alpha_I: float = param(0.01, "1/(ng/ml*day)", "IL-2 proliferation sensitivity", _SRC)
    sigma: float = param(1e-13, "ng/ml/(cell^2*day)", "IL-2 secretion yield per T-E encounter", _SRC)
    gamma_I: float = param(1.0, "1/day", "IL-2 decay rate", _SRC, strict=True)


class CytokineModel(ODEModel):
    """Tumour T, effectors E and IL-2 concentration I."""

    state_names: ClassVar = ("T", "E", "I")
    params_class: ClassVar = CytokineParams

    def vector_field(self, t, y, p: CytokineParams):
        T, E, I = y[0], y[1], y[2]
        return jnp.stack([
            p.r * T * (1 - T / p.K) - p.kappa * T * E,
            p.s + p.alpha_I * I * E - p.delta * E,
            p.sigma * T * E - p.gamma_I * I,
        ])

    def state_scale(self, p: CytokineParams):
        E = 10 * p.s / p.delta
        return jnp.stack([p.K, E, p.sigma * p.K * E / p.gamma_I])
