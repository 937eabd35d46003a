"""Run a function over an ensemble: vmapped, chunked to bounded memory, sharded across devices."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..core import ODEModel, simulate
from ..core._simulate import checked_params
from ._designs import _check_columns

#: the mesh axis name the ensemble is split along.
AXIS = "ensemble"


def _size(batch) -> int:
    sizes = {np.shape(x)[0] if np.ndim(x) else -1 for x in jax.tree_util.tree_leaves(batch)}
    if len(sizes) != 1 or -1 in sizes:
        raise ValueError(f"every leaf of the batch needs the same leading (ensemble) axis, got sizes {sorted(sizes)}")
    return sizes.pop()


def _devices(devices):
    if devices is None:
        return None
    if devices == "all":
        return jax.devices()
    if isinstance(devices, int):
        if not 1 <= devices <= jax.device_count():
            raise ValueError(f"devices={devices}: {jax.device_count()} device(s) available")
        return jax.devices()[:devices]
    return list(devices)


def _local(fn, batch, batch_size):
    return jax.vmap(fn)(batch) if batch_size is None else jax.lax.map(fn, batch, batch_size=batch_size)


@eqx.debug.assert_max_traces(max_traces=None)  # counts traces; tests read eqx.debug.get_num_traces
def _map_impl(fn, batch, batch_size, mesh):
    if mesh is None:
        return _local(fn, batch, batch_size)
    spec = PartitionSpec(AXIS)
    return jax.shard_map(lambda x: _local(fn, x, batch_size), mesh=mesh, in_specs=spec, out_specs=spec,
                         check_vma=False)(batch)


# Module level, so that calls with the same `fn` (by identity, or equal `eqx.Partial`s with equal static
# parts), structure, shapes and chunking reuse one compilation.
_map = eqx.filter_jit(_map_impl)


def ensemble_map(fn, batch, *, batch_size: int | None = None, devices=None):
    """`fn` applied to every member of `batch` (a pytree whose leaves share a leading axis N).

    - No options: one `jax.vmap` over all N members.
    - `batch_size=B`: `jax.lax.map(fn, batch, batch_size=B)`, i.e. vmap over B members at a
      time in a sequential loop, so memory grows with B, not N (B need not divide N).
    - `devices` (a list, an int count, or `"all"`): the members are split along a 1D
      `jax.sharding.Mesh` with `NamedSharding(mesh, PartitionSpec("ensemble"))` and each
      device maps its share (`jax.shard_map`), chunked by `batch_size` if given.

    N is padded (repeating the last member; the padding is dropped from the result) to whole
    chunks of `batch_size` on every device, so with the same `batch_size` every member is
    computed by the same program and sharded and unsharded runs agree to the last bit
    (tested). Different chunk widths may differ in the last bits (vectorised arithmetic).
    Compiled once per `fn`, batch structure and shapes, `batch_size` and devices: a second such
    call reuses the compilation. Returns the stacked results (leading axis N).
    """
    n = _size(batch)
    if batch_size is not None and not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")

    devs = _devices(devices)
    # Pad to whole chunks on every device (repeating the last member), so each chunk has the
    # same width B whatever the device count: the per-member arithmetic is then the same program.
    n_shards = 1 if devs is None else len(devs)
    n_pad = -n % (n_shards * (batch_size or 1))
    if n_pad:
        batch = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], n_pad, axis=0)]), batch)
    mesh = None if devs is None else Mesh(np.array(devs), (AXIS,))
    if mesh is not None:
        batch = jax.device_put(batch, NamedSharding(mesh, PartitionSpec(AXIS)))
    out = _map(fn, batch, batch_size, mesh)
    return jax.tree_util.tree_map(lambda x: x[:n], out) if n_pad else out


def member_inputs(model: ODEModel, design: dict | None, params=None, y0=None):
    """`(params, y0)` batched along the ensemble axis from a design (see `tumorjax.ensemble.grid`).

    Design columns named like parameters replace them; columns `"y0.<state>"` replace that
    initial state. Parameters already batched (leaves of shape `(N,)`) and a `y0` of shape
    `(N, n_states)` are ensembles too; everything else is shared by all members.
    """
    params = checked_params(model, params, ODEModel)
    design = {} if design is None else dict(design)
    y0_cols = {k[3:]: v for k, v in design.items() if k.startswith("y0.")}
    p_cols = {k: v for k, v in design.items() if not k.startswith("y0.")}
    unknown = sorted(set(p_cols) - set(params.names())) + sorted(
        "y0." + s for s in set(y0_cols) - set(model.state_names))
    if unknown:
        raise ValueError(f"unknown design column(s) {unknown} for {type(model).__name__}; parameters: "
                         f"{', '.join(params.names())}; initial states: "
                         f"{', '.join('y0.' + s for s in model.state_names)}")
    if y0 is None:
        raise ValueError(f"y0 is required: initial values of {model.state_names}")
    y0 = jnp.stack([jnp.asarray(y0[s]) for s in model.state_names], -1) if isinstance(y0, dict) else jnp.asarray(y0)
    sizes = {_check_columns(design)} if design else set()
    sizes |= {np.shape(x)[0] for x in jax.tree_util.tree_leaves(params) if np.ndim(x) > 0}
    if y0.ndim == 2:
        sizes.add(y0.shape[0])
    if len(sizes) > 1:
        raise ValueError(f"ensemble inputs disagree on the number of members: {sorted(sizes)}")
    if not sizes:
        raise ValueError("nothing to vary: give a design, batched parameters or a batched y0")
    n = sizes.pop()
    params = params.replace(**{k: np.asarray(v, float) for k, v in p_cols.items()})
    params = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(jnp.asarray(x, float), (n,)), params)
    y0 = jnp.broadcast_to(y0, (n, model.n_states))
    for s, v in y0_cols.items():
        y0 = y0.at[:, model.state_index(s)].set(jnp.asarray(v, float))
    return params, y0


def simulate_ensemble(model: ODEModel, design: dict | None = None, *, params=None, y0=None, t_span=(0.0, 1.0),
                      ts=None, n_save: int = 201, batch_size: int | None = None, devices=None, **kwargs):
    """[`tumorjax.simulate`][] over every member of an ensemble in one compiled call.

    **Arguments:**

    - `design`: `{name: values (N,)}` from [`grid`][], [`latin_hypercube`][] or by hand;
      parameter names and `"y0.<state>"` columns (initial-condition ensembles).
    - `params`, `y0`: the shared values (batched leaves / a `(N, n_states)` `y0` also work).
    - `t_span`, `ts`, `n_save` and `kwargs` (solver, rtol, atol, dtype, ...) go to `simulate`.
    - `batch_size`, `devices`: chunking and sharding, see [`ensemble_map`][].

    Returns a batched [`tumorjax.Solution`][] (leading axis N; `sol.status` per member).
    """
    params, y0 = member_inputs(model, design, params, y0)
    ts = None if ts is None else jnp.asarray(ts, float)
    one = eqx.Partial(_simulate_member, model, tuple(t_span), ts, n_save, kwargs)  # equal across equal calls
    return ensemble_map(one, (params, y0), batch_size=batch_size, devices=devices)


def _simulate_member(model, t_span, ts, n_save, kwargs, member):
    p, y = member
    return simulate(model, p, y, t_span, ts=ts, n_save=n_save, **kwargs)
