"""Shared machinery of every model family: parameters, models, solving, scenarios."""

from ._model import DDEModel, ODEModel
from ._params import Parameters, param
from ._precision import default_float, enable_x64
from ._progress import ProgressBar
from ._schedules import PiecewiseConstant
from ._simulate import DEFAULT_TOLERANCES, initial_state, simulate
from ._solution import Solution, Status
from ._scenario import ODEScenario, Scenario, ScenarioResult, get_scenario, list_scenarios, register
