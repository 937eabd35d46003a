"""Numerical methods shared by the model families."""

from ._dde import ConstantHistory, hermite, solve_dde
from ._fv import FVGrid, check_explicit_dt, implicit_myopic_step, myopic_laplacian, stable_dt
from ._dct import (
    neumann_apply, neumann_cg_solve, neumann_eigenvalues, neumann_flux_divergence, neumann_heat, neumann_resolvent,
    node_weights,
)
