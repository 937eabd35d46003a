r"""Observation noise models: the negative log-likelihood of data y given the model output f.

Each is a full density (constants included), so AIC/BIC compare across noise models too.
Noise parameters are named `noise.<name>` in a fit (e.g. `"noise.sigma"`); unfitted ones
keep the value given here.
"""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..core._params import _as_array, is_concrete

_LOG_2PI = float(np.log(2 * np.pi))


def _gaussian_nll(r, sd, mask):
    return 0.5 * jnp.sum(jnp.where(mask, (r / sd) ** 2 + 2 * jnp.log(sd) + _LOG_2PI, 0.0))


class NoiseModel(eqx.Module):
    """Base class: `nll(y, f, mask, values)` with `values` the noise parameters by name."""

    def __check_init__(self):
        for name, value in self.values().items():
            if not is_concrete(value):
                continue
            if name == "sigma" and not (float(value) > 0 and np.isfinite(float(value))):
                raise ValueError(f"{type(self).__name__}: sigma must be > 0 and finite, got {float(value)}")
            if not np.isfinite(float(value)):
                raise ValueError(f"{type(self).__name__}: {name} must be finite, got {float(value)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values())

    def values(self) -> dict:
        """Default values of the noise parameters."""
        raise NotImplementedError

    def nll(self, y, f, mask, values):
        raise NotImplementedError

    def check_data(self, value) -> None:
        """A `ValueError` if the data are outside the model's support."""


class Gaussian(NoiseModel):
    r"""Additive noise $y = f + \sigma\varepsilon$, $\varepsilon \sim N(0, 1)$."""

    sigma: float = eqx.field(default=1.0, converter=_as_array)

    def values(self):
        return {"sigma": self.sigma}

    def nll(self, y, f, mask, values):
        return _gaussian_nll(y - f, values["sigma"], mask)


class LogNormal(NoiseModel):
    r"""Multiplicative noise $\log y = \log f + \sigma\varepsilon$ (positive data only).

    The density of y includes the Jacobian $\sum \log y$, so the likelihood is comparable with
    the other noise models.
    """

    sigma: float = eqx.field(default=0.1, converter=_as_array)

    def values(self):
        return {"sigma": self.sigma}

    def nll(self, y, f, mask, values):
        y_safe = jnp.where(mask, y, 1.0)
        r = jnp.log(y_safe) - jnp.log(jnp.abs(f) + 1e-300)
        return _gaussian_nll(r, values["sigma"], mask) + jnp.sum(jnp.where(mask, jnp.log(y_safe), 0.0))

    def check_data(self, value):
        if np.any(np.asarray(value) <= 0):
            raise ValueError("log-normal noise needs positive data; found values <= 0 (use Gaussian or Power "
                             "noise, or drop/clip those points and say so)")


class Power(NoiseModel):
    r"""Heteroscedastic noise $y = f + \sigma |f|^{\alpha}\varepsilon$.

    $\alpha = 1$ is proportional (constant coefficient of variation) noise; Benzekry et al. 2014
    found $\alpha \approx 0.84$ for caliper volumes. The exponent is `noise.exponent` in a fit.
    """

    sigma: float = eqx.field(default=0.1, converter=_as_array)
    exponent: float = eqx.field(default=1.0, converter=_as_array)

    def values(self):
        return {"sigma": self.sigma, "exponent": self.exponent}

    def nll(self, y, f, mask, values):
        sd = values["sigma"] * (jnp.abs(f) + 1e-300) ** values["exponent"]
        return _gaussian_nll(y - f, sd, mask)


def Proportional(sigma: float = 0.1) -> Power:
    r"""Proportional noise $y = f(1 + \sigma\varepsilon)$: `Power` with exponent 1."""
    return Power(sigma=sigma, exponent=1.0)
