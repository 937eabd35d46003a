"""Running the 3D CAR-T model: the time loop, saving, the repeated infusion, and a differentiable final state."""

import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core._params import is_concrete
from ..core._progress import _draw
from ._accurate_scheme import step_accurate
from ._grid import initial_fields, injection_region
from ._outputs import CARTSolution, observe
from ._params import CARTInitial, CARTNumerics, CARTParams, CARTSetup
from ._reference_scheme import step_reference, warn_if_unstable

SCHEMES = ("reference", "accurate")


def _check(params, initial, num, scheme, D_C_map):
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    if not isinstance(params, CARTParams):
        raise TypeError(f"params must be CARTParams, got {type(params).__name__}")
    if not isinstance(initial, CARTInitial):
        raise TypeError(f"initial must be CARTInitial, got {type(initial).__name__}")
    if not isinstance(num, CARTNumerics):
        raise TypeError(f"numerics must be CARTNumerics, got {type(num).__name__}")
    _check_dose(initial, num)
    if D_C_map is not None:
        if scheme != "accurate":
            raise ValueError("a spatially varying D_C (D_C_map) needs scheme='accurate'")
        if jnp.shape(D_C_map) != num.shape:
            raise ValueError(f"D_C_map must have the grid shape {num.shape}, got {jnp.shape(D_C_map)}")
        if is_concrete(D_C_map) and np.any(np.asarray(D_C_map) <= 0):
            raise ValueError(f"D_C_map must be positive everywhere, got min {np.min(np.asarray(D_C_map))}")


def _check_dose(initial, num):
    """A second dose (dose2 > 0) is added after step round(t_dose2/dt): that must be a step in [1, n_steps]."""
    if not is_concrete(initial.dose2, initial.t_dose2):
        return
    dose, t = np.broadcast_arrays(np.asarray(initial.dose2), np.asarray(initial.t_dose2))
    t = t[dose > 0]
    k = np.round(t / num.dt)
    bad = (k < 1) | (k > num.n_steps)
    if np.any(bad):
        raise ValueError(f"CARTInitial.t_dose2 must round to a step in [dt, T] = [{num.dt}, {num.T}] day when "
                         f"dose2 > 0 (the dose is added after step round(t_dose2/dt)), got {t[bad][:5]}")


def _step(U, h, p, num, scheme, D_C_map, fixed_jacobi=False):
    """One step of either scheme: (U, h, diagnostics dict)."""
    if scheme == "reference":
        U, sweeps = step_reference(U, p, num, fixed_jacobi)
        return U, h, {"jacobi_sweeps": sweeps}
    U, h, (steps, subs, clamped, ok) = step_accurate(U, h, p, num, D_C_map)
    return U, h, {"reaction_steps": steps, "chemo_substeps": subs, "clamped": clamped, "ok": ok}


def _dose(U, k, initial, num):
    """Add the repeated infusion after step k = round(t_dose2/dt)."""
    due = (k == jnp.round(initial.t_dose2 / num.dt)) & (initial.dose2 > 0)
    return U.at[0].add(jnp.where(due, initial.dose2, 0.0) * injection_region(initial, num))


@eqx.filter_jit
def _advance(carry, p, initial, num, scheme, n, D_C_map):
    """n steps by lax.scan, then the summaries of the new state and the diagnostics of the chunk."""

    def body(c, _):
        U, h, k = c
        U, h, diag = _step(U, h, p, num, scheme, D_C_map)
        k = k + 1
        return (_dose(U, k, initial, num), h, k), diag

    carry, diags = lax.scan(body, carry, None, length=n)
    agg = {k: (jnp.all(v) if k == "ok" else jnp.sum(v, 0) if k in ("reaction_steps", "clamped")
               else jnp.max(v, 0)) for k, v in diags.items()}
    return carry, observe(carry[0], num, scheme), agg


