"""tumorjax: simulate, calibrate and optimise tumour-immune models in JAX."""

from .core._xla_cpu import configure_small_loops

XLA_CPU_SMALL_LOOPS = configure_small_loops()  # before any JAX computation; see core/_xla_cpu.py

from . import analysis, cart, dde, kinetic, numerics, ode, oncolytic
from .core import (
    DDEModel, ODEModel, Parameters, PiecewiseConstant, ProgressBar, Solution, Status, default_float,
    enable_x64, get_scenario, list_scenarios, param, simulate,
)
from .ode import (
    BertalanffyGrowth, BertalanffyParams, CytokineModel, CytokineParams, GrowthParams,
    TumourEffector, TumourEffectorParams, TumourGrowth,
)
from .numerics import solve_dde
from . import calibration, data, ensemble, invitro, therapy

__version__ = "0.1.0"
