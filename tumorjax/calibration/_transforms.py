"""Parameter transforms: fits run in an unconstrained space z, the model sees x = inverse(z)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class Transform(eqx.Module):
    """A monotone map between a parameter x (natural scale) and z (unconstrained)."""

    def forward(self, x):
        """z from x."""
        raise NotImplementedError

    def inverse(self, z):
        """x from z."""
        raise NotImplementedError

    def check(self, name: str, x) -> None:
        """A `ValueError` if the starting value `x` of `name` is outside the domain."""


class Identity(Transform):
    """x = z (parameters of any sign)."""

    def forward(self, x):
        return x

    def inverse(self, z):
        return z


class Log(Transform):
    """x = exp(z): positive parameters (rates, sizes, noise levels) on a log scale."""

    def forward(self, x):
        return jnp.log(x)

    def inverse(self, z):
        return jnp.exp(z)

    def check(self, name, x):
        if not float(x) > 0:
            raise ValueError(f"{name} has a log transform but its starting value is {float(x)!r}; it must be > 0")


class Logit(Transform):
    """x = lower + (upper - lower) sigmoid(z): a parameter bounded in (lower, upper)."""

    lower: jax.Array
    upper: jax.Array

    def __init__(self, lower, upper):
        lo, hi = float(lower), float(upper)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"Logit bounds must be finite, got lower={lo}, upper={hi}")
        if not lo < hi:
            raise ValueError(f"Logit bounds need lower < upper, got lower={lo} > upper={hi}" if lo > hi
                             else f"Logit bounds need lower < upper, got lower = upper = {lo}")
        self.lower, self.upper = np.float64(lo), np.float64(hi)

    def forward(self, x):
        u = (x - self.lower) / (self.upper - self.lower)
        return jnp.log(u) - jnp.log1p(-u)

    def inverse(self, z):
        return self.lower + (self.upper - self.lower) * jax.nn.sigmoid(z)

    def check(self, name, x):
        if not float(self.lower) < float(x) < float(self.upper):
            raise ValueError(f"{name}: starting value {float(x)!r} is outside its bounds "
                             f"({float(self.lower)!r}, {float(self.upper)!r})")


def as_transform(spec) -> Transform:
    """A `Transform` from `"log"`, `"identity"`/`None`, `("logit", lower, upper)` or a `Transform`."""
    if isinstance(spec, Transform):
        return spec
    if spec is None or spec in ("identity", "none"):
        return Identity()
    if spec == "log":
        return Log()
    if isinstance(spec, (tuple, list)) and len(spec) == 3 and spec[0] in ("logit", "bounded"):
        return Logit(spec[1], spec[2])
    raise ValueError(f"unknown transform {spec!r}; use 'log', 'identity', ('logit', lower, upper) or a Transform")