def simulate_cart(
    setup: CARTSetup | None = None,
    *,
    params: CARTParams | None = None,
    initial: CARTInitial | None = None,
    numerics: CARTNumerics | None = None,
    scheme: str = "reference",
    D_C_map=None,
    dtype=None,
    progress: bool = False,
) -> CARTSolution:
    """Solve the 3D model (1)-(8) and record summaries every `numerics.save_every` steps.

    **Arguments:**

    - `setup`: a [`CARTSetup`][]; `params`, `initial`, `numerics` override its parts.
    - `scheme`: `"reference"` (the author's algorithm, [`step_reference`][]) or `"accurate"`
      ([`step_accurate`][]).
    - `D_C_map`: optional positive field of shape (nx, ny, nz) multiplying D_C (accurate scheme).
    - `dtype`: float32 or float64 (default: JAX's current default).
    - `progress`: a progress bar on stderr.

    The reference scheme warns (RuntimeWarning) when its explicit RK2 is unstable, naming the
    stable step. Parameters and the initial condition are traced (a new value does not
    recompile); the numerics are static.
    """
    setup = CARTSetup() if setup is None else setup
    p = setup.model if params is None else params
    init = setup.initial if initial is None else initial
    num = setup.numerics if numerics is None else numerics
    _check(p, init, num, scheme, D_C_map)
    if scheme == "reference":
        warn_if_unstable(p, init, num)
    U = initial_fields(init, num, dtype)
    dt_ = U.dtype
    p, init = p.astype(dt_), init.astype(dt_)
    if D_C_map is not None:
        D_C_map = jnp.asarray(D_C_map, dt_)
    carry = (U, jnp.asarray(num.dt * 1e-6, dt_), jnp.int32(0))
    records = [observe(U, num, scheme)]
    diags = []
    n_total, k = num.n_steps, 0
    while k < n_total:
        n = min(num.save_every, n_total - k)
        carry, obs, diag = _advance(carry, p, init, num, scheme, n, D_C_map)
        records.append(obs)
        diags.append(diag)
        k += n
        if progress:
            _draw(k / n_total)
    if progress:
        sys.stderr.write("\n")
    steps = np.concatenate([[0], np.minimum(np.arange(1, len(records)) * num.save_every, n_total)])
    stack = {key: np.stack([np.asarray(r[key]) for r in records]) for key in records[0]}
    dstack = {key: np.stack([np.asarray(d[key]) for d in diags]) for key in diags[0]} if diags else {}
    finite = bool(stack.pop("finite").all())
    ok = finite and bool(dstack.get("ok", np.array(True)).all())
    message = "success" if ok else (
        "the solution became non-finite (NaN or inf)" if not finite else
        "the accurate scheme hit its step budget (max_reaction_steps or chemo_substeps) or its D_C_map CG solve "
        "missed its tolerance")
    return CARTSolution(ts=steps * num.dt, final=np.asarray(carry[0]), diagnostics=dstack, ok=ok,
                        message=message, scheme=scheme, numerics=num, **stack)


def final_fields(params: CARTParams, initial: CARTInitial, numerics: CARTNumerics, scheme: str = "accurate",
                 D_C_map=None):
    """The fields after `numerics.n_steps` steps, as one differentiable, jittable function.

    The time loop is a `lax.scan` whose body is `jax.checkpoint`ed, so reverse-mode gradients
    store one state per step (also with respect to a traced `D_C_map`, whose positivity is then not
    checked); the reference scheme's Jacobi then runs a fixed number of masked
    sweeps (same result) so that it can be differentiated too. The fields are NaN when the accurate
    scheme ran out of its step budget (`max_reaction_steps`, `chemo_substeps`) or its CG solve (`D_C_map`)
    missed its tolerance.
    """
    _check(params, initial, numerics, scheme, D_C_map)
    U = initial_fields(initial, numerics, jnp.result_type(params.D_C))

    @jax.checkpoint
    def body(c, _):
        U, h, k, ok = c
        U, h, diag = _step(U, h, params, numerics, scheme, D_C_map, fixed_jacobi=True)
        k = k + 1
        return (_dose(U, k, initial, numerics), h, k, ok & diag.get("ok", True)), None

    init = (U, jnp.asarray(numerics.dt * 1e-6, U.dtype), jnp.int32(0), jnp.asarray(True))
    (U, _, _, ok), _ = lax.scan(body, init, None, length=numerics.n_steps)
    return jnp.where(ok, U, jnp.nan)


def tumour_burden(params: CARTParams, initial: CARTInitial, numerics: CARTNumerics, scheme: str = "accurate",
                  D_C_map=None):
    """Total tumour cells (integral of T_A + T_B over the domain) at the final time; differentiable."""
    U = final_fields(params, initial, numerics, scheme, D_C_map)
    return observe(U, numerics, scheme)["tumour_burden"]
