"""Basins of attraction over a grid of initial conditions, in one vmapped solve."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ..core import simulate
from ._equilibria import find_equilibria


@dataclasses.dataclass(frozen=True)
class Basins:
    """`labels[j, i]` is the attractor reached from `(x[i], y[j])`; -1 if none was reached."""

    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    final: np.ndarray
    attractors: list[np.ndarray]
    state_names: tuple[str, ...]

    def fractions(self) -> np.ndarray:
        """Share of the grid in each attractor's basin (and unresolved, last)."""
        counts = [np.mean(self.labels == i) for i in range(len(self.attractors))]
        return np.array(counts + [np.mean(self.labels < 0)])


def basin_map(
    model,
    params=None,
    x_range=(1e4, 1e9),
    y_range=(1e4, 1e7),
    *,
    n: tuple[int, int] = (41, 41),
    t_end: float = 2000.0,
    log: bool = True,
    attractors=None,
    match_tol: float = 0.05,
) -> Basins:
    """Which attractor each initial condition of a 2-state model ends at.

    **Arguments:**

    - `x_range`, `y_range`: ranges of the two initial states (log-spaced if `log`).
    - `n`: grid points `(nx, ny)`.
    - `t_end`: horizon; it must be long enough for trajectories to settle.
    - `attractors`: states to classify against; default the stable equilibria of
      [`tumorjax.analysis.find_equilibria`][].
    - `match_tol`: a final state belongs to an attractor if every component lies within
      `match_tol` x the model's state scale of it.
    """
    if model.n_states != 2:
        raise ValueError(f"basin_map needs a 2-state model; {type(model).__name__} has {model.n_states}")
    params = model.default_params() if params is None else params
    space = np.geomspace if log else np.linspace
    x, y = space(*x_range, n[0]), space(*y_range, n[1])
    if attractors is None:
        attractors = [e.state for e in find_equilibria(model, params) if e.stable]
    X, Y = np.meshgrid(x, y)
    y0s = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))

    @jax.jit
    def finals(y0s, params):
        return jax.vmap(lambda y0: simulate(model, params, y0, (0.0, t_end), n_save=2).ys[-1])(y0s)

    final = np.asarray(finals(y0s, params)).reshape(n[1], n[0], 2)
    scale = np.asarray(model.state_scale(params))
    labels = -np.ones((n[1], n[0]), dtype=int)
    for i, a in enumerate(attractors):
        hit = np.all(np.abs(final - np.asarray(a)) <= match_tol * scale, axis=-1)
        labels[hit & (labels < 0)] = i
    return Basins(x, y, labels, final, [np.asarray(a) for a in attractors], model.state_names)
