"""Calibration of ODE models to data: transforms, noise models, optax fits with multistart, per-subject and
population fits, Fisher-information and profile-likelihood uncertainty, AIC/BIC, reports and plots."""

from ._criteria import aic, aicc, bic
from ._fit import fit, fit_subjects
from ._growth import BENZEKRY_ALPHA, GROWTH_LAWS, growth_problem
from ._noise import Gaussian, LogNormal, NoiseModel, Power, Proportional
from ._optimize import OPTIMIZERS, OptimState, forward_gradient, minimize, spread_starts
from ._population import PopulationFit, fit_population
from ._problem import Problem
from ._report import FitReport, SubjectFits
from ._transforms import Identity, Log, Logit, Transform
from ._uncertainty import Profile, fisher_information, profile_likelihood, wald_intervals
