"""Model analysis: equilibria, linear stability, basins of attraction, oscillations."""

from ._basins import Basins, basin_map
from ._equilibria import Equilibrium, find_equilibria
from ._oscillations import oscillation_metrics
from ._stability import classify, eigenvalues, is_stable, jacobian
