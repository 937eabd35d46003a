"""The uniform vertex grid of the model: node coordinates, initial fields, clamped shifts."""

import jax.numpy as jnp
import numpy as np
from jax import lax

from ._params import CARTInitial, CARTNumerics


def spacing(num: CARTNumerics) -> tuple[float, float, float]:
    """(dx, dy, dz) = L/(n - 1): nodes x_i = i dx lie on both faces (Eqs. (49)-(52))."""
    return tuple(L / (n - 1) for n, L in zip(num.shape, num.lengths))


def node_coordinates(num: CARTNumerics):
    """x, y, z of every node as float64 NumPy arrays of shape (nx, ny, nz), x_i = i*dx as in the code."""
    axes = [np.arange(n) * h for n, h in zip(num.shape, spacing(num))]
    return np.meshgrid(*axes, indexing="ij")


def _indicator(dist, radius, width):
    """1 where dist <= radius; with width > 0 a smooth edge (traced radius and width).

    The smooth form falls from 1 at dist <= radius - width to 0 at dist >= radius + width (the inner end
    clipped at 0) by the septic smoothstep 1 - s^4 (35 - 84 s + 70 s^2 - 20 s^3), whose first three
    derivatives vanish at both ends and whose fourth stays bounded: the data are smooth enough for a
    second-order scheme at the centre and on the injection axis (dist = |x|), and, when radius + width
    stays inside the box, flat at the walls as the zero-flux condition needs. (A tanh edge in dist has a
    cone at the centre and a slope at the walls; a C-infinity bump has fourth derivatives thousands of
    times larger: both keep grid studies of the non-diffusing T_A, T_B from converging at order 2.)
    """
    sharp = jnp.where(dist <= radius, 1.0, 0.0)
    w = jnp.where(width > 0, width, 1.0)  # a safe divisor, so gradients stay finite when width = 0
    lo = jnp.maximum(radius - w, 0.0)
    s = jnp.clip((dist - lo) / (radius + w - lo), 0.0, 1.0)
    smooth = 1.0 - s**4 * (35.0 - 84.0 * s + 70.0 * s**2 - 20.0 * s**3)
    return jnp.where(width > 0, smooth, sharp)


def injection_region(init: CARTInitial, num: CARTNumerics):
    """Indicator of the CAR-T injection region: x <= cart_layer and |(y, z) - centre| <= cart_radius."""
    x, y, z = node_coordinates(num)
    cy, cz = 0.5 * num.Ly, 0.5 * num.Lz
    ryz = np.sqrt((y - cy) * (y - cy) + (z - cz) * (z - cz))
    w = jnp.asarray(init.edge_width)
    return _indicator(x, init.cart_layer, w) * _indicator(ryz, init.cart_radius, w)


def initial_fields(init: CARTInitial, num: CARTNumerics, dtype=None):
    """The initial state, shape (7, nx, ny, nz) in field order C, E, T_A, T_B, S, A, H (see [`CARTInitial`][])."""
    x, y, z = node_coordinates(num)
    cx, cy, cz = 0.5 * num.Lx, 0.5 * num.Ly, 0.5 * num.Lz
    dx, dy, dz = x - cx, y - cy, z - cz
    r = np.sqrt(dx * dx + dy * dy + dz * dz)
    ball = _indicator(r, init.tumor_radius, jnp.asarray(init.edge_width))
    T = init.tumor_value * ball
    TA = T * (1.0 - init.tb_fraction)
    TB = T * init.tb_fraction
    C = init.cart_value * injection_region(init, num)
    zero = jnp.zeros(num.shape)
    return jnp.stack([C, zero, TA, TB, zero, zero, zero]).astype(dtype or jnp.asarray(0.0).dtype)


def shift(u, axis: int, s: int):
    """u at index i + s (s = +1 or -1) along `axis`, the index clamped to the grid (ghost = boundary value)."""
    n = u.shape[axis]
    if s == 1:
        return jnp.concatenate([lax.slice_in_dim(u, 1, n, axis=axis), lax.slice_in_dim(u, n - 1, n, axis=axis)], axis)
    return jnp.concatenate([lax.slice_in_dim(u, 0, 1, axis=axis), lax.slice_in_dim(u, 0, n - 1, axis=axis)], axis)
