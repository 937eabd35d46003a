"""The published scheme exactly as the author's C++ code implements it (seed 003, Sec. 2.3).

One step is Strang splitting R(dt/2) D(dt) R(dt/2). R = reactions + chemotaxis by Heun's RK2 in
`exp_substeps` substeps with the predictor clamped at 0 and a clamp after each substep; D = for
each field (I - dt D_u Delta_h)u = b by Jacobi from u = b, stopped after `diff_iters` sweeps or
when max|u_new - u_old| < `diff_tol`, then a clamp. Neighbour indices are clamped to the grid
(ghost = boundary value), so the boundary row of Delta_h is (u_1 - u_0)/dx^2 and the unweighted
node sum is conserved. Chemotaxis fluxes are central: F = 1/2(chi_a + chi_b) 1/2(C_a + C_b)(S_b - S_a)/dx.
Floating-point operations follow the code's order, and the division by the constant dx^2 stays a
division (XLA would multiply by the reciprocal), so with XLA's fused multiply-adds off (`XLA_FLAGS=
--xla_cpu_max_isa=AVX`, as the C++ was built for the x86-64 baseline) the run is the C++ run bit for
bit; with them on it agrees to round-off, which the unstable RK2 amplifies.

The explicit RK2 is far outside its stability region at the published parameters
([`reference_stability`][]); use it to reproduce the reference, the accurate scheme to solve the model.
"""

import warnings

import jax.numpy as jnp
import numpy as np
from jax import lax

from ._grid import shift, spacing
from ._kinetics import chi, reactions
from ._params import CARTInitial, CARTNumerics, CARTParams


def chemotaxis_reference(C, S, A, p, inv):
    """-div(chi_C(A) C grad S) with the code's central face averages; `inv` = (1/dx, 1/dy, 1/dz)."""
    chi_n = chi(A, p)
    div = None
    for a in range(3):
        ax = a + C.ndim - 3
        Fp = (0.5 * (chi_n + shift(chi_n, ax, 1))) * (0.5 * (C + shift(C, ax, 1))) * ((shift(S, ax, 1) - S) * inv[a])
        n = C.shape[ax]
        Fm = jnp.concatenate([jnp.zeros_like(lax.slice_in_dim(Fp, 0, 1, axis=ax)),
                              lax.slice_in_dim(Fp, 0, n - 1, axis=ax)], ax)
        term = (Fp - Fm) * inv[a]
        div = term if div is None else div + term
    return -div


def rhs_reference(U, p, inv):
    """Reaction plus chemotaxis rates, shape (7, nx, ny, nz), in the code's operation order."""
    R = reactions(U, p)
    return R.at[0].set(R[0] + chemotaxis_reference(U[0], U[4], U[5], p, inv))


def rk2_reference(U, p, h: float, substeps: int, inv):
    """`substeps` Heun steps of size h/substeps with the clamped predictor (`explicit_rk2`), as a `fori_loop`."""
    hs = h / substeps

    def heun(_, U):
        k1 = rhs_reference(U, p, inv)
        tmp = jnp.maximum(U + hs * k1, 0.0)
        k2 = rhs_reference(tmp, p, inv)
        U = U + (0.5 * hs) * k1
        U = U + (0.5 * hs) * k2
        return jnp.maximum(U, 0.0)

    return lax.fori_loop(0, substeps, heun, U)


def _no_reciprocal(d, dtype):
    """A constant divisor behind an optimization barrier: XLA rewrites x / constant as x * (1/constant),
    which rounds differently from the C++ division (here in one case in seven)."""
    return lax.optimization_barrier(jnp.asarray(d, dtype))


def jacobi_reference(b, D, dt: float, h, max_iters: int, tol: float, fixed: bool = False):
    """Jacobi for (I - dt D Delta_h)u = b from u = b (`implicit_diffusion_solve`); returns (u, sweeps).

    `fixed=True` runs exactly `max_iters` sweeps with converged ones masked (same result; reverse-mode
    differentiable), otherwise a while loop stops at the tolerance as the code does.
    """
    ax, ay, az = (dt * D / _no_reciprocal(hh * hh, b.dtype) for hh in h)
    denom = 1.0 + 2.0 * (ax + ay + az)
    o = b.ndim - 3

    def sweep(cur):
        new = (b + ax * (shift(cur, o, 1) + shift(cur, o, -1)) + ay * (shift(cur, o + 1, 1) + shift(cur, o + 1, -1))
               + az * (shift(cur, o + 2, 1) + shift(cur, o + 2, -1))) / denom
        return new, jnp.max(jnp.abs(new - cur))

    inf = jnp.asarray(jnp.inf, b.dtype)
    if fixed:
        def body(_, c):
            cur, last, it = c
            new, delta = sweep(cur)
            go = ~(last < tol)
            return jnp.where(go, new, cur), jnp.where(go, delta, last), it + go.astype(jnp.int32)
        u, _, it = lax.fori_loop(0, max_iters, body, (b, inf, jnp.int32(0)))
        return u, it

    def cond(c):
        _, last, it = c
        return (it < max_iters) & ~(last < tol)

    def body(c):
        cur, _, it = c
        new, delta = sweep(cur)
        return new, delta, it + 1

    u, _, it = lax.while_loop(cond, body, (b, inf, jnp.int32(0)))
    return u, it


