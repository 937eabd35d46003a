"""`simulate`: solve an ODE model with diffrax, with validated inputs and a status."""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._model import ODEModel
from ._params import is_concrete
from ._precision import resolve_dtype
from ._progress import ProgressBar
from ._solution import Solution, Status

#: default (rtol, atol) per precision.
DEFAULT_TOLERANCES = {jnp.dtype("float64"): (1e-8, 1e-8), jnp.dtype("float32"): (1e-5, 1e-5)}


def initial_state(model, y0, dtype=None, what: str = "y0") -> jax.Array:
    """`y0` as an array in the model's state order, checked for shape and sign.

    `y0` may be an array of shape `(n_states,)` or a dict `{state name: value}`; `what`
    names it in error messages (e.g. "history" for a delay model).
    """
    names = model.state_names
    if isinstance(y0, dict):
        unknown = sorted(set(y0) - set(names))
        missing = [n for n in names if n not in y0]
        if unknown or missing:
            raise ValueError(
                f"{what} for {type(model).__name__} needs exactly the states {names}; "
                f"unknown {unknown}, missing {missing}"
            )
        y0 = jnp.stack([jnp.asarray(y0[n]) for n in names])
    y0 = jnp.asarray(y0, dtype)
    if y0.shape != (len(names),):
        raise ValueError(
            f"{what} must have shape ({len(names)},) for the states {names} of "
            f"{type(model).__name__}, got shape {y0.shape}"
        )
    if model.nonnegative and is_concrete(y0):
        v = np.asarray(y0)
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"{what} must be finite and non-negative (populations), got {dict(zip(names, v.tolist()))}")
    return y0


def checked_params(model, params, base: type):
    """`params` (default: the model's) after checking `model` is a `base` and `params` its class."""
    if not isinstance(model, base):
        raise TypeError(f"model must be a tumorjax {base.__name__}, got {type(model).__name__}")
    params = model.default_params() if params is None else params
    if not isinstance(params, model.params_class):
        raise TypeError(
            f"{type(model).__name__} takes {model.params_class.__name__}, got {type(params).__name__}"
        )
    return params


def check_n_save(n_save) -> None:
    """Saved points per simulation: an integer >= 2 (the start and the end)."""
    if not (isinstance(n_save, int | np.integer) and n_save >= 2):
        raise ValueError(f"n_save must be an integer >= 2 (saved points, start and end included), got {n_save!r}")


def time_grid(t_span, ts, n_save: int, dtype):
    """`(t0, t1, ts)` as arrays: `ts` defaults to `n_save` points over `t_span`; checked when concrete."""
    t0, t1 = (jnp.asarray(t, dtype) for t in t_span)
    if is_concrete(t0, t1) and not float(t1) > float(t0):
        raise ValueError(f"t_span must satisfy t1 > t0, got {tuple(t_span)}")
    if ts is None:
        check_n_save(n_save)
        ts = jnp.linspace(t0, t1, n_save, dtype=dtype)
    ts = jnp.asarray(ts, dtype)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ValueError(f"ts must be 1D with at least one time, got shape {ts.shape}")
    if is_concrete(ts) and np.any(np.diff(np.asarray(ts)) < 0):
        raise ValueError("ts must be non-decreasing")
    if is_concrete(t0, t1, ts) and not float(t0) <= float(ts[0]) <= float(ts[-1]) <= float(t1):
        raise ValueError(f"ts must lie in t_span = {tuple(t_span)}, got ts from {float(ts[0]):g} to {float(ts[-1]):g}")
    return t0, t1, ts


def _status(model, params, ts, ys, t_stop, y_stop, result):
    f_stop = model.vector_field(t_stop, y_stop, params)
    stop_finite = jnp.all(jnp.isfinite(y_stop)) & jnp.all(jnp.isfinite(f_stop))
    row_finite = jnp.all(jnp.isfinite(ys), axis=-1)
    first_bad = jnp.argmin(row_finite)
    ok = result == diffrax.RESULTS.successful
    solver_code = jnp.select(
        [result == diffrax.RESULTS.max_steps_reached, result == diffrax.RESULTS.dt_min_reached,
         result == diffrax.RESULTS.nonfinite],
        [Status.MAX_STEPS, Status.STEP_SIZE, Status.NONFINITE],
        Status.SOLVER_FAILURE,
    )
    status = jnp.where(
        ok,
        jnp.where(jnp.all(row_finite), Status.SUCCESS, Status.NONFINITE),
        jnp.where(stop_finite, solver_code, Status.NONFINITE),
    )
    last_good = ts[ts.shape[0] - 1 - jnp.argmax(row_finite[::-1])]
    t_stop = jnp.where(jnp.isfinite(t_stop), t_stop, last_good)
    t_stop = jnp.where(ok & ~jnp.all(row_finite), ts[first_bad], t_stop)
    return status.astype(jnp.int32), t_stop


