"""Time-dependent therapy inputs as differentiable pytrees."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._params import is_concrete


class PiecewiseConstant(eqx.Module):
    r"""A piecewise-constant input $u(t)$: `values[i]` on `[times[i], times[i+1])`.

    Zero before `times[0]`; `values[-1]` holds after `times[-1]`. Both arrays are
    leaves, so a schedule can be optimised by gradient. The switch times are handed to
    the step-size controller as jumps so the adaptive solver never steps across one.

    **Arguments:**

    - `times`: increasing switch times, shape `(k,)`.
    - `values`: the rate on each interval, shape `(k,)`, in the units of the input it drives.
    """

    times: Float[Array, " k"]
    values: Float[Array, " k"]

    def __init__(self, times, values):
        times, values = jnp.asarray(times, float), jnp.asarray(values, float)
        if times.ndim != 1 or times.shape != values.shape:
            raise ValueError(
                f"times and values must be 1D of the same length, got {times.shape} and {values.shape}"
            )
        if is_concrete(times) and np.any(np.diff(np.asarray(times)) <= 0):
            raise ValueError(f"times must be strictly increasing, got {np.asarray(times)}")
        self.times, self.values = times, values

    def __call__(self, t):
        idx = jnp.searchsorted(self.times, t, side="right") - 1
        return jnp.where(idx >= 0, self.values[jnp.clip(idx, 0)], 0.0)
