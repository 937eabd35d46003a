"""Equilibria by damped Newton from many starts at once."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ..core._simulate import checked_params
from ._stability import classify, eigenvalues, jacobian


@dataclasses.dataclass(frozen=True)
class Equilibrium:
    """A steady state with its linearisation."""

    state: np.ndarray
    eigenvalues: np.ndarray
    stable: bool
    kind: str
    residual: float
    state_names: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "state": dict(zip(self.state_names, self.state.tolist())),
            "eigenvalues": [[float(e.real), float(e.imag)] for e in self.eigenvalues],
            "stable": bool(self.stable),
            "kind": self.kind,
            "residual": float(self.residual),
        }


def _newton(f, y, scale, n_iter):
    """Damped Newton: each step is halved until the scaled residual norm decreases.

    Returns the last iterate, the size of its last step relative to `scale` (0 once
    no step improves the residual, e.g. at an exact root) and its scaled residual.
    """
    fscale = jnp.maximum(jnp.max(jnp.abs(f(scale))), jnp.finfo(scale.dtype).tiny)
    halvings = 0.5 ** jnp.arange(12)

    def norm(x):
        n = jnp.linalg.norm(f(x) / fscale)
        return jnp.where(jnp.isfinite(n), n, jnp.inf)

    def body(_, carry):
        y, _ = carry
        step = jnp.linalg.solve(jax.jacfwd(f)(y), -f(y))
        step = jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0)
        trials = y[None, :] + halvings[:, None] * step[None, :]
        better = jax.vmap(norm)(trials) < norm(y)
        new = jnp.where(jnp.any(better), trials[jnp.argmax(better)], y)
        return new, jnp.max(jnp.abs(new - y) / scale)

    y, last_step = jax.lax.fori_loop(0, n_iter, body, (y, jnp.asarray(jnp.inf, y.dtype)))
    return y, last_step, norm(y)


@eqx.filter_jit
def _solve_all(model, params, starts, scale, t, n_iter):
    f = lambda y: model.vector_field(t, y, params)  # noqa: E731
    ys, last_step, residual = jax.vmap(lambda y0: _newton(f, y0, scale, n_iter))(starts)
    return ys, last_step, residual, jax.vmap(f)(ys)


def _starts(key, scale, n_starts):
    """Log-uniform points in (1e-6, 2] x scale, with some coordinates set exactly to zero."""
    k1, k2 = jax.random.split(key)
    d = scale.shape[0]
    logs = jax.random.uniform(k1, (n_starts, d), minval=-6.0, maxval=np.log10(2.0))
    zero = jax.random.bernoulli(k2, 0.25, (n_starts, d))
    return jnp.where(zero, 0.0, 10.0**logs) * scale


def find_equilibria(
    model,
    params=None,
    *,
    starts=None,
    n_starts: int = 256,
    seed: int = 0,
    t: float = 0.0,
    n_iter: int = 60,
    tol: float = 1e-9,
    nonnegative: bool | None = None,
) -> list[Equilibrium]:
    """All equilibria reached by Newton from many starting points, de-duplicated.

    **Arguments:**

    - `model`, `params`: the ODE model and its parameters (default: the model's defaults).
    - `starts`: starting points `(n, n_states)`; default `n_starts` log-uniform points in
      the box given by `model.state_scale(params)`, with some coordinates exactly zero so
      that boundary equilibria (tumour-free, immune-free) are found.
    - `t`: the time at which an autonomous-looking field is frozen.
    - `tol`: convergence tolerance on the last Newton step (relative to the state scale)
      and on the residual (relative to the field's magnitude at that scale).
    - `nonnegative`: keep only biologically relevant (non-negative) states; default
      `model.nonnegative`.

    All starts run in one vmapped, jitted Newton iteration. Eigenvalues are computed on
    the host (see [`tumorjax.analysis.eigenvalues`][]). Sorted by the first state.
    """
    params = checked_params(model, params, ODEModel)
    nonnegative = model.nonnegative if nonnegative is None else nonnegative
    scale = jnp.asarray(model.state_scale(params), jnp.asarray(1.0).dtype)
    if starts is None:
        starts = _starts(jax.random.PRNGKey(seed), scale, n_starts)
    starts = jnp.asarray(starts, scale.dtype)
    if starts.ndim != 2 or starts.shape[1] != model.n_states:
        raise ValueError(f"starts must have shape (n, {model.n_states}), got {starts.shape}")

    ys, last_step, residual, fs = (
        np.asarray(a) for a in _solve_all(model, params, starts, scale, jnp.asarray(t, scale.dtype), n_iter)
    )
    scale = np.asarray(scale)
    ok = np.isfinite(ys).all(1) & np.isfinite(fs).all(1) & (last_step < tol) & (residual < tol)
    if nonnegative:
        ok &= (ys >= -tol * scale).all(1)
    # Within a cluster of duplicates keep a point on an invariant subspace if there is one
    # (T = 0 exactly, reached from a start with T = 0, rather than T = 1e-23), then the
    # best-converged one.
    order = np.lexsort((np.max(np.abs(fs[ok]), axis=1), -np.sum(ys[ok] == 0, axis=1)))
    found: list[np.ndarray] = []
    for y in ys[ok][order]:
        if not any(np.all(np.abs(y - z) <= 1e3 * tol * scale + 1e-6 * np.abs(z)) for z in found):
            found.append(y)
    found.sort(key=lambda y: tuple(y))
    out = []
    for y in found:
        J = jacobian(model, params, y, t)
        eigs = eigenvalues(J)
        res = float(np.max(np.abs(np.asarray(model.vector_field(t, jnp.asarray(y), params)))))
        out.append(Equilibrium(y, eigs, bool(np.all(eigs.real < 0)), classify(eigs), res, model.state_names))
    return out
