"""The XLA:CPU small-loop option that `import tumorjax` sets (tumorjax/core/_xla_cpu.py).

Each case runs in a fresh interpreter, since XLA reads its flags once per process.
"""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os
{pre}
import tumorjax as tj
import jax, jax.numpy as jnp

def f(x):  # 2000 float32 = 8 kB per iteration: above XLA's 1 kB default, below tumorjax's 1 MB
    return jax.lax.scan(lambda c, _: (c * 1.0001 + 1e-3 * jnp.sin(c), None), x, None, length=50)[0]

text = jax.jit(f).lower(jnp.ones(2000, jnp.float32)).compile().as_text()
print(json.dumps({{"active": tj.XLA_CPU_SMALL_LOOPS, "flags": os.environ.get("XLA_FLAGS", ""),
                  "one_kernel": "xla_cpu_small_call" in text}}))
"""


def probe(pre="", **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "TUMORJAX_XLA_CPU_LOOPS")}
    environ.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE.format(pre=pre)], env=environ, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_compiles_small_loops_into_one_kernel():
    r = probe()
    assert r["active"] and r["one_kernel"]
    assert r["flags"] == "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1000000"


def test_without_the_option_the_same_loop_runs_op_by_op():
    r = probe(TUMORJAX_XLA_CPU_LOOPS="0")
    assert not r["active"] and not r["one_kernel"] and r["flags"] == ""


def test_user_flags_are_kept_and_extra_options_merged():
    r = probe(XLA_FLAGS="--xla_cpu_max_isa=AVX --xla_backend_extra_options=xla_cpu_disable_loop_unrolling")
    assert r["active"] and r["one_kernel"]
    assert r["flags"] == ("--xla_cpu_max_isa=AVX --xla_backend_extra_options=xla_cpu_disable_loop_unrolling,"
                          "xla_cpu_small_while_loop_byte_threshold=1000000")


@pytest.mark.parametrize("threshold, one_kernel", [("1000000000", True), ("0", False)])
def test_a_user_threshold_wins(threshold, one_kernel):
    flags = f"--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold={threshold}"
    r = probe(XLA_FLAGS=flags)
    assert r["active"] and r["flags"] == flags and r["one_kernel"] is one_kernel


def test_too_late_once_jax_has_started():
    r = probe(pre="import jax.numpy as _jnp; _jnp.ones(1).block_until_ready()")
    assert not r["active"] and not r["one_kernel"] and r["flags"] == ""
