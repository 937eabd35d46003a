"""Seed 004: oncolytic virus, tumour and immune cells (Morselli, Delitala, Jenner, Frascoli)."""

from ._ode import OncolyticODE, hopf_test, ode_equilibria, ode_hopf_point, ode_trivial_eigenvalues
from ._params import REFERENCE_CODE, OncolyticODEParams, OncolyticParams
from . import _scenarios  # noqa: F401  (registers the ov- scenarios)
