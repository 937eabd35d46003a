"""Ready-made problems: the classical growth laws fitted to tumour-volume series (Benzekry et al. 2014).

Every law starts from V(t0) = `V0` (default 1 mm^3, about the 1e6 injected cells, at t0 = 0) and
uses the seed-000 models `TumourGrowth` and `BertalanffyGrowth`:

| law | dV/dt | fitted |
|---|---|---|
| exponential | r V | r |
| logistic | r V (1 - V/K) | r, K |
| gompertz | r V ln(K/V) | r, K |
| bertalanffy | p V^(2/3) - q V | p, q |
| power | p V^a | p, a |

plus the noise level `noise.sigma` of the error model sd = sigma * V^alpha with alpha = 0.84
(Benzekry et al. 2014's estimate for caliper volumes) unless another `noise` is given.
"""

import numpy as np

from ..ode import BertalanffyGrowth, TumourGrowth
from ._noise import NoiseModel, Power
from ._problem import Problem
from ._transforms import Logit

#: law name -> (model, fixed/starting values, fitted names with transforms).
_LAWS = {
    "exponential": (lambda: TumourGrowth(law="exponential"), {"r": 0.3}, {"r": "log"}),
    "logistic": (lambda: TumourGrowth(law="logistic"), {"r": 0.5, "K": 3e3}, {"r": "log", "K": "log"}),
    "gompertz": (lambda: TumourGrowth(law="gompertz"), {"r": 0.08, "K": 1e4}, {"r": "log", "K": "log"}),
    "bertalanffy": (lambda: BertalanffyGrowth(), {"p": 1.0, "q": 0.05, "a": 2 / 3, "b": 1.0},
                    {"p": "log", "q": "log"}),
    "power": (lambda: BertalanffyGrowth(), {"p": 1.0, "q": 0.0, "a": 0.7, "b": 1.0},
              {"p": "log", "a": Logit(0.05, 1.0)}),
}
GROWTH_LAWS = tuple(_LAWS)

#: Benzekry et al. 2014: caliper error sd proportional to V^0.84.
BENZEKRY_ALPHA = 0.84


def growth_problem(law: str, *, V0: float = 1.0, t0: float = 0.0, noise: NoiseModel | None = None,
                   fit_V0: bool = False, **values) -> Problem:
    """A [`Problem`][] fitting growth law `law` (one of `GROWTH_LAWS`) to volume data.

    The tumour has volume `V0` at time `t0`; `values` override starting values (e.g.
    `K=5e3`); `fit_V0=True` also fits `y0.T` (log scale). `V0` must be > 0: from 0 every law stays
    at 0, and Gompertz takes ln(K/V0).
    """
    if law not in _LAWS:
        raise ValueError(f"unknown growth law {law!r}; choose from {GROWTH_LAWS}")
    if not (np.isfinite(V0) and V0 > 0):
        raise ValueError(f"V0 must be a finite volume > 0, got {V0!r}")
    make, start, fitted = _LAWS[law]
    model = make()
    params = model.default_params().replace(**{**start, **values})
    noise = Power(sigma=0.2, exponent=BENZEKRY_ALPHA) if noise is None else noise
    fit = dict(fitted)
    if fit_V0:
        fit["y0.T"] = "log"
    fit["noise.sigma"] = "log"
    return Problem(model, fit, {"T": V0}, params=params, noise=noise, observe="T", t0=t0)
