r"""Cell-centred finite volumes on a box with zero-flux walls, for "myopic" diffusion.

The operator is $\nabla\cdot\nabla(w)$ with $w = \mathbb{D}\,n$ (a density times a diffusion
coefficient), written in flux form: the flux through the face between cells $i$ and $i+1$
along axis $k$ is $-(w_{i+1} - w_i)/h_k$ and the wall fluxes are zero. Every face flux leaves
one cell and enters its neighbour, so $\sum_i (\Delta_h w)_i\,|K| = 0$ to round-off: mass is
conserved exactly by any scheme that adds $\Delta t\,\Delta_h w$ to $n$.

Forward Euler $n' = n + \Delta t\,\Delta_h(\mathbb{D} n)$ is non-negative and stable if and only if
$\Delta t \le 1 / (2 \max\mathbb{D} \sum_k h_k^{-2})$ (the diagonal stays non-negative;
the Fourier symbol of $\Delta_h$ reaches $-4/h_k^2$). The linearly implicit step
$(I - \Delta t\,\Delta_h \mathbb{D}) n' = n$ has no step limit: with $w' = \mathbb{D} n'$ it reads
$(\mathbb{D}^{-1} - \Delta t\,\Delta_h) w' = n$, a symmetric positive definite system (tridiagonal
in 1D, conjugate gradients in 2D and 3D); $I - \Delta t\,\Delta_h\mathbb{D}$ is an M-matrix, so
$n' \ge 0$, and $n'$ is formed as $n + \Delta t\,\Delta_h w'$, which conserves mass to round-off
whatever the accuracy of the linear solve.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import is_concrete


@dataclasses.dataclass(frozen=True)
class FVGrid:
    """A uniform cell-centred grid on the box $[0, L_1] \\times \\dots \\times [0, L_d]$.

    Static (hashable): the shape fixes array sizes and is never traced.

    **Arguments:**

    - `shape`: cells per axis, e.g. `(200,)` or `(64, 64)`.
    - `length`: box side per axis (a number applies to every axis) [length units].
    """

    shape: tuple[int, ...]
    length: tuple[float, ...] | float = 1.0

    def __post_init__(self):
        shape = tuple(int(s) for s in np.atleast_1d(self.shape))
        length = tuple(float(x) for x in np.broadcast_to(np.asarray(self.length, float), (len(shape),)))
        if not 1 <= len(shape) <= 3 or min(shape) < 2:
            raise ValueError(f"FVGrid needs 1 to 3 axes of at least 2 cells, got shape {shape}")
        if min(length) <= 0 or not all(math.isfinite(x) for x in length):
            raise ValueError(f"FVGrid lengths must be positive and finite, got {length}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "length", length)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def h(self) -> tuple[float, ...]:
        """Cell widths per axis."""
        return tuple(L / n for L, n in zip(self.length, self.shape))

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.h))

    def centres(self, axis: int = 0) -> np.ndarray:
        """Cell-centre coordinates along one axis."""
        return (np.arange(self.shape[axis]) + 0.5) * self.h[axis]

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates broadcast to the grid shape (`indexing="ij"`)."""
        return tuple(np.meshgrid(*(self.centres(k) for k in range(self.ndim)), indexing="ij"))

    def integrate(self, n):
        """$\\int_\\Omega n\\,dx$ over the grid axes (the last `ndim` axes of `n`)."""
        return jnp.sum(n, axis=tuple(range(-self.ndim, 0))) * self.cell_volume


def face_fluxes(w, grid: FVGrid, axis: int):
    """Fluxes $-(w_{i+1} - w_i)/h$ through the interior faces along grid axis `axis`.

    The grid axes are the last `grid.ndim` axes of `w`; the result has one fewer entry on that axis.
    """
    return -jnp.diff(w, axis=w.ndim - grid.ndim + axis) / grid.h[axis]


def divergence(fluxes, grid: FVGrid, axis: int):
    """$-(F_{i+1/2} - F_{i-1/2})/h$ per cell from the interior-face fluxes along grid axis `axis`.

    The wall fluxes are zero (no flux through the boundary).
    """
    a = fluxes.ndim - grid.ndim + axis
    pad = [(0, 0)] * fluxes.ndim
    pad[a] = (1, 1)
    return -jnp.diff(jnp.pad(fluxes, pad), axis=a) / grid.h[axis]


