"""Tests run in float64 unless a test asks for float32 explicitly (simulate(dtype=...))."""

import pathlib

import jax
import pytest

jax.config.update("jax_enable_x64", True)

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(items):
    """Run the modules marked `long_file` first.

    `make test` hands whole files to two workers (`--dist loadfile --no-loadscope-reorder`), in
    collection order; starting the longest files first keeps one of them from running alone at the end.
    """
    items.sort(key=lambda item: item.get_closest_marker("long_file") is None)  # stable: order kept otherwise


@pytest.fixture
def shared():
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED
