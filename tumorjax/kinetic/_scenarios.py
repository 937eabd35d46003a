"""The seed-002 scenario catalogue (`tumorjax run kinetic-...`, `tumorjax equilibria kinetic-...-ode`).

Every value is an illustrative non-dimensional choice (the slides give no numbers). The
invasion problem: a tumour of density `n1_0` occupies the left `x_front` of $[0, 1]$ (a smooth
step) in a tissue whose immune cells sit at the stable tumour-free state; zero flux at both ends.
"""

import dataclasses
import time
from typing import Any

import numpy as np

from ..core import ODEScenario, Parameters, Scenario, ScenarioResult, register
from ..core._scenario import _jsonable
from ..numerics._fv import FVGrid
from ._dvm import solve_kinetic
from ._macro import MacroscopicModel, solve_macroscopic
from ._params import ConservativeParams, KineticParams, ProliferativeParams
from ._reductions import (
    CrossConservative, LinearConservative, LinearProliferative, SelfProliferative, conservative_equilibria,
    proliferative_equilibria, self_params,
)

_SRC = "seed 002 (Conte & Travaglini, Chaos Solit. Fractals 200 (2025) 116969)"


def invasion_state(model: MacroscopicModel, immune: dict[str, float], n1_0: float = 1.0, x_front: float = 0.1,
                   width: float = 0.02) -> np.ndarray:
    """The invasion initial state on `model.grid` (1D: along x; 2D: a disc of radius `x_front` at the origin).

    `immune` gives the uniform immune densities: `{"n2": ..., "n3": ...}`; the cross and self
    states use N = n2 + n3.
    """
    r = np.sqrt(sum(x**2 for x in model.grid.mesh()))
    n1 = n1_0 / (1 + np.exp((r - x_front) / width))
    ones = np.ones(model.grid.shape)
    if model.regime == "linear":
        return np.stack([n1, immune["n2"] * ones, immune["n3"] * ones])
    return np.stack([n1, (immune["n2"] + immune["n3"]) * ones])


