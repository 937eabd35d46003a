r"""An accurate, stable scheme for the CAR-T model (tumorjax's own design).

One step of length dt is the symmetric (Strang) composition

$$U^{n+1} = \mathcal R(\tfrac{dt}{2})\,\mathcal X(\tfrac{dt}{2})\,\mathcal D(dt)\,\mathcal X(\tfrac{dt}{2})\,
  \mathcal R(\tfrac{dt}{2})\,U^n,$$

second order in dt, with

- $\mathcal R$: the local reactions (9)-(15) in every voxel, solved by the L-stable Rosenbrock
  method ROS2 with an embedded error estimate and step-size control (`rtol`/`atol` on fields
  scaled by their natural sizes, the worst voxel deciding), vectorised over all voxels. No stability limit: the kill
  rate $\delta_{CT}T_A \sim 10^7$/day that wrecks the explicit RK2 is resolved by the step control.
- $\mathcal D$: diffusion, exact in time. On the vertex grid with true zero-flux (mirror)
  boundaries the 7-point Laplacian is diagonalised by a DCT-I, so $e^{dt\,D\Delta_h}$ is applied
  exactly ([`tumorjax.numerics.neumann_heat`][]). A spatially varying $D_C(x)$ uses
  Crank-Nicolson with a preconditioned conjugate-gradient solve ([`tumorjax.numerics.neumann_cg_solve`][]);
  a CG solve that misses its tolerance sets `ok` to False.
- $\mathcal X$: chemotaxis of C in the frozen field $\chi_C(A)\nabla S$, conservative finite volumes
  with minmod-limited upwind (MUSCL) face values and the SSP (Heun) RK2 in as many substeps as
  CFL <= 1/2 needs (at most `chemo_substeps`): second order where smooth, positivity-preserving.

Space is second order (vertex grid, 2(u_1 - u_0)/dx^2 at the boundary), and the scheme conserves
the trapezoid-weighted sum of every field under diffusion and chemotaxis. Negative values come from
the reaction solver's tolerance (at the level of `atol`) and, with a `D_C_map`, from Crank-Nicolson, which
is not positivity-preserving: rough C oscillates once dt D_C/dx^2 is of order 1 (a unit spike with
dx = dt = 0.05 and D_C_map = 4 dips to -0.48). They are set to 0, and the unweighted node sum of what
was added is reported per field (`clamped`; not a mass: the nodes are not weighted by volume).
"""

import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jax import lax

from ..numerics import neumann_cg_solve, neumann_flux_divergence, neumann_heat, node_weights
from ..numerics._dct import cg_tolerance
from ._grid import shift, spacing
from ._kinetics import chi, reactions
from ._params import CARTNumerics, CARTParams

GRID = "vertex"


def _level(source, decay, ref):
    """source/decay (the steady level); source over one day when decay = 0; `ref` when that is 0 or not finite."""
    s = source / jnp.where(decay > 0, decay, 1.0)
    return jnp.where(jnp.isfinite(s) & (s > 0), s, ref)


def field_scale(p: CARTParams):
    """Natural size of each field, shape (7,): K_T for the cells, the steady levels of S, A, H at K_T
    (see `_level`; K_T where a field has no source, so that the scale is never 0)."""
    K = jnp.asarray(p.K_T)
    return jnp.stack([K, K, K, K, _level(p.sigma_S * K, p.lambda_S, K),
                      _level(p.sigma_A * K + p.sigma_M, p.lambda_A, K), _level(p.eta * K, p.lambda_H, K)])


_GAMMA = 1.0 + 1.0 / 2.0**0.5


