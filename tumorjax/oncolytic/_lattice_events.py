r"""Event-driven exact sampling of one lattice step (`LatticeConfig(sampler="events")`).

Every rule of the step makes each cell an event independently, with a probability $m_j$ that
depends on its site $j$; a site's count of events is then $\mathrm{Bin}(n_j, m_j)$, the same
law as one binomial per site. Events are rare (a cancer cell moves with $\theta = 1.5\cdot10^{-3}$
per step), so instead of a uniform per site this module draws only the events:

- each cell of site $j$ is given $w_j = \lceil h_j / h_t\rceil$ *ticks*, with
  $h_j = m_j + m_j^2 \ge -\log(1 - m_j)$ for $m_j \le 1/2$ (40 above); every tick is hit with
  probability $1 - e^{-h_t}$, so the gaps between hits are geometric, one uniform per hit; a cell
  is a *candidate* if one of its ticks is hit (probability $c_j = 1 - e^{-w_j h_t} \ge m_j$;
  repeated hits in one cell count once);
- a candidate is an event with probability $m_j / c_j$ (thinning, exact); its uniform
  $v \in [0, m_j)$ also picks the event's kind (direction, birth or death, ...);
- hits are mapped to sites by a binary search in the prefix sums of $n_j w_j$ over blocks of
  16 sites, then inside the block; events are applied by scatter-adds.

The tick $h_t = 2^{-k}$ is the power of two with $2^{27} < S \max_j h_j / h_t \le 2^{28}$, $S$ the
number of cells (int32 holds every tick); a cell gets $\lceil h_j / h_t\rceil$ ticks, and candidates
exceed events by that rounding (one tick in $h_j/h_t$) and by the slack of $h_j$ over
$-\log(1 - m_j)$ (about $m_j/2$). The tick depends only on an integer sum and a maximum, so a
state gets the same ticks in every compiled program (a float sum's rounding depends on how XLA
orders it, which differs under `vmap`), and replicates do not depend on the batch size. Chunks
of a static size repeat in a `while_loop` until the last tick, so the draw is exact for any
number of events.
"""

import jax
import jax.numpy as jnp
from jax import lax

_MAX_HAZARD = 40.0  # -log(1 - m) is capped here: m = 1 is taken as 1 - e^-40 (below float resolution)
_MAX_TICKS = float(2**28)
_BLOCK = 16  # sites per block of the two-level search


def _prefix(x):
    """Inclusive prefix sum (XLA:CPU runs this faster than `cumsum`'s reduce-window)."""
    return lax.associative_scan(jnp.add, x, axis=-1)


def _saturating_prefix(g, cap):
    """Prefix sum of non-negative int32 `g` that stops growing at `cap` (no overflow)."""
    return lax.associative_scan(lambda a, b: jnp.minimum(a + b, cap), g)


def padded_length(size: int) -> int:
    """`size` rounded up to whole blocks: the length `for_each_event` needs."""
    return -(-size // _BLOCK) * _BLOCK


def for_each_event(key, n, m, fn, carry, chunk: int):
    """Fold `fn(carry, site, event, v, u)` over the events of "every cell of site j is an
    event with probability m[j]", independently; `n` (M,) int32 counts, `m` (M,) probabilities
    or one probability for all sites; M a multiple of 16 (`padded_length`).

    `fn` gets chunks of `chunk` candidates: `site` (chunk,) int32, `event` (chunk,) bool,
    `v` (chunk,) uniform on [0, m[site]) where `event` (it picks the kind of event) and `u`
    (chunk,) an independent uniform on [0, 1).
    """
    dt = jnp.result_type(m)
    M = n.shape[0]
    if M % _BLOCK:
        raise ValueError(f"for_each_event needs a length that is a multiple of {_BLOCK}, got {M}")
    m = jnp.broadcast_to(m, n.shape)

    def hazard(p):
        """An upper bound of -log(1 - p); c below is exact, so a bound is enough."""
        return jnp.where(p <= 0.5, p + p * p, _MAX_HAZARD)

    # the tick 2^-k from an exact integer sum and a maximum (see the module docstring)
    bound = jnp.sum(n, dtype=jnp.int32).astype(dt) * jnp.max(jnp.where(n > 0, hazard(m), 0))
    k = jnp.clip(jnp.floor(jnp.log2(_MAX_TICKS / jnp.where(bound > 0, bound, 1))), -100, 100).astype(jnp.int32)
    scale = jnp.ldexp(jnp.ones((), dt), k)  # 1 / h_t = 2^k, exact
    h_t = 1 / scale

    def ticks_per_cell(p):
        return jnp.ceil(hazard(p) * scale).astype(jnp.int32)  # 0 where p = 0

    n_blocks, m_blocks = n.reshape(-1, _BLOCK), m.reshape(-1, _BLOCK)
    block_total = jnp.sum(n_blocks * ticks_per_cell(m_blocks), axis=1, dtype=jnp.int32)
    block_cs = _prefix(block_total)
    total = block_cs[-1]
    big = total + 1

    def locate(pos):
        """Site of each tick position, the ticks per cell there and the offset inside the site."""
        b = jnp.minimum(jnp.searchsorted(block_cs, pos, side="right", method="scan"), block_cs.shape[0] - 1)
        within = pos - (block_cs[b] - block_total[b])
        w = ticks_per_cell(m_blocks[b])  # (chunk, _BLOCK)
        ticks = n_blocks[b] * w
        ends = _prefix(ticks)
        col = jnp.minimum(jnp.sum(ends <= within[:, None], axis=1, dtype=jnp.int32), _BLOCK - 1)
        k = jnp.arange(pos.shape[0])
        return b * _BLOCK + col, w[k, col], within - (ends[k, col] - ticks[k, col])

    def body(state):
        i, start, prev_site, prev_cell, carry = state
        uniforms = jax.random.uniform(jax.random.fold_in(key, i), (3, chunk), dt)
        u = 1 - uniforms[0]  # (0, 1]
        # clamp in float to 2^30 > every total (exact in float32), then to `big` in integers: a
        # float copy of `big` may round below the total and make a spurious hit near the end
        gap = jnp.minimum(jnp.minimum(jnp.floor(-jnp.log(u) * scale) + 1, 2.0**30).astype(jnp.int32), big)
        pos = jnp.minimum(start + _saturating_prefix(gap, big), big) - 1
        valid = pos < total
        site, w_site, offset = locate(pos)
        w_site = jnp.maximum(w_site, 1)
        cell = offset // w_site
        before_site = jnp.concatenate([prev_site[None], site[:-1]])
        before_cell = jnp.concatenate([prev_cell[None], cell[:-1]])
        first_hit = valid & ((site != before_site) | (cell != before_cell))
        c = -jnp.expm1(-w_site.astype(dt) * h_t)  # the candidate's probability, >= m[site]
        v = uniforms[1] * c
        event = first_hit & (v < m[site])
        carry = fn(carry, site, event, v, uniforms[2])
        j = jnp.maximum(jnp.sum(valid, dtype=jnp.int32) - 1, 0)
        return i + 1, pos[-1] + 1, site[j], cell[j], carry

    init = (jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32), jnp.asarray(M, jnp.int32),
            jnp.asarray(0, jnp.int32), carry)
    return lax.while_loop(lambda s: s[1] < total, body, init)[-1]


def scatter_add(counts, site, delta):
    """Add `delta` (int32) at flat sites `site` (zeros change nothing)."""
    return counts.at[site].add(delta.astype(counts.dtype), mode="drop")
