r"""Treatment protocols of seed 004 as state jumps inside one jitted PDE solve (Secs. 4.3-4.4).

- immune enhancement: $\zeta \to$ `zeta_factor` $\cdot\,\zeta$ after time `t_switch`
  (Fig. 8c-d: 0.5 to 5 at 200 h);
- wide re-injections at fixed times `t_injections`: $i \leftarrow i + fu$, $u \leftarrow (1-f)u$
  everywhere with $f$ = `fraction` (Fig. 11: one at 900 h, f = 0.3);
- threshold-triggered wide injections (Fig. 12): at every step after `t_threshold_start`, an injection as
  soon as $U(t) = 2\pi\int_0^R u\,r\,dr \ge$ `threshold`, i.e. $T_j = \inf\{t > T_{j-1}: U(t) \ge U_{thr}\}$
  (after a jump $U = (1-f)U_{thr} < U_{thr}$, so each crossing injects once).

Every field is an array leaf: a protocol can be vmapped (e.g. over `threshold`) and differentiated.
Jump times become step indices $n = \mathrm{round}((T - t_0)/\Delta t)$ in the solver; the
`reference` scheme adds one step, as the authors' `main.m` does (its first loop runs to step
$T/\Delta t + 1$).
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import _as_array, is_concrete


def _times(x):
    """Injection times as a 1-D float64 host array (traced values pass through)."""
    return x if isinstance(x, jax.Array) else np.asarray(x, dtype=np.float64).reshape(-1)


class Protocol(eqx.Module):
    """A treatment schedule; `Protocol()` is no treatment beyond the initial condition."""

    t_switch: jnp.ndarray = eqx.field(default=math.inf, converter=_as_array)
    zeta_factor: jnp.ndarray = eqx.field(default=1.0, converter=_as_array)
    t_injections: jnp.ndarray = eqx.field(default=(), converter=_times)
    fraction: jnp.ndarray = eqx.field(default=0.3, converter=_as_array)
    threshold: jnp.ndarray = eqx.field(default=math.inf, converter=_as_array)
    t_threshold_start: jnp.ndarray = eqx.field(default=0.0, converter=_as_array)

    def __check_init__(self):
        for name in ("zeta_factor", "fraction", "threshold", "t_injections"):
            v = getattr(self, name)
            if not is_concrete(v):
                continue
            a = np.asarray(v)
            if np.any(np.isnan(a)) or (name != "t_injections" and np.any(a < 0)):
                raise ValueError(f"Protocol.{name} must be a non-negative number, got {a}")
        for name in ("t_switch", "t_threshold_start"):
            v = getattr(self, name)
            if is_concrete(v) and np.any(np.isnan(np.asarray(v))):
                raise ValueError(f"Protocol.{name} must be a time in h (inf for never), got {np.asarray(v)}")
        if is_concrete(self.fraction) and np.any(np.asarray(self.fraction) > 1):
            raise ValueError("Protocol.fraction (share of the uninfected cells an injection infects) must be "
                             f"<= 1, got {np.asarray(self.fraction)}")


def inject(u, i, fraction):
    """A wide injection: a share `fraction` of the uninfected cells becomes infected, everywhere."""
    return (1 - fraction) * u, i + fraction * u
