"""Parameter pytrees: fields carry the paper's names, units, source and admissible range."""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def _as_array(x):
    """JAX arrays and tracers pass through; numbers become float64 NumPy arrays.

    Keeping host values in float64 means a parameter set built before `enable_x64()`
    loses no precision; `jit` casts them to the working precision when it traces.
    """
    if isinstance(x, jax.Array):
        return x
    x = np.asarray(x)
    return x.astype(np.float64) if np.issubdtype(x.dtype, np.number) else x


def param(
    default: float,
    units: str,
    doc: str,
    source: str = "",
    *,
    lower: float | None = 0.0,
    strict: bool = False,
):
    """Declare a model parameter.

    **Arguments:**

    - `default`: the value used when none is given.
    - `units`: units, e.g. `"1/day"` or `"cells"`.
    - `doc`: one line saying what the parameter is.
    - `source`: where it comes from (paper, equation, table).
    - `lower`: smallest admissible value (`None` for no bound). Rates and sizes default to `0`.
    - `strict`: whether `lower` itself is excluded.

    The value is stored as an array leaf, so a new value never recompiles a jitted solve.
    """
    meta = dict(units=units, doc=doc, source=source, lower=lower, strict=strict)
    return eqx.field(default=default, converter=_as_array, metadata=meta)


def is_concrete(*xs) -> bool:
    """Whether none of `xs` is a tracer, i.e. their values can be checked before tracing."""
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


class Parameters(eqx.Module):
    """Base class of every parameter set.

    Subclasses declare their fields with [`tumorjax.param`][]. Values are checked against
    their admissible range when they are concrete (at construction, before any tracing),
    so a negative rate fails with a `ValueError` that names it. Traced values (inside
    `jit`, `vmap` or `grad`) are not checked.
    """

    def __check_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not is_concrete(value):
                continue
            v = np.asarray(value)
            if not np.issubdtype(v.dtype, np.number):
                raise ValueError(f"{type(self).__name__}.{f.name} must be numeric, got {value!r}")
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{type(self).__name__}.{f.name} must be finite, got {value}")
            lower = f.metadata.get("lower")
            if lower is None:
                continue
            bad = v <= lower if f.metadata.get("strict") else v < lower
            if np.any(bad):
                op = ">" if f.metadata.get("strict") else ">="
                units = f.metadata.get("units", "")
                raise ValueError(
                    f"{type(self).__name__}.{f.name} ({f.metadata.get('doc', '')}) must be "
                    f"{op} {lower} [{units}], got {value if v.ndim == 0 else v[bad][:5]}"
                )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The parameter names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def info(cls) -> dict[str, dict[str, Any]]:
        """Units, description, source and bounds of every parameter."""
        return {
            f.name: {k: v for k, v in f.metadata.items() if k != "converter"}
            for f in dataclasses.fields(cls)
        }

    def replace(self, **values) -> "Parameters":
        """A copy with some values changed; unknown names raise a `ValueError`."""
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for {type(self).__name__}; "
                f"known: {', '.join(self.names())}"
            )
        return dataclasses.replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        """Values as Python floats (or nested lists for batched parameters)."""
        return {n: np.asarray(getattr(self, n)).tolist() for n in self.names()}

    def in_axes(self) -> "Parameters":
        """`vmap` axes: 0 for batched (non-scalar) values, `None` for shared scalars.

        `jax.vmap(f, in_axes=(p.in_axes(),))(p)` maps over a parameter sweep built with
        e.g. `p.replace(r=jnp.linspace(0.1, 0.3, 1000))`.
        """
        return jax.tree_util.tree_map(lambda x: 0 if jnp.ndim(x) > 0 else None, self)

    def astype(self, dtype) -> "Parameters":
        """The same parameters with every floating leaf cast to `dtype`."""
        return jax.tree_util.tree_map(
            lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, self
        )

    def describe(self) -> str:
        """A table of names, values, units and descriptions."""
        rows = []
        for name, meta in self.info().items():
            value = np.asarray(getattr(self, name))
            shown = f"{float(value):.6g}" if value.ndim == 0 else f"array{value.shape}"
            rows.append(f"{name:>10} = {shown:<12} [{meta['units']}]  {meta['doc']}")
        return "\n".join(rows)
