r"""Conservative finite-volume kernels on cell-centred grids with zero-flux boundaries.

One set of face-flux kernels serves the radial grid ($0 \le r \le L$, face weights $r_{j+1/2}$,
cell measure $r_j\,\Delta r$) and every axis of a Cartesian grid (weights 1). A flux array holds the
$N-1$ interior faces of an axis; the two boundary faces carry zero flux, so
$\sum_j V_j\,\Delta x\,(\mathrm{div}\,F)_j = 0$ to round-off (mass balance of transport), and on the
radial grid the face at $r = 0$ has weight $r_{1/2} = 0$, which is the regularity condition.

- `diffusive_flux`:  $F_{j+1/2} = -D\,(v_{j+1} - v_j)/\Delta x \cdot a_{j+1/2}$;
- `upwind_flux`:     $F_{j+1/2} = w^+_{j+1/2} z_j - w^-_{j+1/2} z_{j+1}$, first-order upwind for a face
  velocity $w$ (LeVeque 2007, Sec. 10.4; the drift of chemotaxis);
- `flux_divergence`: $F_{j-1/2} - F_{j+1/2}$ (divide by $\Delta x\,V_j$ for the rate of change);
- `transport_tridiagonal` / `implicit_transport`: the same operator as a tridiagonal matrix and one
  backward-Euler step $(I - \Delta t\,A)v^{n+1} = v^n$ (`jax.lax.linalg.tridiagonal_solve`, differentiable).
  With upwinding the matrix is an M-matrix, so the implicit step keeps $v \ge 0$ for any $\Delta t$.
"""

import jax.numpy as jnp
from jax.lax.linalg import tridiagonal_solve


def face_difference(v, axis: int = -1):
    """$v_{j+1} - v_j$ at the interior faces of `axis` (length N-1 along it)."""
    return jnp.diff(v, axis=axis)


def diffusive_flux(v, D, dx, weight=None, axis: int = -1):
    """Fickian flux $-D\\,(v_{j+1}-v_j)/\\Delta x$ at interior faces, times the face weight if given."""
    F = -D * face_difference(v, axis) / dx
    return F if weight is None else F * weight


def upwind_flux(z, w, axis: int = -1):
    """Upwind flux $\\max(w,0) z_j - \\max(-w,0) z_{j+1}$ of a face velocity `w` (N-1 faces along `axis`)."""
    n = z.shape[axis]
    left = jnp.take(z, jnp.arange(n - 1), axis=axis)
    right = jnp.take(z, jnp.arange(1, n), axis=axis)
    return jnp.maximum(w, 0) * left - jnp.maximum(-w, 0) * right


def flux_divergence(F, axis: int = -1):
    """$F_{j-1/2} - F_{j+1/2}$ with zero flux through both boundary faces (length N along `axis`)."""
    pad = [(0, 0)] * F.ndim
    pad[axis] = (1, 0)
    before = jnp.pad(F, pad)
    pad[axis] = (0, 1)
    after = jnp.pad(F, pad)
    return before - after


def transport_tridiagonal(conductance, w, dx, volume):
    r"""Tridiagonal $(l, d, u)$ of the transport operator $A$ on one axis of length N.

    $(Av)_j = \frac{1}{\Delta x\,V_j}\big[F_{j-1/2} - F_{j+1/2}\big]$ with
    $F_{j+1/2} = -k_{j+1/2}(v_{j+1}-v_j) + w^+_{j+1/2}v_j - w^-_{j+1/2}v_{j+1}$, zero at the ends.

    **Arguments** (leading batch axes allowed, faces last):

    - `conductance`: $k_{j+1/2} = D\,a_{j+1/2}/\Delta x$ at the N-1 interior faces.
    - `w`: face velocity times face weight (N-1), or `None` for pure diffusion.
    - `dx`: cell width; `volume`: $V_j$ (N), e.g. $r_j$ on the radial grid or 1.
    """
    k = conductance
    wp = jnp.zeros_like(k) if w is None else jnp.maximum(w, 0)
    wm = jnp.zeros_like(k) if w is None else jnp.maximum(-w, 0)
    pad_lo = [(0, 0)] * (k.ndim - 1) + [(1, 0)]
    pad_hi = [(0, 0)] * (k.ndim - 1) + [(0, 1)]
    scale = 1.0 / (dx * volume)
    # face j-1/2 couples v_{j-1} (lower) and v_j; face j+1/2 couples v_j and v_{j+1} (upper)
    lower = jnp.pad(k + wp, pad_lo) * scale
    upper = jnp.pad(k + wm, pad_hi) * scale
    diag = -(jnp.pad(k + wm, pad_lo) + jnp.pad(k + wp, pad_hi)) * scale
    return lower, diag, upper


def implicit_transport(v, lower, diag, upper, dt):
    """One backward-Euler step $(I - \\Delta t A) v^{n+1} = v$ for the tridiagonal $A = (l, d, u)$.

    `v` has shape (..., N); the batch axes are solved together in one `tridiagonal_solve`.
    """
    return tridiagonal_solve(-dt * lower, 1.0 - dt * diag, -dt * upper, v[..., None])[..., 0]