def _front(x, n1, level):
    """Rightmost x at which n1 >= level (0 if nowhere)."""
    above = np.flatnonzero(n1 >= level)
    return float(x[above[-1]]) if above.size else 0.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class PDEScenario(Scenario):
    """A spatial scenario: a macroscopic model (or, with `kinetic`, the discrete-velocity model).

    Writes `timeseries.csv` with the total mass of n1, n2, n3 (and N) over time, the maximum
    tumour density and the tumour front (rightmost x with n1 >= `front_level`); the figure
    shows the profiles at several times and the masses.
    """

    model: MacroscopicModel
    immune: dict[str, float]
    t_end: float
    n1_0: float = 1.0
    x_front: float = 0.1
    scheme: str = "explicit"
    n_save: int = 101
    front_level: float = 0.5
    kinetic: KineticParams | None = None

    @property
    def model_name(self) -> str:
        kind = "discrete-velocity kinetic model" if self.kinetic is not None else "MacroscopicModel"
        return f"{kind} ({self.model.regime} diffusion, {self.model.case} case, grid {self.model.grid.shape})"

    def initial_state(self) -> dict[str, Any]:
        return {"tumour": f"n1 = {self.n1_0} / (1 + exp((|x| - {self.x_front}) / 0.02))",
                "immune (uniform)": dict(self.immune)}

    def state(self):
        return invasion_state(self.model, self.immune, self.n1_0, self.x_front)

    def solve(self, params: Parameters | None = None, *, t_end=None, progress=False):
        params = self.params if params is None else params
        t_end = self.t_end if t_end is None else t_end
        if self.kinetic is not None:
            return solve_kinetic(self.model, params, self.kinetic, self.state(), t_end, n_save=self.n_save)[0]
        return solve_macroscopic(self.model, params, self.state(), t_end, scheme=self.scheme,
                                 n_save=self.n_save, progress=progress)

    def run(self, params=None, *, t_end=None, dtype=None, progress=False):
        params = self.params if params is None else params
        start = time.perf_counter()
        sol = self.solve(params, t_end=t_end, progress=progress)
        sol.ys.block_until_ready()
        wall = time.perf_counter() - start
        ys = np.asarray(sol.ys)
        pops = [np.asarray(a) for a in self.model.populations(np.moveaxis(ys, 1, 0), params)]
        grid = self.model.grid
        cols = {"t": np.asarray(sol.ts)}
        for name, field in zip(("n1", "n2", "n3"), pops):
            cols[f"mass_{name}"] = np.asarray(grid.integrate(field))
        if self.model.regime != "linear":
            cols["mass_N"] = cols["mass_n2"] + cols["mass_n3"]
        cols["max_n1"] = pops[0].reshape(len(cols["t"]), -1).max(axis=1)
        if grid.ndim == 1:
            x = grid.centres()
            cols["front_n1"] = np.array([_front(x, f, self.front_level) for f in pops[0]])
        finite = bool(np.all(np.isfinite(ys)))
        round_off = 100 * np.finfo(ys.dtype).eps * float(np.max(np.abs(ys))) if finite else 0.0
        ok = finite and bool(np.all(ys >= -round_off))
        masses0 = np.asarray(grid.integrate(ys[0]))
        metrics = {"dt": float(sol.dt), "n_steps": sol.n_steps, "scheme": "AP parity (kinetic)"
                   if self.kinetic is not None else self.scheme, "min_density": float(ys.min()),
                   "initial_masses": dict(zip(self.model.state_names, masses0.tolist()))}
        if self.kinetic is not None:
            metrics["kinetic"] = self.kinetic.as_dict()
        if "front_n1" in cols and cols["t"][-1] > cols["t"][0]:
            half = len(cols["t"]) // 2
            metrics["front_speed_second_half"] = float(
                (cols["front_n1"][-1] - cols["front_n1"][half]) / (cols["t"][-1] - cols["t"][half]))
        message = "completed" if ok else ("non-finite densities" if not finite else "negative densities")
        return ScenarioResult(
            scenario=self, params=params, columns=cols, ok=ok, message=message, wall_time=wall,
            metrics=_jsonable(metrics),
            extra={"time_units": "dimensionless", "precision": str(ys.dtype), "grid": list(grid.shape),
                   "profiles": _snapshots(cols["t"], pops, grid.ndim)},
        )

    def plot(self, result, path):
        import matplotlib.pyplot as plt

        prof = result.extra["profiles"]
        fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
        if self.model.grid.ndim == 1:
            x = self.model.grid.centres()
            for ax, name in zip(axes[:3], ("n1", "n2", "n3")):
                for t, field in zip(prof["t"], prof[name]):
                    ax.plot(x, field, label=f"t = {t:.3g}")
                ax.set_xlabel("x")
                ax.set_title(name)
                ax.grid(alpha=0.3)
            axes[0].legend(fontsize=7)
        else:
            L = self.model.grid.length
            for ax, t, field in zip(axes[:3], prof["t"], prof["n1"]):
                im = ax.imshow(np.asarray(field).T, origin="lower", extent=[0, L[0], 0, L[1]])
                ax.set_title(f"n1, t = {t:.3g}")
                fig.colorbar(im, ax=ax)
        for name in ("n1", "n2", "n3"):
            axes[3].plot(result.columns["t"], result.columns[f"mass_{name}"], label=f"mass {name}")
        axes[3].set_yscale("log")
        axes[3].set_xlabel("t")
        axes[3].legend(fontsize=7)
        axes[3].grid(alpha=0.3)
        fig.suptitle(f"{self.name}: {self.description}", fontsize=9)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)


def _snapshots(ts, pops, ndim):
    """Profiles at 5 times (1D: n1, n2, n3) or n1 at 3 times (2D), for summary.json and the figure."""
    picks = np.unique(np.linspace(0, len(ts) - 1, 5 if ndim == 1 else 3).round().astype(int))
    names = ("n1", "n2", "n3") if ndim == 1 else ("n1",)
    return {"t": ts[picks], **{n: p[picks] for n, p in zip(names, pops)}}


def _e_metrics_cc(model, p, sol):
    e = np.asarray(conservative_equilibria(p))
    return {"A_times_I": float(p.A * p.I), "E1": e[0].tolist(), "E2": e[1].tolist(),
            "E1_stable": bool(p.A * p.I > 1), "Y1_final": float(sol["Y1"][-1])}


