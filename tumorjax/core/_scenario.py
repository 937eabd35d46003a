"""Scenarios: named, documented runs shared by the CLI, tests, notebooks and benchmarks."""

import abc
import dataclasses
import json
import pathlib
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ._model import ODEModel
from ._params import Parameters
from ._simulate import simulate


@dataclasses.dataclass
class ScenarioResult:
    """What a scenario run produced: columns for `timeseries.csv`, metrics and a status."""

    scenario: "Scenario"
    params: Parameters
    columns: dict[str, np.ndarray]
    ok: bool
    message: str
    wall_time: float
    metrics: dict[str, Any]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Everything `summary.json` holds."""
        final = {k: float(v[-1]) for k, v in self.columns.items() if k != "t"}
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "source": self.scenario.source,
            "model": self.scenario.model_name,
            "parameters": self.params.as_dict(),
            "units": {k: v["units"] for k, v in self.params.info().items()},
            "initial_state": self.scenario.initial_state(),
            "t_end": float(self.columns["t"][-1]),
            "status": "success" if self.ok else "failure",
            "message": self.message,
            "wall_time_s": self.wall_time,
            "final_state": final,
            "metrics": self.metrics,
            **self.extra,
        }

    def write(self, out_dir, figure: bool = True) -> dict[str, pathlib.Path]:
        """Write `timeseries.csv`, `summary.json` and `figure.png` into `out_dir`."""
        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "timeseries.csv", "json": out / "summary.json"}
        write_csv(paths["csv"], self.columns)
        paths["json"].write_text(json.dumps(_jsonable(self.summary()), indent=2) + "\n")
        if figure:
            paths["png"] = out / "figure.png"
            self.scenario.plot(self, paths["png"])
        return paths


def write_csv(path, columns: dict) -> None:
    """Equal-length columns to a CSV file with a header row, in dict order."""
    names = list(columns)
    data = np.column_stack([np.asarray(columns[n], dtype=float) for n in names])
    np.savetxt(path, data, delimiter=",", header=",".join(names), comments="", fmt="%.10g")


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "__jax_array__") or type(x).__module__.startswith("jax"):
        return _jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return x


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scenario(abc.ABC):
    """A named run: source, model, parameters, initial state and horizon.

    Subclasses implement `run`; the CLI needs nothing else. `params` holds the scenario's
    parameter values; `run(params=...)` overrides them. `run_options` names the extra keyword
    arguments `run` accepts from the CLI (`replicates`, `seed`: stochastic models).
    """

    run_options: ClassVar[tuple[str, ...]] = ()

    name: str
    description: str
    source: str
    params: Parameters

    @property
    def model_name(self) -> str:
        return type(self).__name__

    @abc.abstractmethod
    def initial_state(self) -> dict[str, Any]:
        """The initial condition as JSON-able data."""

    @abc.abstractmethod
    def run(self, params: Parameters | None = None, *, t_end: float | None = None, dtype=None,
            progress: bool = False) -> ScenarioResult:
        """Run with `params` (default: the scenario's) up to `t_end` (default: its horizon)."""

    def plot(self, result: ScenarioResult, path) -> None:
        from ..plotting import plot_timeseries

        plot_timeseries(result.columns, title=f"{self.name}: {self.description}", path=path)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ODEScenario(Scenario):
    """A scenario for an [`tumorjax.ODEModel`][], solved by [`tumorjax.simulate`][].

    `metrics(model, params, solution)` returns derived numbers for `summary.json`.
    """

    model: ODEModel
    y0: dict[str, float]
    t_span: tuple[float, float]
    n_save: int = 401
    log_scale: bool = True
    metrics: Callable[..., dict[str, Any]] | None = None

    @property
    def model_name(self) -> str:
        return type(self.model).__name__

    def initial_state(self):
        return dict(self.y0)

    def solve(self, params=None, *, t_end=None, dtype=None, progress=False, **kwargs):
        """The raw [`tumorjax.Solution`][]; keyword arguments go to `simulate`."""
        params = self.params if params is None else params
        t_span = (self.t_span[0], self.t_span[1] if t_end is None else t_end)
        return simulate(self.model, params, self.y0, t_span, n_save=self.n_save, dtype=dtype,
                        progress=progress, **kwargs)

    def run(self, params=None, *, t_end=None, dtype=None, progress=False):
        params = self.params if params is None else params
        start = time.perf_counter()
        sol = self.solve(params, t_end=t_end, dtype=dtype, progress=progress)
        sol.ys.block_until_ready()
        wall = time.perf_counter() - start
        metrics = {} if self.metrics is None else self.metrics(self.model, params, sol)
        return ScenarioResult(
            scenario=self, params=params, columns=sol.to_columns(), ok=sol.ok, message=sol.message,
            wall_time=wall, metrics=_jsonable(metrics),
            extra={"time_units": self.model.time_units, "precision": str(sol.ys.dtype),
                   "solver_steps": _jsonable(sol.stats)},
        )

    def plot(self, result, path):
        from ..plotting import plot_ode_result

        plot_ode_result(result, path, log=self.log_scale)


_REGISTRY: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    """Add a scenario to the catalogue used by `tumorjax list` and `tumorjax run`."""
    if scenario.name in _REGISTRY:
        raise ValueError(f"scenario {scenario.name!r} is already registered")
    _REGISTRY[scenario.name] = scenario
    return scenario


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`; an unknown name raises a `ValueError` listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known scenarios: {', '.join(sorted(_REGISTRY))}") from None


def list_scenarios() -> list[Scenario]:
    """Every registered scenario, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
