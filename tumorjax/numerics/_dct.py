r"""Diffusion with zero-flux (Neumann) boundaries solved exactly by discrete cosine transforms.

The second-difference operator with reflecting boundaries is diagonalised by a cosine transform:

- `grid="cell"`: cell-centred nodes $x_i = (i + 1/2)h$, ghost value = boundary value, boundary row
  $(u_1 - u_0)/h^2$ (also the stencil of codes that clamp neighbour indices on a vertex grid).
  DCT-II, eigenvalues $\lambda_k = -\frac{4}{h^2}\sin^2\frac{\pi k}{2n}$. Conserves $\sum_i u_i$.
- `grid="vertex"`: nodes $x_i = ih$ on both boundaries, mirror ghost $u_{-1} = u_1$, boundary row
  $2(u_1 - u_0)/h^2$. DCT-I, $\lambda_k = -\frac{4}{h^2}\sin^2\frac{\pi k}{2(n-1)}$. Conserves the
  trapezoid sum $\sum_i w_iu_i$ ($w = 1/2$ at the two boundary nodes). Second order at the boundary.

In 1-3 dimensions the Laplacian is the sum over axes, so any function of it is applied by one
transform per axis. [`neumann_heat`][] applies $e^{\tau\Delta_h}$ (exact in time),
[`neumann_resolvent`][] $(I - \tau\Delta_h)^{-1}$ (backward Euler). [`neumann_cg_solve`][] solves
$(I - \tau\nabla_h\cdot D(x)\nabla_h)u = b$ for a spatially varying coefficient by preconditioned
conjugate gradients (the constant-coefficient resolvent is the preconditioner). Everything is
jit-, vmap-, grad- and GPU-safe; the spatial axes are the trailing `len(spacing)` axes.
"""

import jax.numpy as jnp
import jax.scipy.fft as jfft
import jax.scipy.sparse.linalg as jsl
import numpy as np

GRIDS = ("cell", "vertex")


def _check(u, spacing, grid):
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    d = len(spacing)
    if not 1 <= d <= 3 or jnp.ndim(u) < d:
        raise ValueError(f"need 1-3 spatial axes and an array with at least that many, got {d} and shape "
                         f"{jnp.shape(u)}")
    shape = jnp.shape(u)[-d:]
    if min(shape) < 2:
        raise ValueError(f"each spatial axis needs at least 2 nodes, got {shape}")
    return shape


def neumann_eigenvalues(n: int, h: float, grid: str = "cell") -> np.ndarray:
    """Eigenvalues of the 1D Neumann second difference on `n` nodes of spacing `h`, shape `(n,)`."""
    k = np.arange(n)
    m = n if grid == "cell" else n - 1
    return -4.0 / h**2 * np.sin(np.pi * k / (2 * m)) ** 2


def _dct1(x, axis):
    """Unnormalised DCT-I along `axis` via the FFT of the even extension (length 2(n-1))."""
    x = jnp.moveaxis(x, axis, -1)
    ext = jnp.concatenate([x, x[..., -2:0:-1]], axis=-1)
    y = jnp.fft.rfft(ext, axis=-1).real
    return jnp.moveaxis(y, -1, axis)


def _forward(u, axis, grid):
    return jfft.dct(u, type=2, axis=axis, norm="ortho") if grid == "cell" else _dct1(u, axis)


def _inverse(u, axis, grid):
    if grid == "cell":
        return jfft.idct(u, type=2, axis=axis, norm="ortho")
    n = u.shape[axis]
    return _dct1(u, axis) / (2 * (n - 1))


def neumann_apply(u, spacing, symbol, grid: str = "cell"):
    r"""Apply $g(\Delta_h)$ to `u`, where `symbol(lam)` gives $g$ at the summed eigenvalues.

    `u`: array whose trailing `len(spacing)` axes are spatial; `spacing`: grid steps per axis.
    """
    shape = _check(u, spacing, grid)
    d = len(spacing)
    axes = tuple(range(jnp.ndim(u) - d, jnp.ndim(u)))
    lam = 0.0
    for a, (n, h) in enumerate(zip(shape, spacing)):
        ev = neumann_eigenvalues(n, h, grid)
        lam = lam + ev.reshape((n,) + (1,) * (d - 1 - a))
    v = u
    for ax in axes:
        v = _forward(v, ax, grid)
    v = v * symbol(jnp.asarray(lam, dtype=v.dtype))
    for ax in axes:
        v = _inverse(v, ax, grid)
    return v


