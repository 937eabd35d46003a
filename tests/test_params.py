"""Parameter pytrees: validation, metadata, precision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj


def test_negative_rate_names_the_parameter():
    with pytest.raises(ValueError, match=r"TumourEffectorParams\.r .*must be >= 0"):
        tj.TumourEffectorParams(r=-0.1)
    with pytest.raises(ValueError, match=r"delta"):
        tj.TumourEffectorParams().replace(delta=0.0)  # strictly positive
    with pytest.raises(ValueError, match=r"\bm\b.*>= 1"):
        tj.TumourEffectorParams(m=0.5)
    with pytest.raises(ValueError, match="finite"):
        tj.GrowthParams(r=float("nan"))


def test_batched_values_are_checked_elementwise():
    with pytest.raises(ValueError, match="kappa"):
        tj.TumourEffectorParams(kappa=np.array([1e-7, -1e-7]))
    p = tj.TumourEffectorParams(kappa=np.array([1e-7, 2e-7]))
    assert p.kappa.shape == (2,)


def test_replace_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['foo'\].*known: r, K"):
        tj.TumourEffectorParams().replace(foo=1.0)


def test_metadata_units_and_sources():
    info = tj.TumourEffectorParams.info()
    assert info["r"]["units"] == "1/day"
    assert info["kappa"]["units"] == "1/(cell*day)"
    assert "Kuznetsov" in info["s"]["source"]
    assert tj.TumourEffectorParams.names()[:2] == ("r", "K")
    assert "carrying capacity" in tj.TumourEffectorParams().describe()


def test_host_values_keep_float64_precision():
    # Built while x64 may be off, values must not be rounded to float32.
    p = tj.TumourEffectorParams(r=0.18)
    assert p.as_dict()["r"] == 0.18
    assert p.astype(jnp.float32).r.dtype == jnp.float32


def test_traced_values_are_not_checked():
    # Under grad/vmap the values are tracers; construction must not try to read them.
    f = jax.grad(lambda r: tj.GrowthParams(r=r).r * 2.0)
    assert f(-1.0) == 2.0
