"""Ensembles: designs, vmapped/chunked/sharded runs over simulate (float64).

Sharding needs several devices, which XLA fixes when JAX starts, so that test runs a
subprocess with XLA_FLAGS=--xla_force_host_platform_device_count=4.
"""

import os
import subprocess
import sys
import textwrap

import equinox as eqx
import numpy as np
import pytest

import tumorjax as tj
from conftest import ROOT
from tumorjax.ensemble import ensemble_map, grid, latin_hypercube, member_inputs, replicate, simulate_ensemble
from tumorjax.ensemble._run import _map_impl


def test_grid_is_the_cartesian_product():
    d = grid(r=[0.1, 0.2, 0.3], K=[1e3, 1e4])
    assert d["r"].tolist() == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3] and d["K"].tolist() == [1e3, 1e4] * 3
    with pytest.raises(ValueError, match="at least one axis"):
        grid()
    with pytest.raises(ValueError, match="non-empty 1D"):
        grid(r=[])


def test_latin_hypercube_one_point_per_stratum():
    n = 50
    d = latin_hypercube({"r": (0.1, 0.5), "K": (1e2, 1e6, "log")}, n, key=3)
    strata_r = np.floor((d["r"] - 0.1) / 0.4 * n).astype(int)
    strata_k = np.floor((np.log(d["K"]) - np.log(1e2)) / (np.log(1e6) - np.log(1e2)) * n).astype(int)
    assert sorted(strata_r) == list(range(n)) and sorted(strata_k) == list(range(n))
    assert np.array_equal(d["r"], latin_hypercube({"r": (0.1, 0.5), "K": (1e2, 1e6, "log")}, n, key=3)["r"])
    with pytest.raises(ValueError, match="lower must be < upper"):
        latin_hypercube({"r": (0.5, 0.1)}, 4)
    with pytest.raises(ValueError, match="log axis needs lower > 0"):
        latin_hypercube({"r": (0.0, 1.0, "log")}, 4)
    with pytest.raises(ValueError, match=r"\(lower, upper\) or"):
        latin_hypercube({"r": (0.0, 1.0, "sqrt")}, 4)
    bounds = {"r": (0.1, 0.5), "K": (1e2, 1e6, "log")}
    np.testing.assert_array_equal(latin_hypercube(bounds, np.int64(n), key=np.int64(3))["K"], d["K"])  # NumPy ints
    for bad in (0, 2.5, "4"):
        with pytest.raises(ValueError, match=f"n must be an integer >= 1, got {bad!r}"):
            latin_hypercube({"r": (0.1, 0.5)}, bad)


def test_replicate_and_member_inputs():
    assert replicate({"r": [1.0, 2.0]}, 3)["r"].tolist() == [1, 1, 1, 2, 2, 2]
    model = tj.TumourGrowth(law="logistic")
    p, y0 = member_inputs(model, {"r": [0.1, 0.2], "y0.T": [1.0, 5.0]}, y0={"T": 2.0})
    assert p.r.tolist() == [0.1, 0.2] and p.K.shape == (2,) and y0[:, 0].tolist() == [1.0, 5.0]
    with pytest.raises(ValueError, match=r"unknown design column\(s\) \['rho', 'y0.E'\]"):
        member_inputs(model, {"rho": [1.0], "y0.E": [1.0]}, y0={"T": 1.0})
    with pytest.raises(ValueError, match="disagree on the number of members"):
        member_inputs(model, {"r": [0.1, 0.2]}, y0=np.ones((3, 1)))
    with pytest.raises(ValueError, match="nothing to vary"):
        member_inputs(model, None, y0={"T": 1.0})
    with pytest.raises(ValueError, match="1D of one length"):
        member_inputs(model, {"r": [0.1, 0.2], "K": [1.0]}, y0={"T": 1.0})


def test_sweep_matches_closed_form_and_chunking_bounds_the_batch():
    """Logistic growth over a 3x4 grid of (r, y0.T) against its closed form; chunked = unchunked."""
    model = tj.TumourGrowth(law="logistic")
    p = model.default_params().replace(K=100.0)
    d = grid(r=[0.1, 0.3, 0.9], **{"y0.T": [1.0, 10.0, 50.0, 150.0]})
    ts = np.linspace(0.0, 10.0, 6)
    full = simulate_ensemble(model, d, params=p, y0={"T": 1.0}, t_span=(0.0, 10.0), ts=ts, rtol=1e-10, atol=1e-10)
    exact = model.closed_form(ts[None, :], d["y0.T"][:, None], p.replace(r=d["r"][:, None]))
    np.testing.assert_allclose(full["T"], exact, rtol=1e-8)
    assert full.ys.shape == (12, 6, 1) and full.ok
    chunked = simulate_ensemble(model, d, params=p, y0={"T": 1.0}, t_span=(0.0, 10.0), ts=ts, rtol=1e-10,
                                atol=1e-10, batch_size=5)  # 5 does not divide 12
    np.testing.assert_allclose(chunked.ys, full.ys, rtol=1e-12)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ensemble_map(lambda x: x, np.ones(3), batch_size=0)
    with pytest.raises(ValueError, match="same leading"):
        ensemble_map(lambda x: x, (np.ones(3), np.ones(4)))


_SHARDED = textwrap.dedent("""
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    import tumorjax as tj
    from tumorjax.ensemble import latin_hypercube, simulate_ensemble
    assert jax.device_count() == 4, jax.devices()
    model = tj.TumourEffector()
    d = latin_hypercube({"r": (0.1, 0.3), "kappa": (5e-8, 2e-7, "log"), "y0.T": (1e5, 1e7, "log")}, 10, key=1)
    kw = dict(y0={"T": 1e6, "E": 3.2e5}, t_span=(0.0, 50.0), n_save=11)
    plain = simulate_ensemble(model, d, **kw)
    sharded = simulate_ensemble(model, d, devices="all", **kw)
    chunked = simulate_ensemble(model, d, batch_size=2, **kw)
    sharded_chunked = simulate_ensemble(model, d, devices=4, batch_size=2, **kw)
    assert plain.ok and sharded.ok
    assert len(jax.tree_util.tree_leaves(sharded)[0].sharding.device_set) == 4
    print("IDENTICAL", np.array_equal(plain.ys, sharded.ys), np.array_equal(chunked.ys, sharded_chunked.ys),
          np.array_equal(plain.status, sharded.status))
""")


def test_sharded_and_unsharded_ensembles_are_identical():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", _SHARDED], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "IDENTICAL True True True" in run.stdout, run.stdout


def test_repeated_ensembles_do_not_recompile():
    """A second call with the same model structure, shapes and batch size (new values) reuses the compilation."""
    model = tj.TumourGrowth(law="logistic")
    kw = dict(params=model.default_params(), y0={"T": 1.0}, t_span=(0.0, 5.0), n_save=3)
    for batch_size in (None, 2):
        first = simulate_ensemble(model, {"r": [0.1, 0.2, 0.3]}, batch_size=batch_size, **kw)
        before = eqx.debug.get_num_traces(_map_impl)
        second = simulate_ensemble(model, {"r": [0.4, 0.5, 0.6]}, batch_size=batch_size, **kw)
        assert eqx.debug.get_num_traces(_map_impl) == before
        assert np.all(second["T"][:, -1] > first["T"][:, -1])  # new values were used
    square = lambda x: x**2  # noqa: E731
    ensemble_map(square, np.arange(4.0))
    before = eqx.debug.get_num_traces(_map_impl)
    np.testing.assert_array_equal(ensemble_map(square, np.arange(4.0) + 1), [1, 4, 9, 16])
    assert eqx.debug.get_num_traces(_map_impl) == before
