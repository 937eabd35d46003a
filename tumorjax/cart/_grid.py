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
    """1 where dist <= radius; with width > 0 a tanh edge of that width (traced radius and width).

    The smooth form is a function of dist^2, 0.5 (1 - tanh((dist^2 - radius^2) / (2 max(radius, width) width))),
    which near dist = radius >= width is 0.5 (1 - tanh((dist - radius) / width)) but has no cusp where dist = 0
    (the ball's centre, the injection axis) and zero slope across the face x = 0: a function of dist
    itself would put a cone at the centre whose Laplacian grows like 1/dx, and grid studies would
    not converge there.
    """
    sharp = jnp.where(dist <= radius, 1.0, 0.0)
    w = jnp.where(width > 0, width, 1.0)  # a safe divisor, so gradients stay finite when width = 0
    smooth = 0.5 * (1.0 - jnp.tanh((dist * dist - radius * radius) / (2.0 * jnp.maximum(radius, w) * w)))
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
