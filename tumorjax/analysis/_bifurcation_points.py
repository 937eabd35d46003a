r"""Fold, Hopf and branch points of equilibria as regular roots of augmented systems.

Each codimension-one point of $f(x, p) = 0$ is a regular root of a small augmented system
in the state $x$ and the parameter $p$, solved by Newton's method with autodiff Jacobians:

- **fold** (limit point): $f = 0$, $\det f_x = 0$;
- **Hopf**: $f = 0$, $\det(2f_x \odot I) = 0$, where the bialternate product $2A\odot I$
  has the eigenvalues $\lambda_i + \lambda_j$ ($i < j$) of $A$ (Govaerts 2000, *Numerical
  Methods for Bifurcations of Dynamical Equilibria*, Sec. 4.4; Kuznetsov 2004, Sec. 10.2),
  so it is singular where a pair $\pm i\omega$ sits on the imaginary axis;
- **branch point** (transcritical, pitchfork): $f + \beta w = 0$, $f_x^T w = 0$,
  $w^T f_p = 0$, $w^T w = 1$ in $(x, p, \beta, w)$ (Kuznetsov 2004, Sec. 10.2.2), regular at
  a simple branch point where $(f_x\ f_p)$ loses rank.

Newton converges quadratically to these roots, so located points are exact to rounding.
The root is differentiable in every other parameter by the implicit-function theorem: the
search runs on stopped gradients and one last Newton step with the live parameters has
the derivative $dz = -G_z^{-1}\,dG$ (the same device as [`tumorjax.dde.characteristic_roots`][]).
Pure JAX: jit-, vmap- and grad-safe (no eigenvalues).
"""

import dataclasses
import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ..core._simulate import checked_params

KINDS = ("fold", "hopf", "branch_point")


def require_parameter(params, name: str) -> int:
    """The position of `name` in `params.names()`; a `ValueError` listing the parameters if there is none."""
    names = params.names()
    if name not in names:
        raise ValueError(f"{type(params).__name__} has no parameter {name!r}; parameters: {', '.join(names)}")
    return names.index(name)


def parameter_field(model, params, name, t=0.0):
    """$f(x, p)$: the model's vector field with parameter `name` set to `p`.

    `name` may also be the parameter's position in `params.names()` as a (traced) integer,
    so that one compiled function serves every continuation parameter of a model.
    """
    names = params.names()
    index = names.index(name) if isinstance(name, str) else name

    def f(x, p):
        values = {n: jnp.where(index == i, p, getattr(params, n)) for i, n in enumerate(names)}
        return model.vector_field(t, x, dataclasses.replace(params, **values))

    return f


@functools.lru_cache(maxsize=None)
def _bialternate_pattern(n: int):
    """Scatter pattern of $2A\\odot I$: rows, columns, sign, and the entry (i, j) of A for each term."""
    pairs = [(p, q) for p in range(n) for q in range(p)]
    index = {pq: k for k, pq in enumerate(pairs)}
    rows, cols, signs, ii, jj = [], [], [], [], []

    def add(r, c, s, i, j):
        rows.append(r), cols.append(c), signs.append(s), ii.append(i), jj.append(j)

    for (p, q), row in index.items():
        for (r, s), col in index.items():
            if r == p and s == q:
                add(row, col, 1.0, p, p), add(row, col, 1.0, q, q)
            if r == q:
                add(row, col, -1.0, p, s)
            if r != p and s == q:
                add(row, col, 1.0, p, r)
            if r == p and s != q:
                add(row, col, 1.0, q, s)
            if s == p:
                add(row, col, -1.0, q, r)
    return len(pairs), tuple(np.asarray(a) for a in (rows, cols, signs, ii, jj))


def bialternate(A):
    r"""The bialternate product $2A \odot I$, of size $n(n-1)/2$: eigenvalues $\lambda_i + \lambda_j$, $i < j$.

    Rows and columns are the index pairs $(p, q)$, $p > q$ (Govaerts 2000, Eq. 4.4.12). For
    $n = 2$ it is the $1\times1$ matrix $\operatorname{tr}A$.
    """
    n = A.shape[-1]
    if n < 2:
        raise ValueError("the bialternate product needs at least 2 states (a Hopf point needs an eigenvalue pair)")
    m, (rows, cols, signs, ii, jj) = _bialternate_pattern(n)
    return jnp.zeros((m, m), A.dtype).at[rows, cols].add(signs * A[ii, jj])


def hopf_test_function(J):
    r"""$\det(2J \odot I) = \prod_{i<j}(\lambda_i + \lambda_j)$: zero at a Hopf point (and at a neutral saddle)."""
    return jnp.linalg.det(bialternate(J))


def fold_test_function(J):
    r"""$\det J = \prod_i \lambda_i$: zero at folds and branch points."""
    return jnp.linalg.det(J)


class BifurcationPoint(NamedTuple):
    """A located bifurcation point of equilibria.

    - `param`: the value of the continuation parameter.
    - `state`: the equilibrium, shape `(n_states,)`.
    - `converged`: whether Newton's last step was below the tolerance (relative to `scale`).
    """

    param: jax.Array
    state: jax.Array
    converged: jax.Array