def _e_metrics_pc(model, p, sol):
    return {"equilibria_closed_form": proliferative_equilibria(p).tolist(), "Y1_final": float(sol["Y1"][-1])}


_CC = ConservativeParams()
_PC = ProliferativeParams()
_SELF = self_params(_PC)
_HOMO = "seed 002, 'Qualitative analysis of the spatially homogeneous settings'"

for _name, _model, _params, _y0, _what, _metrics in [
    ("cc-linear-ode", LinearConservative(), _CC, {"Y1": 0.3, "Y2": 1.0}, "conservative case, linear "
     "reduction (Y1, Y2): A*I = 2 > 1, a tumour above the saddle E2 escapes", _e_metrics_cc),
    ("cc-cross-ode", CrossConservative(), _CC, {"Y1": 0.2}, "conservative case, cross-diffusion reduction "
     "(Y1, I fixed): below the saddle E2 the tumour is eradicated", _e_metrics_cc),
    ("pc-linear-ode", LinearProliferative(), _PC, {"Y1": 0.5, "Y2": 1.5, "Y3": 0.3}, "proliferative case, "
     "linear reduction (Y1, Y2, Y3)", _e_metrics_pc),
    ("pc-self-ode", SelfProliferative(), _SELF, {"Y1": 0.5, "YN": 1.8}, "proliferative case, self-diffusion "
     "reduction (Y1, YN), P = E/C", None),
]:
    register(ODEScenario(name=f"kinetic-{_name}", description=_what, source=f"{_SRC}; {_HOMO}", model=_model,
                         params=_params, y0=_y0, t_span=(0.0, 10.0), metrics=_metrics))

_tf = proliferative_equilibria(_PC)
_pc_immune = {"n2": float(_tf[0, 1]), "n3": float(_tf[0, 2])}  # the stable tumour-free state E1
_cc_immune = {"n2": float(_CC.I), "n3": 0.0}
_G1 = FVGrid((200,), 1.0)
_MACRO = "seed 002, 'From kinetic to macroscopic model' (summary table)"

for _name, _regime, _case, _params, _immune, _what in [
    ("cc-linear-pde", "linear", "conservative", _CC, _cc_immune, "linear diffusion of n1, n2, n3"),
    ("cc-cross-pde", "cross", "conservative", _CC, _cc_immune, "cross-diffusion of N with D_eff[n1]"),
    ("pc-linear-pde", "linear", "proliferative", _PC, _pc_immune, "linear diffusion of n1, n2, n3"),
    ("pc-self-pde", "self", "proliferative", _SELF, _pc_immune, "self-diffusion of N with D_eff[N]"),
]:
    register(PDEScenario(
        name=f"kinetic-{_name}", description=f"1D tumour invasion, {_case} case, {_what}",
        source=f"{_SRC}; {_MACRO}", model=MacroscopicModel(regime=_regime, case=_case, grid=_G1),
        params=_params, immune=_immune, t_end=4.0, n1_0=1.0 if _case == "conservative" else 4.0,
    ))

register(PDEScenario(
    name="kinetic-cc-linear-pde-2d",
    description="2D tumour invasion from a corner, conservative case, linear diffusion, linearly implicit "
    "scheme", source=f"{_SRC}; {_MACRO}",
    model=MacroscopicModel(regime="linear", case="conservative", grid=FVGrid((48, 48), 1.0)), params=_CC,
    immune=_cc_immune, t_end=4.0, x_front=0.15, scheme="implicit", n_save=41,
))
register(PDEScenario(
    name="kinetic-cc-dvm",
    description="1D tumour invasion, conservative case, discrete-velocity kinetic model (epsilon = 0.1, "
    "lambda = 1): tends to kinetic-cc-linear-pde as epsilon -> 0",
    source=f"{_SRC}; kinetic equation with turning operator L[f] (beyond the slides: AP parity scheme)",
    model=MacroscopicModel(regime="linear", case="conservative", grid=_G1), params=_CC, immune=_cc_immune,
    t_end=4.0, kinetic=KineticParams(epsilon=0.1),
))