def myopic_laplacian(w, grid: FVGrid):
    r"""$\Delta_h w$ with zero-flux walls, in flux form, on the last `grid.ndim` axes of `w`.

    For $w = \mathbb{D} n$ this is the myopic diffusion $\nabla\nabla:(\mathbb{D} n)$ of an
    isotropic tensor $\mathbb{D} = D\,\mathrm{Id}$. Leading axes (populations) are batch axes.
    """
    return sum(divergence(face_fluxes(w, grid, k), grid, k) for k in range(grid.ndim))


def stable_dt(d_max, grid: FVGrid):
    r"""The largest stable, positivity-preserving forward-Euler step of $\partial_t n = \Delta(\mathbb{D}n)$.

    $\Delta t_{max} = 1 / (2\,\max\mathbb{D} \sum_k h_k^{-2})$; `d_max` is the largest
    diffusion coefficient anywhere on the grid.
    """
    return 1.0 / (2.0 * d_max * sum(1.0 / h**2 for h in grid.h))


def check_explicit_dt(dt, d_max, grid: FVGrid, what: str = "explicit diffusion"):
    """Raise a `ValueError` naming the limit and the largest stable step if `dt` exceeds it.

    Only checks concrete values; traced ones are left to a run-time check by the caller.
    """
    if not is_concrete(dt, d_max):
        return
    limit = float(stable_dt(np.asarray(d_max), grid))
    if float(dt) > limit * (1 + 1e-12):
        raise ValueError(
            f"{what}: dt = {float(dt):.6g} breaks the stability limit dt <= 1/(2 max(D) sum_k 1/h_k^2) "
            f"with max(D) = {float(np.max(d_max)):.6g} and h = {grid.h}; the largest stable step is "
            f"{limit:.6g} (or use the implicit scheme)"
        )


def _apply_spd(w, d, dt, grid):
    """$(\\mathbb{D}^{-1} - \\Delta t\\,\\Delta_h) w$ on one field."""
    return w / d - dt * myopic_laplacian(w, grid)


def _tridiagonal_solve(d, dt, rhs, grid):
    """Solve $(\\mathbb{D}^{-1} - \\Delta t\\,\\Delta_h) w = r$ in 1D (one field, shape `(n,)`)."""
    c = dt / grid.h[0] ** 2
    n = rhs.shape[0]
    neighbours = jnp.full((n,), 2.0, rhs.dtype).at[0].set(1.0).at[-1].set(1.0)
    diag = 1.0 / d + c * neighbours
    off = jnp.full((n,), -c, rhs.dtype)
    lower = off.at[0].set(0.0)
    upper = off.at[-1].set(0.0)
    return jax.lax.linalg.tridiagonal_solve(lower, diag, upper, rhs[:, None])[:, 0]


def _cg_solve(d, dt, rhs, grid, tol):
    """Jacobi-preconditioned conjugate gradients for the same SPD system in 2D/3D."""
    diag = 1.0 / d + 2.0 * dt * sum(1.0 / h**2 for h in grid.h)
    w, _ = jax.scipy.sparse.linalg.cg(
        lambda w: _apply_spd(w, d, dt, grid), rhs, x0=rhs * d, tol=tol, M=lambda r: r / diag,
        maxiter=10 * rhs.size,
    )
    return w


def implicit_myopic_step(n, d, dt, grid: FVGrid, *, tol: float = 1e-12):
    r"""One linearly implicit step $(I - \Delta t\,\Delta_h\mathbb{D})\,n' = n$ for one population.

    **Arguments:**

    - `n`: densities, shape `grid.shape`.
    - `d`: positive diffusion coefficients, broadcastable to `grid.shape` (frozen at the old
      step when they depend on the state).
    - `dt`: the step (traced).
    - `tol`: relative residual of conjugate gradients (2D/3D; 1D is a direct tridiagonal solve).

    Returns $n' = n + \Delta t\,\Delta_h w'$ with $w' = \mathbb{D}n'$ the solution of the SPD system:
    conservative to round-off, non-negative for $n \ge 0$, unconditionally stable.
    """
    d = jnp.broadcast_to(d, n.shape)
    if grid.ndim == 1:
        w = _tridiagonal_solve(d, dt, n, grid)
    else:
        w = _cg_solve(d, dt, n, grid, tol)
    return n + dt * myopic_laplacian(w, grid)
