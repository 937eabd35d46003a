r"""The two-dimensional PDE (2.6) of seed 004 on $[-L, L]^2$ with zero-flux walls (explicit finite volumes).

The same face-flux kernels as the radial solver (`tumorjax.numerics._finite_volume`), applied along both
axes with unit face weights: Fickian diffusion of u, i, z, phi and the upwind chemotactic flux
$(\chi/\phi^*)\,z\,\partial_x\phi$ of z. The inflow is $S = (S_0 + \alpha_z\int_\omega i)\,1_\omega$ with
$\omega = \{|x| \le R\}$ (2.7), R = L by default as in Sec. 4. Forward Euler with an automatic step below
the diffusion and chemotaxis limits ($\Delta t\,(4D/\Delta x^2) \le 1$ and the upwind outflow bound).
Its drift is the paper's $(\chi/\phi^*)\nabla\phi$: compare it with the lattice model run with
`chemotaxis="paper"` and the same q (the `ov-abm-*` scenarios use the code's drift $\chi\nabla\phi$ and
q = 9.34e-3, as the radial `ov-pde-*-reference` scenarios do). Use it also to see non-radial effects
(the corners of the square, non-symmetric initial data); for radial data it agrees with `solve_radial` up to
the discretisation of the circle.
"""

import dataclasses
import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import is_concrete
from ..numerics._finite_volume import diffusive_flux, flux_divergence, upwind_flux
from ._params import OncolyticParams
from ._protocols import Protocol, inject
from ._radial import OVState, check_grid, gradient_bound


@dataclasses.dataclass(frozen=True)
class Grid2D:
    """Static 2-D grid: N x N cells on $[-L, L]^2$ (cell width $2L/N$), inflow disc radius R (default L)."""

    L: float = 10.0
    N: int = 200
    R: float | None = None
    dt: float | None = None
    save_every: float = 1.0
    safety: float = 0.9

    def __post_init__(self):
        check_grid(self)

    @property
    def dx(self) -> float:
        return 2 * self.L / self.N

    @property
    def x(self) -> np.ndarray:
        """Cell centres along one axis."""
        return -self.L + self.dx * (np.arange(self.N) + 0.5)

    @property
    def radius(self) -> np.ndarray:
        X, Y = np.meshgrid(self.x, self.x, indexing="ij")
        return np.hypot(X, Y)

    @property
    def inflow_mask(self) -> np.ndarray:
        return self.radius <= (self.L if self.R is None else self.R)


def initial_condition_2d(grid: Grid2D, K=1e4, R_u=2.6, R_i=1.0) -> OVState:
    """Eq. (4.1) on the square: $0.9K$ for $|x| \\le R_u$, $0.1K$ for $|x| \\le R_i$ (cell centres)."""
    rad = jnp.asarray(grid.radius)
    zero = jnp.zeros_like(rad)
    return OVState(jnp.where(rad <= R_u, 0.9 * K, 0.0), jnp.where(rad <= R_i, 0.1 * K, 0.0), zero, zero)


def stable_step_2d(p: OncolyticParams, grid: Grid2D) -> dict[str, float]:
    """Largest explicit steps [h]: diffusion $\\Delta x^2/(4D)$, chemotaxis and both (see `stable_step`)."""
    p = jax.tree_util.tree_map(lambda v: float(np.asarray(v).max()), p)
    diff = 4 * max(p.D, p.D_z, p.D_phi) / grid.dx ** 2
    chem = 4 * p.chi / p.phi_star * gradient_bound(p) / grid.dx
    return {"diffusion": 1 / diff, "chemotaxis": 1 / chem,
            "stable": min(1 / diff, 1 / (4 * p.D_z / grid.dx ** 2 + chem))}


def _transport_2d(y, p, dx):
    out = [0.0, 0.0, 0.0, 0.0]
    for axis in (-2, -1):
        w = p.chi / p.phi_star * jnp.diff(y.phi, axis=axis) / dx
        fluxes = (diffusive_flux(y.u, p.D, dx, axis=axis), diffusive_flux(y.i, p.D, dx, axis=axis),
                  upwind_flux(y.z, w, axis) + diffusive_flux(y.z, p.D_z, dx, axis=axis),
                  diffusive_flux(y.phi, p.D_phi, dx, axis=axis))
        out = [o + flux_divergence(F, axis) / dx for o, F in zip(out, fluxes)]
    return OVState(*out)


def _step_2d(y, p, zeta, dt, grid):
    """Forward Euler on the unsplit semi-discrete (2.6)."""
    mask = jnp.asarray(grid.inflow_mask)
    T = _transport_2d(y, p, grid.dx)
    i_int = jnp.sum(jnp.where(mask, y.i, 0.0)) * grid.dx ** 2
    kill = zeta / p.K * y.z
    R = OVState(p.p * y.u * (1 - (y.u + y.i) / p.K) - p.beta / p.K * y.u * y.i - kill * y.u,
                p.beta / p.K * y.u * y.i - p.q * y.i - kill * y.i,
                -p.q_z * y.z + (p.S0 + p.alpha_z * i_int) * mask,
                (p.alpha_phi * y.i + p.gamma_phi * y.u) * (p.phi_star - y.phi) - p.q_phi * y.phi)
    return OVState(*(v + dt * (t + r) for v, t, r in zip(y, T, R)))


