"""Seed 004: oncolytic virus, tumour and immune cells (Morselli, Delitala, Jenner, Frascoli)."""

from ._ode import OncolyticODE, hopf_test, ode_equilibria, ode_hopf_point, ode_trivial_eigenvalues
from ._params import REFERENCE_CODE, OncolyticODEParams, OncolyticParams
from ._lattice import LatticeConfig, LatticeProtocol, LatticeRun, LatticeState, binomial, simulate_lattice  # noqa: E501
from ._lattice_replicates import ReplicateRun, simulate_replicates, wilson_interval
from ._lattice_scenarios import LatticeScenario  # registers the ov-abm- scenarios
from . import _scenarios  # noqa: F401  (registers the ov- scenarios)
from ._metrics import fisher_speed, front_position, front_speed, icp, radial_total, tcp
from ._pde2d import Grid2D, initial_condition_2d, solve_2d, stable_step_2d
from ._pde_scenarios import RadialPDEScenario, RadialSetup, threshold_sweep
from ._protocols import Protocol
from ._radial import OVState, RadialConfig, RadialSolution, initial_condition, solve_radial, stable_step
