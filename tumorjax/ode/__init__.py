"""Seed 000: ODE tumour-immune models from first principles."""

from ._cytokine import CytokineModel, CytokineParams
from ._growth import BertalanffyGrowth, BertalanffyParams, GrowthParams, TumourGrowth
from ._responses import bertalanffy, growth, killing, killing_slope_at_zero, proliferation
from ._tumour_effector import TumourEffector, TumourEffectorParams
from ._thresholds import (
    invasion_exponent, minimum_dose, peak_stimulation, tumour_free_effectors, tumour_reproduction_number,
)
from . import _scenarios  # noqa: F401  (registers the seed-000 scenarios)
