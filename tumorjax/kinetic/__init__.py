"""Seed 002: kinetic and hydrodynamic tumour-immune models (Conte & Travaglini)."""

from ._macro import FieldSolution, MacroscopicModel, solve_macroscopic
from ._params import ConservativeParams, KineticParams, ProliferativeParams, SelfParams
from ._reductions import (
    CrossConservative, LinearConservative, LinearProliferative, SelfProliferative, coexistence_interval,
    conservative_equilibria, proliferative_equilibria, self_params,
)
from ._dvm import convergence_table, equilibrium_flux, kinetic_stable_dt, kinetic_step, solve_kinetic
from ._scenarios import PDEScenario, invasion_state
