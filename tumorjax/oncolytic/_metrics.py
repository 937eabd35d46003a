r"""Read-outs of the seed-004 continuum model: totals, Poissonian TCP/ICP, fronts and front speeds.

- totals $2\pi\int_0^L v\,r\,dr$ (Sec. 4): `rule="midpoint"` is the exact mass of the cell averages,
  $2\pi\sum_j v_j r_j\Delta r$ (what the finite-volume scheme conserves); `rule="trapz"` is
  `2*pi*trapz(r, v.*r)` over the cell centres, as the authors' plotting scripts compute it;
- TCP (4.3) $=\exp(-U)$ and ICP (4.5) $=\exp(-I)$ with $U, I$ the totals;
- the front of a density: the outermost radius where it is $\ge 1/\delta^2$ (Appendix C, $\delta = 0.1$ mm,
  i.e. one cell per lattice site), linearly interpolated between cell centres;
- front speeds by a least-squares line through front positions, to compare with $2\sqrt{Dp}$ and
  $2\sqrt{D(\beta - q)}$ (Appendix B).
"""

import jax.numpy as jnp
import numpy as np


def radial_total(v, r, dx, rule: str = "midpoint", planar: bool = False):
    r"""$2\pi\int v\,r\,dr$ of cell values `v` (..., N) at centres `r` (N,); planar grids give
    $\int v\,dx$."""
    weight = jnp.ones_like(r) if planar else 2 * jnp.pi * r
    if rule == "midpoint":
        return jnp.sum(v * weight, axis=-1) * dx
    if rule == "trapz":
        f = v * r if not planar else v
        total = jnp.sum(jnp.diff(r) * (f[..., :-1] + f[..., 1:]), axis=-1) / 2
        return total if planar else total * 2 * jnp.pi
    raise ValueError(f"rule must be 'midpoint' or 'trapz', got {rule!r}")


def tcp(U_total):
    """Poissonian tumour control probability (4.3): $\\exp(-U)$, U the total uninfected cells."""
    return jnp.exp(-U_total)


def icp(I_total):
    """Poissonian infection control probability (4.5): $\\exp(-I)$, I the total infected cells."""
    return jnp.exp(-I_total)


def front_position(v, r, threshold):
    r"""Outermost radius where `v` (..., N) is $\ge$ `threshold`, interpolated linearly; 0 if nowhere.

    With $j$ the last cell where $v_j \ge$ threshold, the front is
    $r_j + (v_j - \theta)/(v_j - v_{j+1})\,\Delta r$ (the crossing of the piecewise-linear profile).
    """
    n = v.shape[-1]
    above = v >= threshold
    idx = jnp.arange(n)
    last = jnp.max(jnp.where(above, idx, -1), axis=-1)
    j = jnp.clip(last, 0, n - 2)
    vj = jnp.take_along_axis(v, j[..., None], axis=-1)[..., 0]
    vn = jnp.take_along_axis(v, (j + 1)[..., None], axis=-1)[..., 0]
    frac = jnp.clip((vj - threshold) / jnp.where(vj > vn, vj - vn, 1.0), 0.0, 1.0)
    pos = r[j] + frac * (r[j + 1] - r[j])
    pos = jnp.where(last == n - 1, r[-1], pos)
    return jnp.where(last < 0, 0.0, pos)


def front_speed(t, position, t_min=None, t_max=None, *, rate=None, D=None):
    r"""Least-squares slope of front `position` [mm] against `t` [h] over [t_min, t_max] (host side).

    A pulled front started from compact support relaxes to its speed $c = 2\sqrt{D\,\mathrm{rate}}$
    algebraically slowly (Ebert & van Saarloos 2000, Physica D 146:1, Eq. 1.4):
    $x(t) = ct - \frac{3}{2\lambda}\ln t - \frac{3\sqrt\pi}{\lambda^2\sqrt D}\,t^{-1/2} + \mathrm{const}$,
    $\lambda = \sqrt{\mathrm{rate}/D}$. Given `rate` and `D`, both universal terms are added back before
    the fit, which removes the $O(1/(\mathrm{rate}\,t))$ bias of the plain slope.
    """
    t = np.asarray(t, dtype=float)
    x = np.asarray(position, dtype=float)
    if (rate is None) != (D is None):
        raise ValueError("front_speed: give both rate and D for the relaxation correction, or neither")
    if rate is not None:
        lam = np.sqrt(float(rate) / float(D))
        tt = np.maximum(t, 1e-300)
        x = x + 1.5 / lam * np.log(tt) + 3 * np.sqrt(np.pi) / (lam ** 2 * np.sqrt(float(D))) / np.sqrt(tt)
    keep = np.ones_like(t, dtype=bool)
    if t_min is not None:
        keep &= t >= t_min
    if t_max is not None:
        keep &= t <= t_max
    if keep.sum() < 2:
        raise ValueError("front_speed needs at least two times in [t_min, t_max]")
    return float(np.polyfit(t[keep], x[keep], 1)[0])


def fisher_speed(D, rate):
    """The minimal (pulled) front speed $2\\sqrt{D\\,\\mathrm{rate}}$ of Fisher-KPP (Appendix B)."""
    return 2 * np.sqrt(D * rate)