def step_reference(U, p: CARTParams, num: CARTNumerics, fixed_jacobi: bool = False):
    """One Strang step `step_strang`; returns (U, Jacobi sweeps per field (7,))."""
    h = spacing(num)
    inv = tuple(1.0 / hh for hh in h)
    U = rk2_reference(U, p, 0.5 * num.dt, num.exp_substeps, inv)
    fields, sweeps = [], []
    for f, D in enumerate(p.diffusion()):
        u, it = jacobi_reference(U[f], D, num.dt, h, num.diff_iters, num.diff_tol, fixed_jacobi)
        fields.append(u)
        sweeps.append(it)
    U = jnp.maximum(jnp.stack(fields), 0.0)
    U = rk2_reference(U, p, 0.5 * num.dt, num.exp_substeps, inv)
    return U, jnp.stack(sweeps)


def reference_stability(p: CARTParams, init: CARTInitial, num: CARTNumerics) -> dict:
    r"""Where the explicit RK2 of the reference scheme is stable.

    Heun's method is stable for a decay rate $\lambda$ when $h\lambda \le 2$, $h = dt/(2\,
    \mathrm{exp\_substeps})$. The stiffest rates are the loss of C, $\delta_{CT}T_A + k_e(A,H) + d_C$,
    and of $T_A$, $\gamma C + \mu_{AB}(C) + d_{T_A}$, evaluated at the initial densities and at the
    largest immunosuppressant level the tumour can sustain, $A_{max} = (\sigma_A K_T + \sigma_M)/\lambda_A$
    (and $H_{max} = \eta K_T/\lambda_H$); without decay ($\lambda = 0$) the level reached by the horizon,
    source $\times$ T. Returns the rates, h and the largest stable dt.
    """
    f = lambda x: float(np.asarray(x))  # noqa: E731
    level = lambda src, lam: src / lam if lam > 0 else src * num.T  # noqa: E731
    T0, C0 = f(init.tumor_value), max(f(init.cart_value), f(init.dose2))
    A_max = level(f(p.sigma_A) * f(p.K_T) + f(p.sigma_M), f(p.lambda_A))
    H_max = level(f(p.eta) * f(p.K_T), f(p.lambda_H))
    rates = {
        "C loss delta_CT*T_A(0) + k_e(0) + d_C": f(p.delta_CT) * T0 + f(p.k_e0) + f(p.d_C),
        "T_A loss gamma*C(0) + mu_AB(C(0)) + d_TA": f(p.gamma) * C0 + f(p.mu_0) + f(p.nu) * C0 + f(p.d_TA),
        "C exhaustion k_e(A_max, H_max)": f(p.k_e0) * (1 + f(p.beta_A) * A_max + f(p.beta_H) * H_max),
    }
    h = 0.5 * num.dt / num.exp_substeps
    worst = max(rates, key=rates.get)
    lam = rates[worst]
    dt_max = 4.0 * num.exp_substeps / lam if lam > 0 else np.inf
    return {"h": h, "rates": rates, "stiffest": worst, "h_times_rate": h * lam, "stable": h * lam <= 2.0,
            "dt_max": dt_max}


def warn_if_unstable(p, init, num) -> dict:
    """Warn (RuntimeWarning) when the reference RK2 substep breaks its stability limit h*rate <= 2."""
    s = reference_stability(p, init, num)
    if not s["stable"]:
        warnings.warn(
            f"reference scheme: the explicit RK2 substep h = dt/(2*exp_substeps) = {s['h']:.4g} is unstable: "
            f"h*rate = {s['h_times_rate']:.3g} > 2 for the {s['stiffest']} = {s['rates'][s['stiffest']]:.4g}/day. "
            f"The stable limit is h <= 2/rate, i.e. dt <= {s['dt_max']:.3g} at exp_substeps = {num.exp_substeps}. "
            f"The clamps then turn the overshoot into artificial annihilation of C and T_A; use "
            f"scheme='accurate' for the model's dynamics.", RuntimeWarning, stacklevel=3)
    return s
