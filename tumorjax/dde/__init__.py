"""Seed 000 delay models and the delay-induced Hopf bifurcation."""

from ._models import (
    DelayedTumourEffector, DelayedTumourEffectorParams, Hutchinson, HutchinsonParams, LinearDelay,
    LinearDelayParams,
)
from ._characteristic import (
    HopfPoint, characteristic_function, characteristic_roots, critical_delay, default_starts, delay_equilibrium,
    delay_jacobians, hopf_closed_form, hopf_quadratic, hopf_scalar, quadratic_coefficients,
)
from ._root_continuation import continue_roots, hopf_from_roots
from ._scenarios import DDEScenario
