"""Fit reports: estimates, uncertainty, criteria; `summary()` as text, `as_dict()`/`to_json()` as JSON."""

import dataclasses
import json
import pathlib
from typing import Any

import numpy as np

from ..core._scenario import _jsonable, write_csv
from ._problem import Problem


def _fmt(x) -> str:
    return f"{x:.5g}" if np.isfinite(x) else "nan"


@dataclasses.dataclass
class FitReport:
    """One fitted series: estimates with standard errors and confidence intervals (a population fit is a
    `PopulationFit`).

    `estimate`, `se`, `lower`, `upper` are on the natural scale, in `names` order; `z`/`se_z`
    on the fitted (transformed) scale; `identifiable` is None if the uncertainty was not computed.
    `starts_nll` holds every start's final NLL (multistart).
    `data` is `(time, value, mask)` as fitted (for plots and profiles).
    """

    problem: Problem
    names: tuple[str, ...]
    estimate: np.ndarray
    z: np.ndarray
    se: np.ndarray
    se_z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    identifiable: bool | None
    nll: float
    n_obs: int
    aic: float
    aicc: float
    bic: float
    converged: bool
    grad_norm: float
    steps: int
    starts_nll: np.ndarray
    optimizer: str
    data: tuple
    subject: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def n_params(self) -> int:
        return len(self.names)

    @property
    def values(self) -> dict[str, float]:
        """Estimates by name."""
        return dict(zip(self.names, self.estimate.tolist()))

    def rmse(self) -> float:
        """Root-mean-square error of the fitted curve at the data points (data units)."""
        time, value, mask = self.data
        return float(np.sqrt(np.mean((np.asarray(self.predict(time)) - value)[mask] ** 2)))

    def predict(self, ts):
        """The fitted observable at times `ts` (non-decreasing, >= t0)."""
        import jax.numpy as jnp

        return np.asarray(self.problem.predict(jnp.asarray(self.z), jnp.asarray(ts, float)))

    def as_dict(self) -> dict[str, Any]:
        params = {n: {"estimate": e, "se": s, "lower": lo, "upper": hi}
                  for n, e, s, lo, hi in zip(self.names, self.estimate, self.se, self.lower, self.upper)}
        return _jsonable({
            "model": type(self.problem.model).__name__, "subject": self.subject,
            "noise": type(self.problem.noise).__name__, "parameters": params, "level": self.level,
            "identifiable": self.identifiable, "nll": self.nll, "n_obs": self.n_obs, "n_params": self.n_params,
            "aic": self.aic, "aicc": self.aicc, "bic": self.bic, "rmse": self.rmse(), "converged": self.converged,
            "grad_norm": self.grad_norm, "steps": self.steps, "optimizer": self.optimizer,
            "starts_nll": self.starts_nll, **self.extra,
        })

    def to_json(self, path=None) -> str:
        text = json.dumps(self.as_dict(), indent=2) + "\n"
        if path is not None:
            pathlib.Path(path).write_text(text)
        return text

    def summary(self) -> str:
        """A plain-text table of the fit."""
        pct = f"{100 * self.level:g}%"
        head = (f"{type(self.problem.model).__name__} fit{' of ' + self.subject if self.subject else ''}: "
                f"{self.n_obs} observations, {self.n_params} parameters, {type(self.problem.noise).__name__} noise")
        rows = [head, f"{'name':>14} {'estimate':>12} {'se':>12} {pct + ' CI':>27}"]
        for n, e, s, lo, hi in zip(self.names, self.estimate, self.se, self.lower, self.upper):
            rows.append(f"{n:>14} {_fmt(e):>12} {_fmt(s):>12}   [{_fmt(lo):>11}, {_fmt(hi):>11}]")
        finite = np.isfinite(self.starts_nll)
        rows.append(f"NLL {self.nll:.6g}  AIC {self.aic:.6g}  AICc {self.aicc:.6g}  BIC {self.bic:.6g}  "
                    f"RMSE {self.rmse():.4g}")
        rows.append(f"{self.optimizer}: {'converged' if self.converged else 'NOT converged'} "
                    f"(|grad| {self.grad_norm:.2e}, {self.steps} steps); {finite.sum()}/{finite.size} starts "
                    f"finite, best NLL reached by {int(np.sum(self.starts_nll[finite] < self.nll + 1e-3))}")
        if self.identifiable is None:
            rows.append("uncertainty not computed (uncertainty=False)")
        elif not self.identifiable:
            rows.append("Fisher information not positive definite: some parameters are not identifiable")
        return "\n".join(rows)

    def plot(self, path=None, ax=None, log: bool = False):
        from ._plots import plot_fit

        return plot_fit(self, path=path, ax=ax, log=log)


@dataclasses.dataclass
class SubjectFits:
    """Independent fits of one problem to many subjects (one vmapped call)."""

    reports: list[FitReport]

    @property
    def subjects(self) -> list[str]:
        return [r.subject for r in self.reports]

    @property
    def nll(self) -> float:
        return float(sum(r.nll for r in self.reports))

    @property
    def aic(self) -> float:
        """Sum of the subjects' AIC (each subject has its own parameters)."""
        return float(sum(r.aic for r in self.reports))

    @property
    def bic(self) -> float:
        """Sum of the subjects' BIC, each with its own ln n_s (not the BIC of one model of all the observations)."""
        return float(sum(r.bic for r in self.reports))

    def columns(self) -> dict[str, np.ndarray]:
        """One row per subject: index, estimates, standard errors, NLL, AIC, BIC, RMSE, convergence."""
        names = self.reports[0].names
        cols = {"subject_index": np.arange(len(self.reports))}
        for i, n in enumerate(names):
            cols[n] = np.array([r.estimate[i] for r in self.reports])
            cols[f"se_{n}"] = np.array([r.se[i] for r in self.reports])
        for key in ("nll", "aic", "bic"):
            cols[key] = np.array([getattr(r, key) for r in self.reports])
        cols["rmse"] = np.array([r.rmse() for r in self.reports])
        cols["n_obs"] = np.array([r.n_obs for r in self.reports])
        cols["converged"] = np.array([r.converged for r in self.reports], float)
        return cols

    def to_csv(self, path) -> pathlib.Path:
        write_csv(path, self.columns())
        return pathlib.Path(path)

    def as_dict(self):
        return {"nll": self.nll, "aic": self.aic, "bic": self.bic, "subjects": [r.as_dict() for r in self.reports]}

    def summary(self) -> str:
        cols = self.columns()
        names = self.reports[0].names
        model = type(self.reports[0].problem.model).__name__
        lines = [f"{model}: {len(self.reports)} subjects, total NLL {self.nll:.6g}, sum AIC {self.aic:.6g}, "
                 f"sum BIC {self.bic:.6g}, {int(cols['converged'].sum())} converged"]
        lines.append(f"{'subject':>12} " + " ".join(f"{n:>12}" for n in names) + f" {'AIC':>10} {'RMSE':>10}")
        for j, r in enumerate(self.reports):
            lines.append(f"{r.subject:>12} " + " ".join(f"{_fmt(e):>12}" for e in r.estimate)
                         + f" {r.aic:>10.4g} {cols['rmse'][j]:>10.4g}")
        return "\n".join(lines)

    def plot(self, path=None, log: bool = True):
        from ._plots import plot_subject_fits

        return plot_subject_fits(self, path=path, log=log)
