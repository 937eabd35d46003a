"""Ensemble designs: named columns of values (one row per member) for sweeps and initial-condition ensembles.

A design is a dict `{name: array (N,)}`; names are the model's parameter names and, for
initial states, `"y0.<state>"` (as in [`tumorjax.calibration.Problem`][]).
"""

import itertools

import jax
import numpy as np


def _check_columns(design: dict) -> int:
    if not isinstance(design, dict) or not design:
        raise ValueError("a design is a non-empty dict {name: values}")
    sizes = {k: np.shape(v) for k, v in design.items()}
    n = {s[0] if len(s) == 1 else -1 for s in sizes.values()}
    if len(n) != 1 or -1 in n:
        raise ValueError(f"design columns must be 1D of one length, got shapes {sizes}")
    return n.pop()


def grid(**axes) -> dict[str, np.ndarray]:
    """The Cartesian product of the given value lists: `grid(r=[0.1, 0.2], K=[1e3, 1e4])` has 4 members.

    The last axis varies fastest (C order), so the result reshapes to `(len(a1), len(a2), ...)`.
    """
    if not axes:
        raise ValueError("grid needs at least one axis, e.g. grid(r=np.linspace(0.1, 0.5, 20))")
    values = {k: np.atleast_1d(np.asarray(v, float)) for k, v in axes.items()}
    for k, v in values.items():
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"grid axis {k!r} must be a non-empty 1D list of values, got shape {v.shape}")
    rows = np.array(list(itertools.product(*values.values())))
    return {k: rows[:, i] for i, k in enumerate(values)}


def latin_hypercube(bounds: dict, n: int, key=0) -> dict[str, np.ndarray]:
    """`n` members of a Latin hypercube over `bounds = {name: (lower, upper)}` or `(lower, upper, "log")`.

    Each axis is cut into `n` equal strata (equal in log space for `"log"`), one point drawn
    uniformly in each, and the strata are shuffled independently per axis (McKay et al. 1979).
    `key` is an int seed (Python or NumPy) or a `jax.random` key; the design is reproducible.
    """
    if not (isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not bounds:
        raise ValueError("latin_hypercube needs bounds {name: (lower, upper)}")
    key = jax.random.PRNGKey(int(key)) if isinstance(key, int | np.integer) else key
    k_perm, k_unif = jax.random.split(key)
    d = len(bounds)
    perms = np.asarray(jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(k_perm, d)))
    u = (perms.T + np.asarray(jax.random.uniform(k_unif, (n, d)), float)) / n
    out = {}
    for i, (name, spec) in enumerate(bounds.items()):
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3) or (len(spec) == 3 and spec[2] != "log"):
            raise ValueError(f"bounds[{name!r}] must be (lower, upper) or (lower, upper, 'log'), got {spec!r}")
        lo, hi = float(spec[0]), float(spec[1])
        if not lo < hi:
            raise ValueError(f"bounds[{name!r}]: lower must be < upper, got {lo} >= {hi}")
        if len(spec) == 3:
            if lo <= 0:
                raise ValueError(f"bounds[{name!r}]: a log axis needs lower > 0, got {lo}")
            out[name] = np.exp(np.log(lo) + u[:, i] * (np.log(hi) - np.log(lo)))
        else:
            out[name] = lo + u[:, i] * (hi - lo)
    return out


def replicate(design: dict, n: int) -> dict[str, np.ndarray]:
    """Every member repeated `n` times in a row (member-major): for replicates of stochastic runs."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _check_columns(design)
    return {k: np.repeat(np.asarray(v), n) for k, v in design.items()}
