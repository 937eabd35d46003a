"""The float32/float64 switch."""

import jax
import jax.numpy as jnp


def enable_x64(enabled: bool = True) -> None:
    """Turn float64 on (or off) for everything created afterwards.

    JAX computes in float32 unless this is set; call it first thing in a script.
    """
    jax.config.update("jax_enable_x64", enabled)


def default_float():
    """The floating dtype JAX creates now: float64 if x64 is enabled, else float32."""
    return jnp.asarray(0.0).dtype


def resolve_dtype(dtype) -> jnp.dtype:
    """Check a requested dtype is available; `None` means the current default."""
    if dtype is None:
        return default_float()
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype("float32"), jnp.dtype("float64")):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.dtype("float64") and not jax.config.jax_enable_x64:
        raise ValueError("float64 requested but JAX x64 is off: call tumorjax.enable_x64() first")
    return dtype
