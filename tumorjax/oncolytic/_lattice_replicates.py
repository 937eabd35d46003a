r"""Replicates of the lattice model in one call, and TCP/ICP over them (Eqs. (4.2), (4.4)).

Replicate $m$ uses `jax.random.split(key, M)[m]`, so its result does not depend on how the
replicates are chunked or batched.
"""

import math
import os
from typing import NamedTuple

import equinox as eqx
import jax
import numpy as np
from jax import lax

from ._lattice import (
    LatticeConfig, LatticeProtocol, LatticeState, _n_save, _scan, check_inputs, initial_state, numerics_only,
)
from ._params import OncolyticParams


class ReplicateRun(NamedTuple):
    """M realisations. Arrays carry the replicate axis first; see `LatticeRun` for the others.

    `tcp`, `icp` (T,): fractions of replicates with $\\sum_h U_h = 0$ and $\\sum_h I_h = 0$
    at each saved time (4.2), (4.4); `tcp_ci`, `icp_ci` (T, 2): 95% Wilson score intervals.
    """

    t: np.ndarray
    totals: np.ndarray
    t_profile: np.ndarray
    midrow: np.ndarray
    radial: np.ndarray
    p_max: np.ndarray
    tcp: np.ndarray
    tcp_ci: np.ndarray
    icp: np.ndarray
    icp_ci: np.ndarray

    @property
    def n_replicates(self) -> int:
        return self.totals.shape[0]

    def mean(self) -> np.ndarray:
        """Replicate means of the totals, (T, 4)."""
        return self.totals.mean(axis=0)

    def sem(self) -> np.ndarray:
        """Standard errors of the replicate means (ddof = 1; zeros for one replicate), (T, 4)."""
        m = self.n_replicates
        return self.totals.std(axis=0, ddof=1) / math.sqrt(m) if m > 1 else np.zeros_like(self.totals[0])


def wilson_interval(successes, n: int, z: float = 1.959963984540054) -> np.ndarray:
    """Wilson score interval for a binomial proportion, shape (..., 2). Never leaves [0, 1]."""
    k = np.asarray(successes, dtype=float)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.stack([np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)], axis=-1)


@eqx.filter_jit
def _chunk(params, keys, state, config, events, n_save, batch_size):
    return lax.map(lambda k: _scan(params, k, state, config, events, n_save), keys, batch_size=batch_size)


def simulate_replicates(params: OncolyticParams, key: jax.Array, t_end: float, n_replicates: int,
                        config: LatticeConfig = LatticeConfig(), protocol: LatticeProtocol = LatticeProtocol(),
                        chunk_size: int | None = None, batch_size: int | None = None,
                        progress: bool = False, state: LatticeState | None = None) -> ReplicateRun:
    """`n_replicates` independent runs of the lattice model to the label `t_end` [h].

    Parameters and `state` are checked before tracing (`check_inputs`). Replicates run in chunks of `chunk_size`
    (default: all), one jitted `lax.map` over their keys per chunk, so host memory holds one
    chunk of device outputs at a time and a progress bar can advance between chunks.
    Within a chunk `batch_size` replicates are vmapped together (`lax.map(batch_size=...)`);
    the default is the number of CPU cores on a CPU (on 2 cores: 1.3-2x the replicates per hour
    of one at a time, see benchmarks/RESULTS.md) and 100 on an accelerator (not measured).
    Neither size changes any replicate's result.
    `state` replaces the initial lattice (4.1) (every replicate starts from it).
    """
    if n_replicates < 1:
        raise ValueError(f"n_replicates must be >= 1, got {n_replicates}")
    for name, v in (("chunk_size", chunk_size), ("batch_size", batch_size)):
        if v is not None and v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    check_inputs(params, config, state)
    events = protocol.events(config)
    n_save = _n_save(t_end, config)
    state = initial_state(params, config) if state is None else state
    keys = jax.random.split(key, n_replicates)
    size = n_replicates if chunk_size is None else min(chunk_size, n_replicates)
    if batch_size is None:
        batch_size = (os.cpu_count() or 1) if jax.default_backend() == "cpu" else 100
    batch_size = min(batch_size, size)
    parts = []
    for start in range(0, n_replicates, size):
        run = _chunk(params, keys[start:start + size], state, numerics_only(config), events, n_save, batch_size)
        parts.append(jax.tree_util.tree_map(np.asarray, (run.t, run.totals, run.t_profile, run.midrow,
                                                          run.radial, run.p_max)))
        if progress:
            from ..core._progress import _draw

            _draw(min(start + size, n_replicates) / n_replicates)
    t, _, t_prof, _, _, _ = parts[0]
    totals, midrow, radial, p_max = (np.concatenate([p[i] for p in parts]) for i in (1, 3, 4, 5))
    t, t_prof = t[0], t_prof[0]
    return _with_probabilities(t, totals, t_prof, midrow, radial, p_max)


def _with_probabilities(t, totals, t_prof, midrow, radial, p_max) -> ReplicateRun:
    m = totals.shape[0]
    k_u = (totals[..., 0] == 0).sum(axis=0)
    k_i = (totals[..., 1] == 0).sum(axis=0)
    return ReplicateRun(t=t, totals=totals, t_profile=t_prof, midrow=midrow, radial=radial, p_max=p_max,
                        tcp=k_u / m, tcp_ci=wilson_interval(k_u, m), icp=k_i / m, icp_ci=wilson_interval(k_i, m))