def reaction_flow(U, p: CARTParams, tau, num: CARTNumerics, h0):
    r"""Solve dU/dt = reactions(U) for time `tau` in every voxel by the L-stable Rosenbrock method ROS2.

    ROS2 (Verwer et al. 1999), $\gamma = 1 + 1/\sqrt2$, per voxel with its exact 7x7 Jacobian $J$:
    $(I - \gamma hJ)k_1 = f(y)$, $(I - \gamma hJ)k_2 = f(y + hk_1) - 2k_1$,
    $y_{new} = y + \tfrac32 hk_1 + \tfrac12 hk_2$; the embedded first-order $y + hk_1$ gives the
    error estimate $\tfrac h2(k_1 + k_2)$, filtered by $(I - \gamma hJ)^{-1}$ as Shampine recommends
    for stiff problems (otherwise fast transients must be resolved). One step size for all voxels, so that the
    largest scaled error (RMS over the 7 fields, `rtol`/`atol` on fields divided by
    [`field_scale`][]) is <= 1. The loop is a checkpointed bounded while loop, so it can be
    reverse-differentiated. `h0` is the first trial step. Returns (U, last accepted step, steps, ok).
    """
    scale = field_scale(p).astype(U.dtype)
    shape = U.shape
    z0 = (U.reshape(7, -1) / scale[:, None]).T
    eye = jnp.eye(7, dtype=U.dtype)
    tau = jnp.asarray(tau, U.dtype)

    def cond(c):
        t, _, _, n, _, _ = c
        return (t < tau) & (n < num.max_reaction_steps)

    def body(c):  # the parameters travel in the carry, so reverse mode sees them
        t, h, z, n, h_last, q = c
        f1 = lambda y: reactions(y * scale, q) / scale  # noqa: E731
        f, jac = jax.vmap(f1), jax.vmap(jax.jacfwd(f1))
        h = jnp.minimum(h, tau - t)
        M = eye - (_GAMMA * h) * jac(z)
        k1 = jnp.linalg.solve(M, f(z)[..., None])[..., 0]
        k2 = jnp.linalg.solve(M, (f(z + h * k1) - 2.0 * k1)[..., None])[..., 0]
        znew = z + (1.5 * h) * k1 + (0.5 * h) * k2
        err = jnp.linalg.solve(M, (0.5 * h * (k1 + k2))[..., None])[..., 0]
        sc = num.atol + num.rtol * jnp.maximum(jnp.abs(z), jnp.abs(znew))
        e = lax.stop_gradient(jnp.max(jnp.sqrt(jnp.mean((err / sc) ** 2, axis=1))))  # step choice: not differentiated
        e = jnp.where(jnp.isfinite(e), e, jnp.inf)
        accept = e <= 1.0
        fac = jnp.clip(0.9 * jnp.where(e > 0, e, 1e-10) ** -0.5, 0.2, 5.0)
        return (jnp.where(accept, t + h, t), h * fac, jnp.where(accept, znew, z), n + 1,
                jnp.where(accept, h, h_last), q)

    init = (jnp.zeros((), U.dtype), jnp.asarray(h0, U.dtype), z0, jnp.int32(0), jnp.asarray(h0, U.dtype), p)
    t, _, z, n, h_last, _ = eqxi.while_loop(cond, body, init, max_steps=num.max_reaction_steps, kind="checkpointed")
    return (z.T * scale[:, None]).reshape(shape), h_last, n, t >= tau


def _minmod(a, b):
    return jnp.where(a * b > 0, jnp.sign(a) * jnp.minimum(jnp.abs(a), jnp.abs(b)), 0.0)


def _axis_weight(n, ax, ndim, dtype):
    w = jnp.ones(n, dtype).at[0].set(0.5).at[-1].set(0.5)
    return w.reshape((n,) + (1,) * (ndim - 1 - ax))


def chemotaxis_rate(C, S, A, p, h):
    """-div(chi_C(A) C grad S) by conservative MUSCL-minmod upwind fluxes on the vertex grid.

    Returns (rate, CFL rate): the second is sum over faces of the outgoing |velocity|/(w dx), so a
    (sub)step tau is positivity-preserving when tau * CFL rate <= 1/2."""
    chi_n = chi(A, p)
    rate = jnp.zeros_like(C)
    out_speed = jnp.zeros_like(C)
    for ax, hh in enumerate(h):
        n = C.shape[ax]
        up = lambda x: shift(x, ax, 1)  # noqa: B023,E731
        v = 0.5 * (chi_n + up(chi_n)) * (up(S) - S) / hh  # face i+1/2 (the last one is 0: boundary)
        slope = _minmod(C - shift(C, ax, -1), up(C) - C)
        CL = C + 0.5 * slope
        CR = up(C) - 0.5 * up(slope)
        F = jnp.maximum(v, 0.0) * CL + jnp.minimum(v, 0.0) * CR
        Fm = jnp.concatenate([jnp.zeros_like(lax.slice_in_dim(F, 0, 1, axis=ax)),
                              lax.slice_in_dim(F, 0, n - 1, axis=ax)], ax)
        w = _axis_weight(n, ax, C.ndim, C.dtype)
        rate = rate - (F - Fm) / (w * hh)
        vm = jnp.concatenate([jnp.zeros_like(lax.slice_in_dim(v, 0, 1, axis=ax)),
                              lax.slice_in_dim(v, 0, n - 1, axis=ax)], ax)
        out_speed = out_speed + (jnp.maximum(v, 0.0) + jnp.maximum(-vm, 0.0)) / (w * hh)
    return rate, jnp.max(out_speed)


