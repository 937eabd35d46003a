"""`Problem`: which parameters of an ODE model to fit, on what scale, against which observable and noise."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel, Parameters, simulate
from ..core._params import is_concrete
from ..core._simulate import checked_params, initial_state
from ..data import Dataset
from ._noise import Gaussian, NoiseModel
from ._optimize import forward_gradient
from ._transforms import Transform, as_transform

#: prefixes of fit names that are not model parameters.
Y0_PREFIX, NOISE_PREFIX = "y0.", "noise."
#: gradient rules of `Problem.loss`; "auto" takes forward mode up to this many fitted names.
GRADIENTS, FORWARD_UP_TO = ("auto", "forward", "reverse"), 6


class Problem(eqx.Module):
    r"""A calibration problem: model, fixed values, fitted names with transforms, observable, noise.

    The fitted vector $z$ lives in an unconstrained space; parameter $i$ is
    $x_i = \text{transform}_i^{-1}(z_i)$. Names are the model's parameter names (e.g. `"r"`),
    initial states as `"y0.<state>"` (e.g. `"y0.T"`) and noise parameters as `"noise.<name>"`
    (e.g. `"noise.sigma"`). The model output at the data times is
    `simulate(model, params, y0, (t0, t_last), ts=times).ys[:, observe]`.

    **Arguments:**

    - `model`: an [`tumorjax.ODEModel`][].
    - `fit`: `{name: transform}` in order; a transform is `"log"`, `"identity"`,
      `("logit", lower, upper)` or a [`tumorjax.calibration.Transform`][].
    - `y0`: the initial state (array or dict by state name); fitted entries start from it.
    - `params`: fixed values and starting values of fitted ones (default: the model's).
    - `noise`: a noise model (default `Gaussian()`); its values are starts or fixed values.
    - `observe`: the observed state's name (default: the first state).
    - `t0`: the time of `y0` (data must not precede it).
    - `rtol`, `atol`, `max_steps`: solver settings (static). `max_steps` bounds the reverse pass of
      the checkpointed adjoint, so a small value keeps gradients cheap (1000: gradient/forward
      cost about 8 here, against 18 at 20000); a solve that needs more fails with `inf` NLL.
    - `gradient`: how the optimiser's gradient is computed (static): `"forward"` (one forward-mode
      tangent per fitted name, diffrax `ForwardMode`), `"reverse"` (the checkpointed adjoint) or
      `"auto"` (forward up to 6 fitted names, where it measured 2.6-6x cheaper; reverse above).

    Every bad value (unknown name, bad bounds, a start outside its domain, a non-finite `t0`,
    non-positive tolerances) is a `ValueError` here, before any tracing; a `noise` that is not a
    noise model is a `TypeError`. A new `Problem` with other values but the same structure reuses the
    compiled fit (every value is a traced leaf).
    """

    model: ODEModel
    params: Parameters
    y0: jax.Array
    t0: jax.Array
    noise: NoiseModel
    transforms: tuple[Transform, ...]
    names: tuple[str, ...] = eqx.field(static=True)
    observe: int = eqx.field(static=True)
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    gradient: str = eqx.field(static=True)

    def __init__(self, model, fit, y0, *, params=None, noise=None, observe=None, t0=0.0, rtol=1e-8,
                 atol=1e-8, max_steps=1000, gradient="auto"):
        params = checked_params(model, params, ODEModel)
        self.model, self.params = model, params
        self.y0 = initial_state(model, y0, np.float64)
        self.t0 = np.float64(t0)
        if not np.isfinite(self.t0):
            raise ValueError(f"t0 must be finite, got {t0!r}")
        self.noise = Gaussian() if noise is None else noise
        if not isinstance(self.noise, NoiseModel):
            raise TypeError(f"noise must be a tumorjax.calibration noise model, got {type(noise).__name__}")
        self.observe = model.state_index(observe) if observe is not None else 0
        if not isinstance(fit, dict) or not fit:
            raise ValueError("fit must be a non-empty dict {name: transform}, e.g. {'r': 'log'}")
        known = self.known_names()
        unknown = [n for n in fit if n not in known]
        if unknown:
            raise ValueError(
                f"unknown parameter name(s) {unknown} for {type(model).__name__}; model parameters: "
                f"{', '.join(params.names())}; initial states: {', '.join(Y0_PREFIX + s for s in model.state_names)}; "
                f"noise: {', '.join(NOISE_PREFIX + s for s in self.noise.names)}"
            )
        self.names = tuple(fit)
        if gradient not in GRADIENTS:
            raise ValueError(f"unknown gradient {gradient!r}; choose from {GRADIENTS}")
        self.gradient = gradient
        self.transforms = tuple(as_transform(t) for t in fit.values())
        self.rtol, self.atol, self.max_steps = float(rtol), float(atol), int(max_steps)
        if not (self.rtol > 0 and self.atol > 0 and np.isfinite(self.rtol) and np.isfinite(self.atol)):
            raise ValueError(f"rtol and atol must be finite and > 0, got rtol={rtol!r}, atol={atol!r}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps!r}")
        self.check_natural(self.natural_start())

    def check_natural(self, natural) -> None:
        """Raise a `ValueError` if a value (natural scale, `names` order) is outside its transform's domain."""
        for name, tr, x in zip(self.names, self.transforms, natural):
            tr.check(name, x)

    def known_names(self) -> tuple[str, ...]:
        """Every name `fit` may use."""
        return (*self.params.names(), *(Y0_PREFIX + s for s in self.model.state_names),
                *(NOISE_PREFIX + s for s in self.noise.names))

    @property
    def n_free(self) -> int:
        return len(self.names)

    def natural_start(self) -> np.ndarray:
        """Starting values of the fitted names on their natural scale."""
        noise = self.noise.values()
        out = []
        for name in self.names:
            if name.startswith(Y0_PREFIX):
                out.append(self.y0[self.model.state_index(name[len(Y0_PREFIX):])])
            elif name.startswith(NOISE_PREFIX):
                out.append(noise[name[len(NOISE_PREFIX):]])
            else:
                out.append(getattr(self.params, name))
        return np.array([float(np.asarray(v)) for v in out])

    def to_z(self, natural) -> jax.Array:
        """z from natural values (array in `names` order, or a dict by name)."""
        if isinstance(natural, dict):
            missing = [n for n in self.names if n not in natural]
            if missing:
                raise ValueError(f"missing value(s) for {missing}; fitted names: {self.names}")
            natural = [natural[n] for n in self.names]
        natural = jnp.asarray(natural, float)
        return jnp.stack([tr.forward(natural[..., i]) for i, tr in enumerate(self.transforms)], axis=-1)

    def to_natural(self, z) -> jax.Array:
        """Natural values from z, shape `(..., n_free)`."""
        z = jnp.asarray(z)
        return jnp.stack([tr.inverse(z[..., i]) for i, tr in enumerate(self.transforms)], axis=-1)

    def z_start(self) -> jax.Array:
        return self.to_z(self.natural_start())

    def unpack(self, z):
        """`(params, y0, noise values)` for one z."""
        x = self.to_natural(z)
        model_values, y0, noise = {}, self.y0, dict(self.noise.values())
        for i, name in enumerate(self.names):
            if name.startswith(Y0_PREFIX):
                y0 = y0.at[self.model.state_index(name[len(Y0_PREFIX):])].set(x[i])
            elif name.startswith(NOISE_PREFIX):
                noise[name[len(NOISE_PREFIX):]] = x[i]
            else:
                model_values[name] = x[i]
        return self.params.replace(**model_values), y0, noise

    def solve(self, z, ts, adjoint=None):
        """The `Solution` at save times `ts` (non-decreasing, >= t0)."""
        params, y0, _ = self.unpack(z)
        return simulate(self.model, params, y0, (self.t0, jnp.maximum(ts[-1], self.t0 + 1e-12)), ts=ts,
                        rtol=self.rtol, atol=self.atol, max_steps=self.max_steps, adjoint=adjoint)

    def predict(self, z, ts, adjoint=None):
        """The observed state at `ts`."""
        return self.solve(z, ts, adjoint).ys[:, self.observe]

    def nll(self, z, time, value, mask=None, adjoint=None):
        """Negative log-likelihood of one series; `inf` where the solve fails."""
        mask = jnp.ones(jnp.shape(value), bool) if mask is None else mask
        sol = self.solve(z, time, adjoint)
        _, _, noise = self.unpack(z)
        v = self.noise.nll(value, sol.ys[:, self.observe], mask, noise)
        return jnp.where((sol.status == 0) & jnp.isfinite(v), v, jnp.inf)

    def loss(self, time, value, mask=None):
        """The NLL of one series as a function of z, for the optimiser, with the `gradient` rule."""
        forward = self.gradient == "forward" or (self.gradient == "auto" and self.n_free <= FORWARD_UP_TO)
        if forward:
            return forward_gradient(lambda z: self.nll(z, time, value, mask, adjoint=HESSIAN_ADJOINT))
        return lambda z: self.nll(z, time, value, mask)

    def check_series(self, time, value, mask=None):
        """`(time, value, mask)` as arrays after checking shapes, finiteness and t >= t0."""
        time, value = np.asarray(time, float), np.asarray(value, float)
        mask = np.ones(value.shape, bool) if mask is None else np.asarray(mask, bool)
        if time.shape != value.shape or mask.shape != value.shape or time.ndim not in (1, 2):
            raise ValueError(f"time, value and mask must have one shape (n,) or (subjects, n); got "
                             f"{time.shape}, {value.shape}, {mask.shape}")
        if not (np.all(np.isfinite(time)) and np.all(np.isfinite(value[mask]))):
            raise ValueError("time and value must be finite (NaN or inf found); drop missing points or mask them")
        if np.any(np.diff(time, axis=-1) < 0):
            raise ValueError("times must be sorted (non-decreasing) within each series")
        if is_concrete(self.t0) and np.any(time < float(self.t0)):
            raise ValueError(f"data times start at {time.min():g}, before the initial time t0 = {float(self.t0):g}")
        self.noise.check_data(value[mask])
        return time, value, mask


def series_from(data, subject=None):
    """`(time, value, mask)` from a `Dataset` (one subject, or all if it has one) or a tuple of arrays."""
    if isinstance(data, Dataset):
        subjects = data.subjects
        if subject is None and len(subjects) != 1:
            raise ValueError(f"the dataset has {len(subjects)} subjects; pass subject=... or use fit_subjects")
        t, v = data.series(subjects[0] if subject is None else subject)
        return t, v, None
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return (*data, None) if len(data) == 2 else tuple(data)
    raise TypeError("data must be a tumorjax.data.Dataset or a tuple (time, value[, mask])")


#: the adjoint for Hessians: forward-mode sensitivities (forward over forward).
HESSIAN_ADJOINT = diffrax.ForwardMode()