@eqx.debug.assert_max_traces(max_traces=None)  # counts traces; tests read eqx.debug.get_num_traces
def _solve_impl(model, params, y0, t0, t1, ts, solver, rtol, atol, dt0, max_steps, progress_meter, adjoint):
    controller = diffrax.PIDController(rtol=rtol, atol=atol)
    jumps = model.jump_times()
    if jumps is not None:
        controller = diffrax.ClipStepSizeController(controller, jump_ts=jumps)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(model),
        solver,
        t0,
        t1,
        dt0,
        y0,
        params,
        saveat=diffrax.SaveAt(ts=ts, t1=True),
        stepsize_controller=controller,
        max_steps=max_steps,
        progress_meter=progress_meter,
        adjoint=adjoint,
        throw=False,
    )
    ys, t_stop, y_stop = sol.ys[:-1], sol.ts[-1], sol.ys[-1]
    status, t_stop = _status(model, params, ts, ys, t_stop, y_stop, sol.result)
    stats = {k: sol.stats[k] for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")}
    return Solution(ts=ts, ys=ys, status=status, t_stop=t_stop, stats=stats, state_names=model.state_names)


_solve = eqx.filter_jit(_solve_impl)


def simulate(
    model: ODEModel,
    params=None,
    y0=None,
    t_span=(0.0, 1.0),
    *,
    ts=None,
    n_save: int = 201,
    solver: diffrax.AbstractSolver | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    dt0: float | None = None,
    max_steps: int = 100_000,
    dtype=None,
    progress: bool = False,
    adjoint: diffrax.AbstractAdjoint | None = None,
    throw: bool = False,
) -> Solution:
    """Solve `model` from `y0` over `t_span` and return a [`tumorjax.Solution`][].

    **Arguments:**

    - `model`: an [`tumorjax.ODEModel`][].
    - `params`: its parameter pytree (default: `model.default_params()`).
    - `y0`: initial state, an array `(n_states,)` or a dict by state name.
    - `t_span`: `(t0, t1)` in the model's time units.
    - `ts`: save times in `t_span`, non-decreasing; default `n_save` (>= 2) equally spaced points over `t_span`.
    - `solver`: a diffrax solver; default `Kvaerno5` for stiff models, `Tsit5` otherwise.
    - `rtol`, `atol`: positive PID controller tolerances; defaults depend on `dtype` (`DEFAULT_TOLERANCES`).
    - `dt0`: initial step (default: diffrax's heuristic).
    - `dtype`: `float32` or `float64` (default: JAX's current default; float64 needs x64 on).
    - `progress`: draw a progress bar on stderr.
    - `adjoint`: diffrax adjoint; the default `RecursiveCheckpointAdjoint` checkpoints, so
      gradients of long solves fit in memory.
    - `throw`: raise `RuntimeError` if the solve fails (otherwise read `sol.status`/`sol.message`).

    Parameters, `y0`, `t_span` and `ts` are traced: changing their values never recompiles.
    The call is `vmap`- and `grad`-compatible.
    """
    params = checked_params(model, params, ODEModel)
    if y0 is None:
        raise ValueError(f"y0 is required: initial values of {model.state_names}")
    dtype = resolve_dtype(dtype)
    y0 = initial_state(model, y0, dtype)
    t0, t1, ts = time_grid(t_span, ts, n_save, dtype)
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol is not None and is_concrete(tol) and not float(tol) > 0:
            raise ValueError(f"{name} must be a positive number, got {tol!r}")
    default_rtol, default_atol = DEFAULT_TOLERANCES[jnp.dtype(dtype)]
    rtol = jnp.asarray(default_rtol if rtol is None else rtol, dtype)
    atol = jnp.asarray(default_atol if atol is None else atol, dtype)
    if solver is None:
        solver = diffrax.Kvaerno5() if model.stiff else diffrax.Tsit5()
    # the model's own arrays (e.g. infusion times and rates) in the solve's precision, as diffrax requires
    model = jax.tree_util.tree_map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, model)
    sol = _solve(
        model,
        params.astype(dtype),
        y0,
        t0,
        t1,
        ts,
        solver,
        rtol,
        atol,
        dt0,
        max_steps,
        ProgressBar() if progress else diffrax.NoProgressMeter(),
        diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint,
    )
    if throw and is_concrete(sol.status):
        sol.raise_if_failed()
    return sol