def chemotaxis_flow(U, p, tau, num: CARTNumerics):
    """C after time `tau` of chemotaxis in the frozen S, A by Heun (SSP-RK2) substeps.

    The velocity is frozen, so the CFL rate is known up front: the number of substeps is
    ceil(2 tau rate) (CFL <= 1/2, positivity-preserving), at most `chemo_substeps`. Returns
    (U, substeps used, ok = whether the cap sufficed)."""
    h = spacing(num)
    C, S, A = U[0], U[4], U[5]
    rate = lax.stop_gradient(chemotaxis_rate(C, S, A, p, h)[1])
    need = jnp.maximum(jnp.ceil(2.0 * tau * rate), 1.0)
    n = jnp.minimum(need, num.chemo_substeps)
    ts = tau / n

    def body(c):
        C, i = c
        k1, _ = chemotaxis_rate(C, S, A, p, h)
        Cs = C + ts * k1
        k2, _ = chemotaxis_rate(Cs, S, A, p, h)
        return 0.5 * C + 0.5 * (Cs + ts * k2), i + 1

    C, _ = eqxi.while_loop(lambda c: c[1] < n, body, (C, jnp.zeros((), U.dtype)),
                           max_steps=num.chemo_substeps, kind="checkpointed")
    return U.at[0].set(C), n, need <= num.chemo_substeps


def diffusion_flow(U, p: CARTParams, tau, num: CARTNumerics, D_C_map=None):
    """Exact diffusion of every field for time `tau` (DCT-I); with `D_C_map` (a field multiplying D_C)
    C takes a Crank-Nicolson step solved by preconditioned CG. Returns (U, ok = whether CG converged)."""
    h = spacing(num)
    D = jnp.stack([jnp.asarray(d, U.dtype) for d in p.diffusion()])
    out = neumann_heat(U, D, tau, h, GRID)
    if D_C_map is None:
        return out, jnp.asarray(True)
    DC = p.D_C * D_C_map
    w = node_weights(num.shape, GRID, U.dtype)
    b = U[0] + 0.5 * tau * neumann_flux_divergence(U[0], DC, h, GRID) / w
    C, res = neumann_cg_solve(b, DC, 0.5 * tau, h, GRID)
    return out.at[0].set(C), res <= 10.0 * cg_tolerance(U.dtype)


def step_accurate(U, h, p: CARTParams, num: CARTNumerics, D_C_map=None):
    """One Strang step R X D X R from state U with trial reaction step h.

    Returns (U, h, diagnostics: reaction steps, chemotaxis substeps, node sum set to 0 per field, ok)."""
    half = 0.5 * num.dt
    U, h, s1, ok1 = reaction_flow(U, p, half, num, h)
    U, c1, okc1 = chemotaxis_flow(U, p, half, num)
    U, okd = diffusion_flow(U, p, num.dt, num, D_C_map)
    U, c2, okc2 = chemotaxis_flow(U, p, half, num)
    U, h, s2, ok2 = reaction_flow(U, p, half, num, h)
    clamped = jnp.sum(jnp.maximum(-U, 0.0).reshape(7, -1), axis=1)
    U = jnp.maximum(U, 0.0)
    return U, h, (s1 + s2, jnp.maximum(c1, c2), clamped, ok1 & ok2 & okc1 & okc2 & okd)
