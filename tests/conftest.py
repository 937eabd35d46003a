"""Tests run in float64 unless a test asks for float32 explicitly (simulate(dtype=...))."""

import pathlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared():
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED
