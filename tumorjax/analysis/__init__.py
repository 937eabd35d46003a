"""Model analysis: equilibria, stability, basins, oscillations, continuation and bifurcations."""

from ._basins import Basins, basin_map
from ._bifurcation_points import BifurcationPoint, bialternate, hopf_test_function
from ._bifurcation_points import locate as locate_bifurcation
from ._continuation import Branch, FixedBranch, SpecialPoint, continuation, continue_fixed
from ._limit_cycles import CycleBranch, LimitCycle, cycles_from_hopf, periodic_orbit
from ._normal_forms import FoldNormalForm, HopfNormalForm, NormalFormParams, TranscriticalNormalForm
from ._diagram import Diagram, bifurcation_diagram
from ._equilibria import Equilibrium, find_equilibria
from ._oscillations import oscillation_metrics
from ._plot_branches import plot_branches
from ._stability import classify, eigenvalues, is_stable, jacobian