def _augmented(kind, f, n):
    if kind == "fold":
        def G(z):
            x, p = z[:n], z[n]
            return jnp.concatenate([f(x, p), fold_test_function(jax.jacfwd(f)(x, p))[None]])
    elif kind == "hopf":
        def G(z):
            x, p = z[:n], z[n]
            return jnp.concatenate([f(x, p), hopf_test_function(jax.jacfwd(f)(x, p))[None]])
    else:
        def G(z):
            x, p, beta, w = z[:n], z[n], z[n + 1], z[n + 2:]
            fx, fp = jax.jacfwd(f, argnums=(0, 1))(x, p)
            return jnp.concatenate([f(x, p) + beta * w, fx.T @ w, (w @ fp)[None], (w @ w - 1.0)[None]])
    return G


def _newton(G, z, scale, n_iter, tol):
    """Plain Newton from `z` for `n_iter` steps (non-finite steps skipped); converged: last step < tol*scale."""

    def step(z):
        s = jnp.linalg.solve(jax.jacfwd(G)(z), -G(z))
        return jnp.where(jnp.all(jnp.isfinite(s)), s, 0.0), jnp.all(jnp.isfinite(s))

    def body(_, z):
        return z + step(z)[0]

    z = jax.lax.fori_loop(0, n_iter, body, z)
    s, finite = step(z)
    ok = finite & jnp.all(jnp.abs(s) <= tol * scale) & jnp.all(jnp.isfinite(z))
    return z + s, ok


def _start(kind, f, x, p):
    """The augmented unknowns from a guess: for a branch point, beta = 0 and w the left null vector of f_x."""
    z = jnp.concatenate([x, p[None]])
    if kind != "branch_point":
        return z
    _, _, vt = jnp.linalg.svd(jax.jacfwd(f)(x, p).T)
    return jnp.concatenate([z, jnp.zeros((1,), x.dtype), vt[-1]])


def locate(model, params, name: str, kind: str, x_guess, p_guess, *, scale=None, p_scale=None, t=0.0,
           n_iter: int = 40, tol: float | None = None) -> BifurcationPoint:
    r"""Locate a fold, Hopf or branch point of equilibria in parameter `name` by Newton's method.

    **Arguments:**

    - `model`, `params`: any [`tumorjax.ODEModel`][] and its parameters; `params.<name>` is
      replaced by the unknown.
    - `kind`: `"fold"`, `"hopf"` or `"branch_point"` (module docstring: the augmented systems).
    - `x_guess` `(n_states,)`, `p_guess`: a nearby equilibrium and parameter value, e.g. the
      points either side of a sign change of a test function along a branch.
    - `scale`, `p_scale`: typical magnitudes of the state and the parameter, for the
      convergence test (default `model.state_scale(params)` and `max(|p_guess|, 1)`).
    - `tol`: the last Newton step must be below `tol` times the scale (default 1e-10 in
      float64, 1e-4 in float32).

    Returns a [`BifurcationPoint`][tumorjax.analysis.BifurcationPoint]. Pure JAX: `jit`,
    `vmap` (e.g. over a second parameter) and `grad` work; the derivative with respect to
    any other parameter is the implicit-function one (see the module docstring), so for
    example `jax.grad(lambda b: locate(m, p.replace(beta=b), "zeta", "hopf", x, z).param)`
    is $d\zeta_H/d\beta$.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown bifurcation kind {kind!r}; choose from {KINDS}")
    params = checked_params(model, params, ODEModel)
    x_guess = jnp.asarray(x_guess, jnp.result_type(float))
    n = model.n_states
    if x_guess.shape != (n,):
        raise ValueError(f"x_guess must have shape ({n},) for the states {model.state_names}, got {x_guess.shape}")
    if kind == "hopf" and n < 2:
        raise ValueError(f"a Hopf point needs at least 2 states; {type(model).__name__} has {n}")
    dtype = x_guess.dtype
    tol = (1e-10 if dtype == jnp.float64 else 1e-4) if tol is None else tol
    xs = jnp.abs(jnp.asarray(model.state_scale(params) if scale is None else scale, dtype))
    p_guess = jnp.asarray(p_guess, dtype)
    ps = jnp.maximum(jnp.abs(p_guess), 1.0) if p_scale is None else jnp.asarray(p_scale, dtype)
    index = jnp.asarray(require_parameter(params, name))
    return _locate(model, params, index, kind, x_guess, p_guess, xs, ps, jnp.asarray(t, dtype), n_iter, tol)


@eqx.filter_jit
def _locate(model, params, name, kind, x_guess, p_guess, xs, ps, t, n_iter, tol):
    n = model.n_states
    fixed = jax.lax.stop_gradient(params)
    f_fixed = parameter_field(model, fixed, name, t)
    G_fixed = _augmented(kind, f_fixed, n)
    z_scale = jnp.concatenate([xs, ps[None]])
    if kind == "branch_point":
        z_scale = jnp.concatenate([z_scale, jnp.ones(n + 1, xs.dtype)])
    z, ok = _newton(G_fixed, _start(kind, f_fixed, jax.lax.stop_gradient(x_guess), jax.lax.stop_gradient(p_guess)),
                    jax.lax.stop_gradient(z_scale), n_iter, tol)
    z = jax.lax.stop_gradient(z)
    # one Newton step with the live parameters: the same value, the implicit-function derivative
    G_live = _augmented(kind, parameter_field(model, params, name, t), n)
    z = z - jnp.linalg.solve(jax.lax.stop_gradient(jax.jacfwd(G_fixed)(z)), G_live(z))
    return BifurcationPoint(param=z[n], state=z[:n], converged=ok)
