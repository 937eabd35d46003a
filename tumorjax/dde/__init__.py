"""Seed 000 delay models and the delay-induced Hopf bifurcation."""

from ._models import (
    DelayedTumourEffector, DelayedTumourEffectorParams, Hutchinson, HutchinsonParams, LinearDelay,
    LinearDelayParams,
)
from ._scenarios import DDEScenario
