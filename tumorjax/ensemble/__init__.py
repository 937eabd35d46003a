"""Ensembles over `simulate`: parameter sweeps (grids, Latin hypercubes), replicates and initial-condition
ensembles in one vmapped call, chunked to bounded memory and sharded across devices."""

from ._designs import grid, latin_hypercube, replicate
from ._run import AXIS, ensemble_map, member_inputs, simulate_ensemble