def neumann_heat(u, coeff, tau, spacing, grid: str = "cell"):
    r"""$e^{\tau\,\mathrm{coeff}\,\Delta_h}u$: the exact solution of $u_t = \mathrm{coeff}\,\Delta_h u$ after
    time `tau`. Unconditionally stable, positivity preserving and conservative. `coeff` and `tau`
    may be traced scalars (or arrays broadcasting against the leading, non-spatial axes)."""
    c = jnp.asarray(coeff) * tau
    c = jnp.reshape(c, jnp.shape(c) + (1,) * len(spacing))
    return neumann_apply(u, spacing, lambda lam: jnp.exp(c * lam), grid)


def neumann_resolvent(u, coeff, tau, spacing, grid: str = "cell"):
    r"""$(I - \tau\,\mathrm{coeff}\,\Delta_h)^{-1}u$: one backward-Euler diffusion step, solved exactly."""
    c = jnp.asarray(coeff) * tau
    c = jnp.reshape(c, jnp.shape(c) + (1,) * len(spacing))
    return neumann_apply(u, spacing, lambda lam: 1.0 / (1.0 - c * lam), grid)


def _axis_weights(shape, grid, dtype):
    """1D node weights per axis, each shaped to broadcast along its axis."""
    out = []
    for ax, n in enumerate(shape):
        wa = np.ones(n)
        if grid == "vertex":
            wa[0] = wa[-1] = 0.5
        out.append(jnp.asarray(wa, dtype).reshape((n,) + (1,) * (len(shape) - 1 - ax)))
    return out


def node_weights(shape, grid: str = "cell", dtype=float):
    """Quadrature weights of the nodes (1, or 1/2 per boundary face on a vertex grid), shape `shape`."""
    w = jnp.ones(shape, dtype)
    for wa in _axis_weights(shape, grid, dtype):
        w = w * wa
    return w


def neumann_flux_divergence(u, D, spacing, grid: str = "cell"):
    r"""$W\nabla_h\cdot(D\nabla_h u)$: the weighted conservative divergence $\sum_a A_a(F_{i+1/2} - F_{i-1/2})/h_a$
    of the face fluxes $F = D_{face}(u_{i+1} - u_i)/h$ (arithmetic face average of `D`, zero through the
    boundary), $A_a$ the face-area weight (product of the other axes' node weights). Divide by
    [`node_weights`][] for the operator itself."""
    d = len(spacing)
    ws = _axis_weights(u.shape[-d:], grid, u.dtype)
    out = jnp.zeros_like(u)
    for a, h in enumerate(spacing):
        area = 1.0
        for b in range(d):
            if b != a:
                area = area * ws[b]
        ax = u.ndim - d + a
        n = u.shape[ax]
        lo = lambda x: jnp.take(x, jnp.arange(n - 1), axis=ax)  # noqa: B023,E731
        hi = lambda x: jnp.take(x, jnp.arange(1, n), axis=ax)  # noqa: B023,E731
        F = 0.5 * (lo(D) + hi(D)) * (hi(u) - lo(u)) / h
        zero = jnp.zeros_like(jnp.take(u, jnp.arange(1), axis=ax))
        Fp = jnp.concatenate([F, zero], axis=ax)
        Fm = jnp.concatenate([zero, F], axis=ax)
        out = out + area * (Fp - Fm) / h
    return out


def cg_tolerance(dtype) -> float:
    """Default relative CG tolerance for `dtype`: 1e-12, or 100 machine epsilons where that is larger (float32)."""
    return max(1e-12, 100.0 * float(jnp.finfo(dtype).eps))


def neumann_cg_solve(b, D, tau, spacing, grid: str = "cell", *, tol: float | None = None, maxiter: int = 500):
    r"""Solve $(I - \tau\nabla_h\cdot(D\nabla_h))u = b$ with zero-flux boundaries for a coefficient field $D(x)$.

    Conservative face fluxes with arithmetic face averages of `D` (shape of `b`'s spatial part).
    The system is made symmetric by the node weights $w$ ($Wu - \tau L_Du = Wb$) and solved by
    conjugate gradients, preconditioned by the constant-coefficient resolvent at the mean of $D$.
    Differentiable (implicit differentiation through `jax.scipy.sparse.linalg.cg`). `tol` defaults to
    `cg_tolerance` of `b`'s dtype. Returns `(u, relative residual)`.
    """
    _check(b, spacing, grid)
    tol = cg_tolerance(b.dtype) if tol is None else tol
    w = node_weights(b.shape[-len(spacing):], grid, b.dtype)
    Dmean = jnp.mean(D)

    def A(u):
        return w * u - tau * neumann_flux_divergence(u, D, spacing, grid)

    def M(r):
        return neumann_resolvent(r / w, Dmean, tau, spacing, grid)

    rhs = w * b
    u, _ = jsl.cg(A, rhs, x0=b, tol=tol, atol=0.0, maxiter=maxiter, M=M)
    res = jnp.linalg.norm(A(u) - rhs) / jnp.maximum(jnp.linalg.norm(rhs), jnp.finfo(b.dtype).tiny)
    return u, res
