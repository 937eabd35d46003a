"""Timing and machine-description helpers shared by the benchmark scripts."""

import json
import os
import platform
import sys
import time
from pathlib import Path

import diffrax
import jax
import numpy as np
import scipy


def timed(fn, *args):
    """(seconds, result) of one call, waiting for JAX's asynchronous dispatch."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - t, out


def best_of(fn, args, repeats):
    """(best seconds, all seconds) over `repeats` calls."""
    times = [timed(fn, *args)[0] for _ in range(repeats)]
    return min(times), times


def machine_info():
    """What ran the benchmark, for its JSON record."""
    dev = jax.devices()[0]
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "jaxlib": getattr(jax.lib, "__version__", None) or __import__("jaxlib").__version__,
        "diffrax": diffrax.__version__,
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "device": str(dev),
        "device_kind": getattr(dev, "device_kind", None),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),  # tumorjax adds its small-loop option (core/_xla_cpu.py)
    }


def record(name, **fields):
    """A benchmark's JSON record: its name, the command line that ran it, `fields`, the machine."""
    return {"benchmark": name, "command": " ".join([Path(sys.executable).name, *sys.argv]), **fields,
            "machine": machine_info()}


def write_json(path, obj):
    """Write `obj` as indented JSON (NumPy and JAX scalars as floats), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    print(f"wrote {path}")
