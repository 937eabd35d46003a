"""Model analysis: equilibria, linear stability, basins of attraction."""

from ._basins import Basins, basin_map
from ._equilibria import Equilibrium, find_equilibria
from ._stability import classify, eigenvalues, is_stable, jacobian
