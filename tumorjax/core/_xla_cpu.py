r"""Compile small time loops into single XLA:CPU kernels (applied when `tumorjax` is imported).

Since JAX 0.7, XLA:CPU runs each operation of a `while` loop body (`lax.scan`, `fori_loop`,
diffrax's step loop) as a separate runtime task, at about 0.3-1 us each. For the small states of
the ODE, DDE and 1D PDE solves that dispatch costs more than the arithmetic, and derivatives,
which have more operations per step, pay it most. XLA compiles a whole loop into one kernel when
the bytes one iteration touches are below its `xla_cpu_small_while_loop_byte_threshold` (1 kB
by default). `tumorjax` raises that to 1 MB, so loops over ODE and DDE states and 1D grids of
up to a few thousand cells run as one kernel, while loops over 3D grids keep per-operation,
multi-threaded execution.

XLA reads the option once, when JAX starts its first backend, so it takes effect only if
`tumorjax` is imported before any JAX computation runs. It is skipped when the environment
already sets the option in `XLA_FLAGS`, or when `TUMORJAX_XLA_CPU_LOOPS=0`. Measured effect
(benchmarks/RESULTS.md, gradient-cost section): forward solves of the ODE and DDE models and of
the explicit radial PDE 2-3.5x faster, their forward-mode derivatives 3-25x faster; results
agree to round-off.
"""

import os

OPTION = "xla_cpu_small_while_loop_byte_threshold"
SMALL_LOOP_BYTES = 1_000_000


def configure_small_loops(threshold: int = SMALL_LOOP_BYTES) -> bool:
    """Add `xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=threshold` to `XLA_FLAGS`.

    Returns whether the option is set for this process: `True` if it was added now or the user
    had set it (their value is kept); `False` if `TUMORJAX_XLA_CPU_LOOPS=0` or JAX's backends
    already started (too late).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if OPTION in flags:
        return True
    if os.environ.get("TUMORJAX_XLA_CPU_LOOPS", "1") == "0" or _backends_started():
        return False
    entry = f"{OPTION}={int(threshold)}"
    parts = flags.split()
    for i, part in enumerate(parts):
        if part.startswith("--xla_backend_extra_options="):
            parts[i] = f"{part},{entry}"
            break
    else:
        parts.append(f"--xla_backend_extra_options={entry}")
    os.environ["XLA_FLAGS"] = " ".join(parts)
    return True


def _backends_started() -> bool:
    """Whether JAX has started a backend (JAX's private query; if it moves, assume it has not)."""
    try:
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:
        return False
    return backends_are_initialized()
