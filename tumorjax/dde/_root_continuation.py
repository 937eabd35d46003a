r"""Continuation of characteristic roots in the delay, and the delay Hopf point they cross at.

Each root $\lambda(\tau)$ of $\Delta(\lambda; \tau) = \det(\lambda I - A_0 - A_1e^{-\lambda\tau})$
moves smoothly with $\tau$ while it is simple, with
$d\lambda/d\tau = -\partial_\tau\Delta/\partial_\lambda\Delta$. [`continue_roots`][tumorjax.dde.continue_roots]
follows a set of roots (by default the rightmost ones at the first delay, from
[`tumorjax.dde.characteristic_roots`][]) along a grid of delays: an Euler predictor with this
derivative and a complex Newton corrector on $\Delta$ at the next delay, in one `lax.scan`,
vmapped over the roots. [`hopf_from_roots`][tumorjax.dde.hopf_from_roots] takes the first
grid interval where a path's real part turns positive and solves
$\operatorname{Re}\lambda(\tau) = 0$ by Newton's method in $\tau$ (with the corrector for
$\lambda$ at each iterate), so the delay Hopf point is exact to rounding and agrees with the
closed forms and [`tumorjax.dde.critical_delay`][] (which finds it without following roots).

Roots enter from $\operatorname{Re}\lambda = -\infty$ as $\tau$ grows, so a path set started
at a delay $\tau_0 > 0$ holds the roots that are rightmost there; include enough of them
(`n_roots`) for the one that crosses. Pure JAX (jit/vmap/grad-safe).
"""

import functools

import jax
import jax.numpy as jnp

from ._characteristic import HopfPoint, _complex, _d_lambda_d_tau, characteristic_function, characteristic_roots


def _newton_root(A0, A1, lam, tau, n_iter):
    """Complex Newton on Delta(., tau) from `lam`; NaN if the last step is not below 1e-9 (1 + |lambda|)."""
    f = lambda z: characteristic_function(A0, A1, z, tau)  # noqa: E731

    def step(z):
        val, der = jax.jvp(f, (z,), (jnp.ones_like(z),))
        return -val / der

    def body(_, z):
        s = step(z)
        return z + jnp.where(jnp.isfinite(s), s, 0.0)

    z = jax.lax.fori_loop(0, n_iter, body, lam)
    s = step(z)
    return jnp.where(jnp.abs(s) <= 1e-9 * (1.0 + jnp.abs(z)), z + s, jnp.nan + 0j)


@functools.partial(jax.jit, static_argnames=("n_roots", "n_newton", "n_sub"))
def continue_roots(A0, A1, taus, *, n_roots: int = 4, roots0=None, n_newton: int = 8, n_sub: int = 4):
    r"""Follow characteristic roots along the delays `taus` `(m,)` (increasing or decreasing).

    **Arguments:**

    - `A0`, `A1`: the Jacobians `(n, n)` with respect to $y(t)$ and $y(t-\tau)$
      ([`tumorjax.dde.delay_jacobians`][]).
    - `taus`: the delay grid; consecutive values should be close enough for the Euler
      predictor (roots near the imaginary axis move by $|d\lambda/d\tau|\,\Delta\tau$).
    - `roots0`: starting roots at `taus[0]` (complex, `(k,)`); default the `n_roots`
      rightmost roots there from [`characteristic_roots`][tumorjax.dde.characteristic_roots].
    - `n_newton`, `n_sub`: corrector iterations per predictor step, and predictor-corrector
      steps per grid interval.

    Returns the complex roots, shape `(m, k)`: column `j` is one root followed along `taus`.
    A path becomes NaN where the corrector fails, e.g. where two real roots meet and turn
    into a complex pair (a non-simple root): start the grid past such points.
    """
    A0, A1 = jnp.asarray(A0), jnp.asarray(A1)
    taus = jnp.asarray(taus, A0.dtype)
    if roots0 is None:
        roots0 = characteristic_roots(A0, A1, taus[:1], n_roots=n_roots)[0]
    lam0 = _complex(jnp.asarray(roots0))

    def sub(k, c):
        lam, t0, h = c
        t = t0 + k * h
        slope = jax.vmap(lambda z: _d_lambda_d_tau(A0, A1, z, t))(lam)
        return jax.vmap(lambda z: _newton_root(A0, A1, z, t + h, n_newton))(lam + slope * h), t0, h

    def step(lam, taus_pair):
        t_old, t_new = taus_pair
        lam_new, _, _ = jax.lax.fori_loop(0, n_sub, sub, (lam, t_old, (t_new - t_old) / n_sub))
        return lam_new, lam_new

    _, rest = jax.lax.scan(step, lam0, (taus[:-1], taus[1:]))
    return jnp.concatenate([lam0[None], rest])


@functools.partial(jax.jit, static_argnames=("n_iter",))
def hopf_from_roots(A0, A1, taus, roots, *, n_iter: int = 30) -> HopfPoint:
    r"""The first delay in `taus` where a followed root crosses into $\operatorname{Re}\lambda > 0$.

    `roots` `(m, k)` from [`continue_roots`][tumorjax.dde.continue_roots] on the increasing
    grid `taus` `(m,)`. In the first interval where some path's real part changes from
    negative to non-negative, Newton's method on $\operatorname{Re}\lambda(\tau) = 0$
    ($\tau \leftarrow \tau - \operatorname{Re}\lambda/\operatorname{Re}\,d\lambda/d\tau$, the
    root corrected at each $\tau$) locates the crossing. Returns a
    [`HopfPoint`][tumorjax.dde.HopfPoint] (NaN and `exists` False if nothing crosses).
    """
    A0, A1 = jnp.asarray(A0), jnp.asarray(A1)
    taus = jnp.asarray(taus, A0.dtype)
    re = jnp.real(roots)
    up = (re[:-1] < 0) & (re[1:] >= 0)  # (m-1, k)
    any_up = jnp.any(up, axis=1)
    exists = jnp.any(any_up)
    i = jnp.argmax(any_up)
    j = jnp.argmax(jnp.where(up[i], re[i + 1], -jnp.inf))
    w = re[i, j] / (re[i, j] - re[i + 1, j])
    tau = taus[i] + w * (taus[i + 1] - taus[i])
    lam = roots[i, j] + w * (roots[i + 1, j] - roots[i, j])

    def body(_, c):
        tau, lam = c
        lam = _newton_root(A0, A1, lam, tau, 4)
        slope = _d_lambda_d_tau(A0, A1, lam, tau)
        tau_new = tau - jnp.real(lam) / jnp.real(slope)
        lam_new = lam + slope * (tau_new - tau)
        ok = jnp.isfinite(tau_new) & jnp.isfinite(lam_new)
        return jnp.where(ok, tau_new, tau), jnp.where(ok, lam_new, lam)

    tau, lam = jax.lax.fori_loop(0, n_iter, body, (tau, lam))
    lam = _newton_root(A0, A1, lam, tau, 4)
    direction = jnp.real(_d_lambda_d_tau(A0, A1, lam, tau))
    nan = jnp.asarray(jnp.nan, taus.dtype)
    return HopfPoint(jnp.where(exists, tau, nan), jnp.where(exists, jnp.abs(jnp.imag(lam)), nan),
                     jnp.where(exists, direction, nan), exists)
