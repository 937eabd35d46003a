"""Numerical methods shared by the model families."""

from ._dde import ConstantHistory, hermite, solve_dde
