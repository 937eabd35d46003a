"""Seed 003: CAR-T cells against a solid tumour, 3D reaction-diffusion-chemotaxis model (Polyakov 2026).

The homogeneous ODE (9)-(15) with its steady states and stability tests, the author's numerical
scheme reproduced exactly (`scheme="reference"`), an accurate stiff-stable scheme
(`scheme="accurate"`), the normalised presets and the scenarios of Secs. 3.1-3.4.
"""

from ._accurate_scheme import step_accurate
from ._grid import initial_fields, injection_region, node_coordinates
from ._homogeneous import CARTHomogeneous, coexistence_states, healthy_stability, invasion_test, tumour_states
from ._kinetics import FIELDS, reactions
from ._outputs import CARTSolution
from ._params import (
    NORMALISED, NORMALISED_INITIAL, REFERENCE_CODE, TABLE1, CARTInitial, CARTNumerics, CARTParams, CARTSetup,
    microenvironment_variant, normalised, switching_variant,
)
from ._reference_runs import reference_run_setup
from ._reference_scheme import reference_stability, step_reference
from ._solver import final_fields, simulate_cart, tumour_burden
from . import _scenarios  # noqa: F401,E402  (registers the cart- scenarios)
