r"""Linear stability of single-delay DDEs and the delay-induced Hopf bifurcation (seed 000).

Near an equilibrium $y^*$ of $y' = f(t, y(t), y(t-\tau))$ (with $f(y^*, y^*) = 0$, so $y^*$
does not depend on $\tau$) a perturbation $e^{\lambda t}v$ obeys the characteristic equation

$$\Delta(\lambda; \tau) = \det(\lambda I - A_0 - A_1 e^{-\lambda\tau}) = 0,\qquad
  A_0 = \partial f/\partial y,\quad A_1 = \partial f/\partial y(t-\tau).$$

The equilibrium is stable while every root has $\operatorname{Re}\lambda < 0$; it loses
stability where a pair $\lambda = \pm i\omega$ crosses the imaginary axis as $\tau$ grows
(a Hopf bifurcation, seed 000 "Delay-Induced Oscillations"). For a 2x2 system with a
rank-one, trace-free $A_1$ (the delayed proliferation $\gamma T(t-\tau)E$)
$\Delta = \lambda^2 + p\lambda + q + c e^{-\lambda\tau}$, the seed's
$(\lambda + \alpha)(\lambda - \beta) + c e^{-\lambda\tau}$ with $p = \alpha - \beta$,
$q = -\alpha\beta$; the crossing then has a closed form (Cooke & Grossman 1982,
J. Math. Anal. Appl. 86:592). For other models [`tumorjax.dde.critical_delay`][] solves
$\Delta(i\omega; \tau) = 0$ by Newton's method.

Everything here is pure JAX (jit-, vmap- and grad-safe) unless it says otherwise.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import is_concrete


class HopfPoint(NamedTuple):
    r"""An imaginary-axis crossing $\lambda = \pm i\omega$ of the characteristic roots at $\tau$.

    - `tau`: the smallest positive delay of the crossing (NaN where there is none).
    - `omega`: its angular frequency (NaN where none); the period at onset is $2\pi/\omega$.
    - `direction`: $\operatorname{Re}\, d\lambda/d\tau$ at the crossing; positive: the root
      moves into the right half-plane (loss of stability when the equilibrium is stable
      below `tau`).
    - `exists`: whether a crossing with $\omega > 0$ exists.
    """

    tau: jax.Array
    omega: jax.Array
    direction: jax.Array
    exists: jax.Array


# -- linearisation ---------------------------------------------------------------------------


def delay_jacobians(model, params, y, t=0.0):
    r"""$A_0 = \partial f/\partial y$ and $A_1 = \partial f/\partial y(t-\tau)$ at `y`.

    For a single-delay [`tumorjax.DDEModel`][], both at $y(t) = y(t-\tau) = y$, by
    forward-mode autodiff of `model.vector_field(t, y, y_delayed[None], params)`.
    """
    y = jnp.asarray(y)
    if model.delays(params).shape != (1,):
        raise ValueError(f"{type(model).__name__} has {model.delays(params).shape[0]} delays; "
                         "the characteristic function here is for one delay")
    A0 = jax.jacfwd(lambda x: model.vector_field(t, x, y[None], params))(y)
    A1 = jax.jacfwd(lambda x: model.vector_field(t, y, x[None], params))(y)
    return A0, A1


def delay_equilibrium(model, params, guess, t=0.0, n_iter: int = 50):
    r"""An equilibrium of a delay model: Newton's method on $f(t, y, y) = 0$ from `guess`.

    An equilibrium of a constant-delay DDE is one of the delay-free system, whatever $\tau$.
    Returns the last iterate (check the residual `model.vector_field(t, y, y[None], params)`).
    """
    g = lambda y: model.vector_field(t, y, y[None], params)  # noqa: E731

    def body(_, y):
        step = jnp.linalg.solve(jax.jacfwd(g)(y), -g(y))
        return y + jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0)

    return jax.lax.fori_loop(0, n_iter, body, jnp.asarray(guess, model.delays(params).dtype))


def _det(M):
    n = M.shape[-1]
    if n == 1:
        return M[..., 0, 0]
    if n == 2:
        return M[..., 0, 0] * M[..., 1, 1] - M[..., 0, 1] * M[..., 1, 0]
    return jnp.linalg.det(M)


def _complex(x):
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x.dtype, jnp.complex64))


def characteristic_function(A0, A1, lam, tau):
    r"""$\Delta(\lambda; \tau) = \det(\lambda I - A_0 - A_1 e^{-\lambda\tau})$, complex.

    Holomorphic in $\lambda$. `lam` and `tau` broadcast against each other; `A0`, `A1` are `(n, n)`.
    """
    lam, tau = jnp.broadcast_arrays(_complex(lam), tau)
    n = A0.shape[-1]
    lam, z = lam[..., None, None], jnp.exp(-lam * tau)[..., None, None]
    return _det(lam * jnp.eye(n, dtype=lam.dtype) - A0 - A1 * z)


def _d_lambda_d_tau(A0, A1, lam, tau):
    r"""$d\lambda/d\tau = -\partial_\tau\Delta/\partial_\lambda\Delta$ at a root (implicit function)."""
    lam, tau = _complex(lam), _complex(tau)
    f = lambda z, s: characteristic_function(A0, A1, z, s)  # noqa: E731
    d_lam = jax.jvp(lambda z: f(z, tau), (lam,), (jnp.ones_like(lam),))[1]
    d_tau = jax.jvp(lambda s: f(lam, s), (tau,), (jnp.ones_like(tau),))[1]
    return -d_tau / d_lam


# -- closed forms ---------------------------------------------------------------------------


def _tau_from_angle(sin_t, cos_t, omega):
    """The smallest delay >= 0 with omega*tau = theta (mod 2 pi), theta from sin and cos."""
    theta = jnp.mod(jnp.arctan2(sin_t, cos_t), 2 * jnp.pi)
    return theta / omega


def hopf_scalar(a, b):
    r"""The crossing of $\lambda + a + b e^{-\lambda\tau} = 0$ (scalar DDE $x' = -a x - b x(t-\tau)$).

    At $\lambda = i\omega$: $a + b\cos\omega\tau = 0$, $\omega - b\sin\omega\tau = 0$, so
    $\omega^2 = b^2 - a^2$ (a crossing needs $|b| > |a|$) and
    $\omega\tau = \operatorname{atan2}(\omega/b, -a/b) \bmod 2\pi$; the root always crosses
    rightwards, $d\lambda/d\tau = b\lambda e^{-\lambda\tau}/(1 - b\tau e^{-\lambda\tau})$.
    The Hutchinson equation at $N = K$ has $a = 0$, $b = r$: $\tau^* = \pi/(2r)$, $\omega^* = r$.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    w2 = b**2 - a**2
    exists = w2 > 0
    omega = jnp.where(exists, jnp.sqrt(jnp.where(exists, w2, 1.0)), jnp.nan)
    sb = jnp.sign(b)
    tau = _tau_from_angle(sb * omega, -sb * a, omega)
    lam = 1j * omega
    e = jnp.exp(-lam * tau)
    direction = jnp.real(b * lam * e / (1 - b * tau * e))
    return HopfPoint(tau, omega, direction, exists)


def hopf_quadratic(p, q, c):
    r"""The first crossing of $\lambda^2 + p\lambda + q + c e^{-\lambda\tau} = 0$ (closed form).

    At $\lambda = i\omega$ the real and imaginary parts give
    $q - \omega^2 + c\cos\omega\tau = 0$ and $p\omega - c\sin\omega\tau = 0$; squaring and
    adding, $u = \omega^2$ solves $P(u) = u^2 + (p^2 - 2q)u + q^2 - c^2 = 0$. Each positive
    root gives delays $\tau_n = (\theta + 2\pi n)/\omega$ with
    $\theta = \operatorname{atan2}(p\omega/c, (\omega^2 - q)/c) \bmod 2\pi$, crossing in the
    direction $\operatorname{sign}\operatorname{Re}\, d\lambda/d\tau = \operatorname{sign} P'(u)$.
    There is one positive root if $|c| > |q|$ (or $|c| = |q|$ and $p^2 < 2q$); two (stability
    switches) if $0 < |c| < |q|$, $p^2 - 2q < 0$ and $(p^2 - 2q)^2 > 4(q^2 - c^2)$; none
    otherwise, e.g. $|c| < |q|$ with $p^2 > 2q$ (then `exists` is False and the rest NaN).
    Returns the smallest positive $\tau$ over both roots, with `direction`
    $\operatorname{Re}\, d\lambda/d\tau
    = \operatorname{Re}[c\lambda e^{-\lambda\tau}/(2\lambda + p - c\tau e^{-\lambda\tau})]$.
    """
    p, q, c = jnp.asarray(p), jnp.asarray(q), jnp.asarray(c)
    B, C = p**2 - 2 * q, q**2 - c**2
    disc = B**2 - 4 * C
    sq = jnp.sqrt(jnp.where(disc >= 0, disc, 0.0))
    u = jnp.stack([(-B + sq) / 2, (-B - sq) / 2])
    ok = (disc >= 0) & (u > 0) & (c != 0)
    omega = jnp.sqrt(jnp.where(ok, u, 1.0))
    sc = jnp.sign(c)
    tau = jnp.where(ok, _tau_from_angle(sc * p * omega, sc * (omega**2 - q), omega), jnp.inf)
    i = jnp.argmin(tau, axis=0)
    tau, omega = jnp.take_along_axis(tau, i[None], 0)[0], jnp.take_along_axis(omega, i[None], 0)[0]
    exists = jnp.isfinite(tau)
    tau, omega = jnp.where(exists, tau, jnp.nan), jnp.where(exists, omega, jnp.nan)
    lam = 1j * omega
    e = jnp.exp(-lam * tau)
    direction = jnp.real(c * lam * e / (2 * lam + p - c * tau * e))
    return HopfPoint(tau, omega, direction, exists)


def quadratic_coefficients(A0, A1):
    r"""$(p, q, c)$ of $\Delta = \lambda^2 + p\lambda + q + c e^{-\lambda\tau}$ for 2x2 $A_0$, $A_1$.

    $\det(\lambda I - A_0 - zA_1) = \lambda^2 - \operatorname{tr}A_0\,\lambda + \det A_0
    - z[(\lambda - \operatorname{tr}A_0)\operatorname{tr}A_1 + \operatorname{tr}(A_0A_1)]
    + z^2\det A_1$, so the form holds when $\operatorname{tr}A_1 = \det A_1 = 0$ (rank one,
    nilpotent, e.g. a delayed cross term only): $p = -\operatorname{tr}A_0$,
    $q = \det A_0$, $c = -\operatorname{tr}(A_0A_1)$. Raises if $A_1$ is not of that form
    (concrete inputs only).
    """
    A0, A1 = jnp.asarray(A0), jnp.asarray(A1)
    if A0.shape[-2:] != (2, 2):
        raise ValueError(f"quadratic_coefficients needs 2x2 Jacobians, got {A0.shape}")
    tr1, det1 = jnp.trace(A1, axis1=-2, axis2=-1), _det(A1)
    if is_concrete(tr1):
        scale = float(np.max(np.abs(np.asarray(A1)))) + 1e-300
        tr1, det1 = np.abs(np.asarray(tr1)), np.abs(np.asarray(det1))
        if np.any(tr1 > 1e-12 * scale) or np.any(det1 > 1e-12 * scale**2):
            raise ValueError("A1 must be rank one with zero trace for Delta = lambda^2 + p lambda + q "
                             "+ c exp(-lambda tau); use critical_delay for the general case")
    p = -jnp.trace(A0, axis1=-2, axis2=-1)
    q = _det(A0)
    c = -jnp.trace(A0 @ A1, axis1=-2, axis2=-1)
    return p, q, c


def hopf_closed_form(A0, A1):
    """The first Hopf crossing from the closed forms.

    [`hopf_scalar`][tumorjax.dde.hopf_scalar] for 1x1 Jacobians,
    [`hopf_quadratic`][tumorjax.dde.hopf_quadratic] for 2x2 ones with a rank-one, trace-free `A1`.
    """
    n = jnp.shape(A0)[-1]
    if n == 1:
        return hopf_scalar(-A0[..., 0, 0], -A1[..., 0, 0])
    if n == 2:
        return hopf_quadratic(*quadratic_coefficients(A0, A1))
    raise ValueError(f"closed forms exist for 1x1 and 2x2 Jacobians, got {n}x{n}: use critical_delay")


# -- general root finding -------------------------------------------------------------------


def _scale(A0, A1):
    """An upper bound on |lambda| for roots with Re(lambda) >= 0: ||A0||_inf + ||A1||_inf."""
    norm = lambda A: jnp.max(jnp.sum(jnp.abs(A), axis=-1))  # noqa: E731
    return jnp.maximum(norm(A0) + norm(A1), jnp.finfo(jnp.asarray(A0).dtype).tiny)


def default_starts(A0, A1, n_re: int = 24, n_im: int = 24, box=None):
    r"""A grid of Newton starts in the upper half-plane.

    `box = (re_min, re_max, im_max)`; default $(-2\rho, \rho, 2\rho)$ with
    $\rho = \|A_0\|_\infty + \|A_1\|_\infty$, which holds every root with
    $\operatorname{Re}\lambda \ge 0$ (they satisfy $|\lambda| \le \rho$).
    """
    rho = _scale(A0, A1)
    re_min, re_max, im_max = (-2 * rho, rho, 2 * rho) if box is None else box
    re = jnp.linspace(re_min, re_max, n_re)
    im = jnp.linspace(0.0, im_max, n_im)
    return (re[:, None] + 1j * im[None, :]).ravel()


def _newton_roots(A0, A1, tau, starts, n_iter, max_step):
    r"""Complex Newton on $\Delta$ from every start, each step capped at `max_step`.

    Returns the iterates and whether each converged (finite, last step below
    $10^{-10}(\rho + |\lambda|)$).
    """
    f = lambda z: characteristic_function(A0, A1, z, tau)  # noqa: E731

    def newton_step(z):
        val, der = jax.jvp(f, (z,), (jnp.ones_like(z),))
        s = -val / der
        size = jnp.abs(s)
        s = jnp.where(size > max_step, s * max_step / size, s)
        return jnp.where(jnp.isfinite(s), s, 0.0), jnp.isfinite(s)

    def body(_, z):
        s, _ = jax.vmap(newton_step)(z)
        return z + s

    z = jax.lax.fori_loop(0, n_iter, body, starts)
    s, finite = jax.vmap(newton_step)(z)
    ok = finite & jnp.isfinite(z) & (jnp.abs(s) <= 1e-10 * (max_step + jnp.abs(z)))
    return z + s, ok


def _distinct_rightmost(z, ok, n_roots, tol, scale):
    """The `n_roots` distinct converged values of largest real part, NaN-padded (fixed shape)."""
    close = jnp.abs(z[:, None] - z[None, :]) <= tol * (scale + jnp.abs(z[:, None]))
    earlier = jnp.tril(jnp.ones(close.shape, bool), k=-1)
    dup = jnp.any(close & earlier & ok[None, :], axis=1)
    keep = ok & ~dup
    key = jnp.where(keep, jnp.real(z), -jnp.inf)
    order = jnp.lexsort((-jnp.imag(z), -key))[:n_roots]
    return jnp.where(keep[order], z[order], jnp.nan + 0j)


@functools.partial(jax.jit, static_argnames=("n_roots", "n_iter"))
def characteristic_roots(A0, A1, taus, *, n_roots: int = 6, starts=None, n_iter: int = 60, tol: float = 1e-7):
    r"""The `n_roots` rightmost roots of $\Delta(\lambda; \tau)$ for every delay in `taus`.

    Newton's method on the holomorphic $\Delta$ (derivative by forward-mode autodiff) from
    every start (default [`default_starts`][tumorjax.dde.default_starts], upper half-plane),
    vmapped over starts and delays; the converged roots and their conjugates are
    de-duplicated (distance below `tol` times $\rho + |\lambda|$) and sorted by decreasing
    real part (then decreasing imaginary part). Returns a complex array `taus.shape + (n_roots,)`, padded
    with NaN where fewer roots were found. $\tau = 0$ gives the eigenvalues of $A_0 + A_1$.
    Differentiable in `A0`, `A1` and `taus` (the search runs on stopped gradients; a last
    Newton step gives the implicit-function derivative $d\lambda = -d\Delta/\Delta'(\lambda)$).

    Newton finds the roots its starts lead to: the start grid must be finer than the root
    spacing near the imaginary axis, about $2\pi/\tau$ in $\operatorname{Im}\lambda$.
    """
    A0, A1 = jnp.asarray(A0), jnp.asarray(A1)
    taus = jnp.asarray(taus, A0.dtype)
    B0, B1 = jax.lax.stop_gradient(A0), jax.lax.stop_gradient(A1)
    starts = default_starts(B0, B1) if starts is None else _complex(jnp.asarray(starts))
    rho = _scale(B0, B1)

    def one(tau):
        z, ok = _newton_roots(B0, B1, jax.lax.stop_gradient(tau), starts, n_iter, rho)
        z = jnp.concatenate([z, jnp.conj(z)])
        ok = jnp.concatenate([ok, ok])
        z = _distinct_rightmost(z, ok, n_roots, tol, rho)
        # one Newton step with the live A0, A1, tau: the value is unchanged (a root), the
        # derivative is the implicit-function one, d lambda = -d Delta / Delta'(lambda)
        val, der = jax.vmap(lambda w: jax.jvp(lambda x: characteristic_function(A0, A1, x, tau), (w,),
                                              (jnp.ones_like(w),)))(jnp.where(jnp.isfinite(z), z, 0.0))
        return jnp.where(jnp.isfinite(z), z - val / der, z)

    flat = jax.vmap(one)(taus.reshape(-1))
    return flat.reshape(taus.shape + (n_roots,))


@functools.partial(jax.jit, static_argnames=("n_omega", "n_theta", "n_iter"))
def critical_delay(A0, A1, *, n_omega: int = 24, n_theta: int = 24, n_iter: int = 40, tol: float = 1e-10):
    r"""The smallest positive delay at which a characteristic root is $\pm i\omega$, $\omega > 0$.

    Any model with one delay. Writing $\theta = \omega\tau \bmod 2\pi$, the unknowns
    $(\omega, \theta)$ of $\Delta(i\omega) = \det(i\omega I - A_0 - A_1 e^{-i\theta}) = 0$
    lie in the compact box $0 < \omega \le \rho = \|A_0\|_\infty + \|A_1\|_\infty$,
    $0 \le \theta < 2\pi$; Newton's method on the real pair $(\operatorname{Re}\Delta,
    \operatorname{Im}\Delta)$ (Jacobian by autodiff, steps capped at $\rho/2$ and 0.5 rad)
    from an `n_omega` x `n_theta` grid finds the crossing frequencies (the grid must resolve
    them), and $\tau = \theta/\omega$ the first delay of each. A start counts as converged
    when the scaled residual is below `tol` and the last step below $10^{-9}$. Returns a
    [`HopfPoint`][tumorjax.dde.HopfPoint] (NaN, `exists` False where no start converges to one),
    differentiable in `A0`, `A1` by the implicit-function theorem.

    If the equilibrium is stable at $\tau = 0$ this is the loss of stability: the roots
    move continuously with $\tau$ (entering from $\operatorname{Re}\lambda = -\infty$), so
    none reaches the right half-plane before this crossing, and `direction` > 0.
    """
    A0, A1 = jnp.asarray(A0), jnp.asarray(A1)
    B0, B1 = jax.lax.stop_gradient(A0), jax.lax.stop_gradient(A1)
    rho = _scale(B0, B1)
    n = A0.shape[-1]
    dt = A0.dtype

    def F(x, A0=B0, A1=B1):
        w, th = x[0], x[1]
        M = 1j * w * jnp.eye(n, dtype=jnp.result_type(dt, jnp.complex64)) - A0 - A1 * jnp.exp(-1j * th)
        d = _det(M) / rho**n
        return jnp.stack([jnp.real(d), jnp.imag(d)])

    def step(x):
        s = jnp.linalg.solve(jax.jacfwd(F)(x), -F(x))
        s = s * jnp.minimum(1.0, 0.5 / jnp.maximum(jnp.abs(s[0]) / rho, jnp.abs(s[1])))
        return jnp.where(jnp.all(jnp.isfinite(s)), s, jnp.inf)

    def newton(x):
        def body(_, x):
            s = step(x)
            return x + jnp.where(jnp.isfinite(s), s, 0.0)

        x = jax.lax.fori_loop(0, n_iter, body, x)
        s = step(x)
        # converged: small residual and a quadratically small last step (a singular limit such
        # as omega -> 0, theta -> pi when |c| = |q|, i.e. tau -> infinity, converges only linearly)
        return x + s, jnp.max(jnp.abs(F(x + s))), jnp.abs(s[0]) / rho + jnp.abs(s[1])

    w0 = jnp.linspace(rho / n_omega, rho, n_omega, dtype=dt)
    th0 = jnp.linspace(0.0, 2 * jnp.pi, n_theta, endpoint=False, dtype=dt)
    x0 = jnp.stack(jnp.broadcast_arrays(w0[:, None], th0[None, :]), -1).reshape(-1, 2)
    x, res, last = jax.vmap(newton)(x0)
    w, th = jnp.abs(x[:, 0]), jnp.where(x[:, 0] < 0, -x[:, 1], x[:, 1])  # Delta(-i w) = conj Delta(i w)
    ok = (res < tol) & (last < 1e-9) & (w > 1e-6 * rho) & jnp.all(jnp.isfinite(x), axis=1)
    tau = jnp.where(ok, jnp.mod(th, 2 * jnp.pi) / jnp.where(ok, w, 1.0), jnp.inf)
    i = jnp.argmin(tau)
    exists = jnp.isfinite(tau[i])
    # one Newton step with the live A0, A1 from the converged (omega, theta): the same value,
    # and the implicit-function derivative d(omega, theta) = -J^{-1} dF
    x = jnp.where(exists, jnp.stack([w[i], jnp.mod(th[i], 2 * jnp.pi)]), jnp.array([rho, 1.0], dt))
    x = x - jnp.linalg.solve(jax.jacfwd(F)(x), F(x, A0, A1))
    tau_c, omega = jnp.where(exists, x[1] / x[0], jnp.nan), jnp.where(exists, x[0], jnp.nan)
    direction = jnp.real(_d_lambda_d_tau(A0, A1, 1j * omega, tau_c))
    return HopfPoint(tau_c, omega, direction, exists)