class Solution2D(NamedTuple):
    """Totals `series` (n_save+1, 4: U, I, Z, Phi) at `ts`, the final fields and a status
    (0 ok, 1 non-finite, 2 negative)."""

    ts: np.ndarray
    series: jnp.ndarray
    final: OVState
    status: jnp.ndarray
    dt: float


def _totals(y, dx):
    return jnp.stack([jnp.sum(v) * dx ** 2 for v in y])


@eqx.filter_jit
def _run_2d(y, p, protocol, dt, grid, n_sub, n_save):
    n_switch = jnp.where(jnp.isfinite(protocol.t_switch), jnp.round(protocol.t_switch / dt), jnp.inf)
    n_inject = jnp.round(protocol.t_injections / dt)

    def step(c, _):
        y, n = c
        n = n + 1
        zeta = p.zeta * jnp.where(n > n_switch, protocol.zeta_factor, 1.0)
        y = _step_2d(y, p, zeta, dt, grid)
        u, i = inject(y.u, y.i, protocol.fraction)
        jump = jnp.any(n == n_inject)
        return (y._replace(u=jnp.where(jump, u, y.u), i=jnp.where(jump, i, y.i)), n), None

    @jax.checkpoint
    def interval(c, _):
        c, _ = jax.lax.scan(step, c, None, length=n_sub)
        return c, _totals(c[0], grid.dx)

    (y, _), series = jax.lax.scan(interval, (y, jnp.asarray(0)), None, length=n_save)
    return y, series


def solve_2d(p: OncolyticParams, grid: Grid2D = Grid2D(), t_end: float = 100.0, *, y0: OVState | None = None,
             R_u=2.6, R_i=1.0, protocol: Protocol = Protocol()) -> Solution2D:
    """Solve (2.6) on $[-L, L]^2$ from `y0` (default Eq. 4.1) to `t_end` [h], totals every
    `grid.save_every` h.

    An explicit `grid.dt` above the stable step raises a `ValueError` that states the limit. The protocol's
    switch and fixed-time injections apply; threshold-triggered injections are not supported here (a finite
    `protocol.threshold` raises `ValueError`; use `solve_radial`).
    """
    if not isinstance(p, OncolyticParams):
        raise ValueError(f"p must be OncolyticParams, got {type(p).__name__}")
    if not is_concrete(protocol.threshold) or np.any(np.isfinite(np.asarray(protocol.threshold))):
        raise ValueError("solve_2d does not support threshold-triggered injections (Protocol.threshold must be inf, "
                         f"got {protocol.threshold}); use solve_radial")
    n_save = t_end / grid.save_every
    if not (n_save >= 1 and abs(n_save - round(n_save)) < 1e-9):
        raise ValueError(f"t_end = {t_end:g} h must be a positive multiple of save_every = "
                         f"{grid.save_every:g} h")
    n_save = int(round(n_save))
    if not is_concrete(*jax.tree_util.tree_leaves(p)) and grid.dt is None:
        raise ValueError("under tracing give Grid2D(dt=...)")
    if is_concrete(*jax.tree_util.tree_leaves(p)):
        limits = stable_step_2d(p, grid)
        if grid.dt is not None and grid.dt > limits["stable"] * (1 + 1e-12):
            raise ValueError(f"dt = {grid.dt:g} h is above the stable explicit step of this grid "
                             f"(dx = {grid.dx:g} mm): diffusion limit {limits['diffusion']:.4g} h, "
                             f"chemotaxis limit {limits['chemotaxis']:.4g} h; the largest stable dt is "
                             f"{limits['stable']:.4g} h")
        target = grid.safety * limits["stable"] if grid.dt is None else grid.dt
    else:
        target = grid.dt
    n_sub = max(1, math.ceil(grid.save_every / target - 1e-9))
    dt = grid.save_every / n_sub
    y = initial_condition_2d(grid, p.K, R_u, R_i) if y0 is None else OVState(*(jnp.asarray(v) for v in y0))
    if y.u.shape[-2:] != (grid.N, grid.N):
        raise ValueError(f"y0 fields have shape {y.u.shape}, the grid is {(grid.N, grid.N)}")
    final, series = _run_2d(y, p, protocol, jnp.asarray(dt), grid, n_sub, n_save)
    series = jnp.concatenate([_totals(y, grid.dx)[None], series])
    stacked = jnp.stack(final)
    status = jnp.where(~jnp.all(jnp.isfinite(stacked)), 1, jnp.where(jnp.min(stacked) < 0, 2, 0))
    return Solution2D(grid.save_every * np.arange(n_save + 1), series, final, status, dt)
