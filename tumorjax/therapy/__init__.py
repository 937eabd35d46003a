"""Therapy-schedule optimisation by gradient (issue 9, part 3).

Schedules are differentiable pytrees ([`BolusSchedule`][], [`InfusionSchedule`][]); a
[`ScheduleProblem`][] couples a model, its start, a [`Constraints`][] set and an objective (final
burden, area under the burden curve, a smooth time to progression, the dose cost);
[`optimize_schedule`][] minimises it by projected Adam or penalised L-BFGS from vmapped starts, and
[`grid_search`][] is the baseline over the same family. Worked problems: [`infusion_control`][]
(seed 000), [`cart_split_dose`][] (seed 003) and [`oncolytic_injections`][] (seed 004, the radial
PDE, against the Fig. 12 threshold rule: [`threshold_rule`][], [`threshold_schedule`][]).
"""

from ._constraints import Constraints, isotonic_regression, project_capped_simplex, project_times
from ._oncolytic import (
    InjectionProblem, oncolytic_injections, simulate_injections, threshold_rule, threshold_schedule,
)
from ._optimize import (
    METHODS, NoFiniteObjective, ScheduleReport, grid_points, grid_search, optimize_schedule, random_starts,
)
from ._problem import OBJECTIVES, ScheduleProblem
from ._problems import PROBLEMS, cart_split_dose, constant_infusion_baseline, infusion_control, untreated
from ._schedules import BolusSchedule, InfusionSchedule, simulate_boluses, simulate_infusion

__all__ = [
    "BolusSchedule", "Constraints", "InfusionSchedule", "InjectionProblem", "METHODS", "NoFiniteObjective",
    "OBJECTIVES", "PROBLEMS", "ScheduleProblem", "ScheduleReport", "cart_split_dose",
    "constant_infusion_baseline", "grid_points", "grid_search", "infusion_control", "isotonic_regression",
    "oncolytic_injections", "optimize_schedule", "project_capped_simplex", "project_times", "random_starts",
    "simulate_boluses", "simulate_infusion", "simulate_injections", "threshold_rule", "threshold_schedule",
    "untreated",
]
