"""tumorjax: simulate, calibrate and optimise tumour-immune models in JAX."""

from .core import (
    ODEModel, Parameters, PiecewiseConstant, ProgressBar, Solution, Status, default_float,
    enable_x64, param, simulate,
)
from .ode import (
    BertalanffyGrowth, BertalanffyParams, CytokineModel, CytokineParams, GrowthParams,
    TumourEffector, TumourEffectorParams, TumourGrowth,
)

__version__ = "0.1.0"
