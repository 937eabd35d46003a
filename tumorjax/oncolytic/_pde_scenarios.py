r"""Seed-004 continuum scenarios (Table 3; Figs. 4-9, 11, 12): `tumorjax run ov-pde-...`.

Each scenario solves the radial PDE (2.8) with `solve_radial`. Its parameter set `RadialSetup` holds every
Table-2 parameter plus the initial radii `R_u`, `R_i` (Eq. 4.1), the domain `L`, the number of cells `N`,
the step `dt` (0 = automatic) and, for Fig. 12, `U_threshold`, so `--set` reaches all of them. `L`, `N` and
`dt` are static (a new value recompiles). Scenarios named `...-reference` run the authors' scheme
(`scheme="reference"`, q = 9.34e-3, dr = 0.01 mm, dt = 1e-4 h, drift $\chi\nabla\phi$) that produced
`../shared/reference/ov/pde/`, in float64 only (`float64_only`); they share q and drift with the `ov-abm-*` lattice
scenarios, the other `ov-pde-*` scenarios use the paper's q = 8.34e-3 and drift $(\chi/\phi^*)\nabla\phi$.
"""

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..core import Scenario, ScenarioResult, param, register
from ..core._precision import default_float
from ..core._scenario import _jsonable
from ._metrics import fisher_speed, front_speed, icp, tcp
from ._params import OncolyticParams
from ._protocols import Protocol
from ._radial import SERIES_NAMES, RadialConfig, solve_radial, stable_step

_SRC = "seed 004, Eq. (2.8), Sec. 4"


class RadialSetup(OncolyticParams):
    """Table-2 parameters plus the geometry, grid and step of a radial run (`--set` names)."""

    R_u: float = param(2.6, "mm", "initial radius of uninfected cells", "seed 004, Table 2; Eq. (4.1)")
    R_i: float = param(1.0, "mm", "initial radius of infected cells (1 central, R_u wide, 0 none)",
                       "seed 004, Table 2; Eq. (4.1)")
    L: float = param(10.0, "mm", "domain radius (static)", "seed 004, Sec. 4", strict=True)
    N: float = param(1000, "cells", "number of radial cells, dr = L/N (static)", "seed 004, Appendix C",
                     strict=True)
    dt: float = param(0.0, "h", "time step; 0 = automatic (0.9 x the stable step)", "")
    U_threshold: float = param(0.0, "cells",
                               "Fig. 12: wide injection whenever U_total reaches this (0 = never)",
                               "seed 004, Sec. 4.4")

    def physics(self) -> OncolyticParams:
        return OncolyticParams(**{k: getattr(self, k) for k in OncolyticParams.names()})

    def config(self, base: RadialConfig) -> RadialConfig:
        n = float(self.N)
        if n != round(n):
            raise ValueError(f"N (number of cells) must be an integer, got {n}")
        dt = float(self.dt)
        return dataclasses.replace(base, L=float(self.L), N=int(round(n)), dt=None if dt == 0 else dt)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RadialPDEScenario(Scenario):
    """A run of the radial PDE (2.8) with a treatment `protocol` from `t0` to `t_end` [h]."""

    base: RadialConfig = RadialConfig()
    protocol: Protocol = Protocol()
    t0: float = 0.0
    t_end: float = 1500.0
    figure: str = ""
    float64_only: bool = False

    @property
    def model_name(self) -> str:
        return f"radial PDE (2.8), scheme={self.base.scheme}, mode={self.base.mode}"

    def initial_state(self) -> dict[str, Any]:
        p = self.params
        return {"u": f"0.9 K for r <= R_u = {float(p.R_u)} mm",
                "i": f"0.1 K for r <= R_i = {float(p.R_i)} mm",
                "z": 0.0, "phi": 0.0, "t0_h": self.t0}

    def solve(self, params=None, *, t_end=None, progress=False, profile_every=None):
        params = self.params if params is None else params
        if not isinstance(params, RadialSetup):
            raise ValueError(f"{self.name} takes RadialSetup parameters, got {type(params).__name__}")
        config = params.config(self.base)
        t_end = self.t_end if t_end is None else float(t_end)
        protocol = self.protocol
        if float(params.U_threshold) > 0:
            protocol = dataclasses.replace(protocol, threshold=jnp.asarray(float(params.U_threshold)))
        return solve_radial(params.physics(), config, t_end, R_u=float(params.R_u), R_i=float(params.R_i),
                            protocol=protocol, t0=self.t0, progress=progress, profile_every=profile_every)

    def run(self, params=None, *, t_end=None, dtype=None, progress=False) -> ScenarioResult:
        params = self.params if params is None else params
        if dtype is not None and jnp.dtype(dtype) != default_float():
            raise ValueError("the PDE scenarios run in the current default precision; use --x64 for float64")
        if self.float64_only and default_float() != jnp.float64:
            raise ValueError("this scenario reproduces the authors' Octave run, which float32 misses by about 0.2% "
                             "over 100 h: run it in float64 (--x64, or tumorjax.enable_x64())")
        start = time.perf_counter()
        sol = self.solve(params, t_end=t_end, progress=progress)
        sol.series.block_until_ready()
        wall = time.perf_counter() - start
        s = np.asarray(sol.series)
        columns = {"t": np.asarray(sol.ts)}
        columns.update({name: s[:, k] for k, name in enumerate(SERIES_NAMES)})
        columns["TCP"] = np.asarray(tcp(s[:, 0]))
        columns["ICP"] = np.asarray(icp(s[:, 1]))
        return ScenarioResult(scenario=self, params=params, columns=columns, ok=sol.ok, message=sol.message,
                              wall_time=wall, metrics=_jsonable(self.metrics(params, sol)),
                              extra={"time_units": "h", "precision": str(sol.series.dtype),
                                     "numerics": {"scheme": sol.config.scheme, "mode": sol.config.mode,
                                                  "dr_mm": sol.config.dx, "dt_h": sol.dt, "N": sol.config.N,
                                                  "L_mm": sol.config.L,
                                                  "stable_step_h": stable_step(params.physics(), sol.config),
                                                  "max_cfl": float(sol.cfl)}})

    def metrics(self, params, sol) -> dict[str, Any]:
        t = np.asarray(sol.ts)
        s = {name: np.asarray(sol[name]) for name in SERIES_NAMES}
        p = params.physics()
        out = {
            "TCP_final": float(tcp(s["U_total"][-1])), "ICP_final": float(icp(s["I_total"][-1])),
            "ICP_max": float(np.max(icp(s["I_total"]))),
            "U_total_min": float(s["U_total"].min()), "t_of_U_total_min_h": float(t[np.argmin(s["U_total"])]),
            "front_u_final_mm": float(s["front_u"][-1]), "front_i_final_mm": float(s["front_i"][-1]),
            "front_threshold_cells_per_mm2": sol.config.front_threshold,
            "theory_speed_uninfected_mm_per_h": float(fisher_speed(p.D, p.p)),
            "theory_speed_infected_mm_per_h": float(fisher_speed(p.D, max(float(p.beta - p.q), 0.0))),
        }
        moving = (t >= t[0] + 50) & (s["front_u"] < 0.9 * sol.config.L)
        if moving.sum() >= 10:
            out["front_u_speed_mm_per_h"] = front_speed(t[moving], s["front_u"][moving])
        window = (t >= 0) & (t <= 3000)
        if window.sum() >= 2:
            tot = s["U_total"][window] + s["I_total"][window]
            out["tumour_burden_integral_0_3000h"] = float(np.trapezoid(tot, t[window]))
        n_inj = int(sol.n_injections)
        if n_inj:
            out["threshold_injections"] = n_inj
            out["first_threshold_injection_h"] = float(sol.t_first_injection)
            out["mean_time_between_injections_h"] = (
                float((sol.t_last_injection - sol.t_first_injection) / (n_inj - 1)) if n_inj > 1 else None)
        return out

    def plot(self, result, path) -> None:
        import matplotlib.pyplot as plt

        c = result.columns
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        for name, color in (("U_total", "tab:blue"), ("I_total", "tab:red"), ("Z_total", "tab:green")):
            axes[0].plot(c["t"], c[name], color=color, label=name)
        axes[0].set_yscale("symlog", linthresh=1.0)
        axes[0].set_xlabel("t [h]")
        axes[0].set_ylabel("cells")
        axes[0].legend()
        axes[0].set_title(f"{self.name} ({self.figure})", fontsize=9)
        for name, color in (("front_u", "tab:blue"), ("front_i", "tab:red")):
            axes[1].plot(c["t"], c[name], color=color, label=name)
        axes[1].set_xlabel("t [h]")
        axes[1].set_ylabel("front position [mm] (density >= 1/delta^2)")
        axes[1].legend()
        for ax in axes:
            ax.grid(alpha=0.3)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)


def threshold_sweep(thresholds, params: OncolyticParams, config: RadialConfig, *, t_end=3000.0, t0=-500.0,
                    R_u=2.6, R_i=2.6, fraction=0.3):
    """Fig. 12 in one vmapped solve: wide injections whenever U_total reaches each threshold.

    Returns a dict of arrays over `thresholds`: `burden` (time integral of U+I over [0, t_end], cells*h),
    `injections` (number after t = 0), `mean_interval_h` (mean time between consecutive injections), and the
    `U_total`, `I_total` series at `t`.
    """
    thresholds = jnp.asarray(thresholds, dtype=float)

    def one(thr):
        return solve_radial(params, config, t_end, R_u=R_u, R_i=R_i, t0=t0,
                            protocol=Protocol(threshold=thr, fraction=fraction, t_threshold_start=0.0))

    sol = jax.vmap(one)(thresholds)
    t = np.asarray(sol.ts[0])
    U, I = np.asarray(sol["U_total"]), np.asarray(sol["I_total"])
    keep = t >= 0
    n = np.asarray(sol.n_injections)
    interval = np.where(n > 1, (np.asarray(sol.t_last_injection) - np.asarray(sol.t_first_injection))
                        / np.maximum(n - 1, 1), np.nan)
    burden = np.trapezoid(U[:, keep] + I[:, keep], t[keep], axis=1)
    return {"threshold": np.asarray(thresholds), "burden": burden,
            "injections": n, "mean_interval_h": interval, "t": t, "U_total": U, "I_total": I,
            "status": np.asarray(sol.status)}


_REF_CONFIG = RadialConfig(scheme="reference")
_REF_PARAMS = dict(q=9.34e-3, dt=1e-4)

# (name, figure, description, parameter changes, protocol, t_end, reference data)
_ROWS = [
    ("weak-none", "Fig. 4 solid", "weak immune response (zeta = 0.5), no infection", dict(R_i=0.0),
     Protocol(), 1500),
    ("strong-none", "Fig. 4 dashed", "strong immune response (zeta = 5), no infection",
     dict(zeta=5.0, R_i=0.0), Protocol(), 1500),
    ("weak-central", "Fig. 4 dash-dotted", "weak immune response, central infection R_i = 1 mm", {},
     Protocol(), 1500),
    ("weak-wide", "Fig. 5", "weak immune response, wide infection R_i = R_u", dict(R_i=2.6),
     Protocol(), 1500),
    ("strong-central", "Fig. 7", "strong immune response, central infection", dict(zeta=5.0),
     Protocol(), 1500),
    ("strong-wide", "Fig. 8a-b", "strong immune response, wide infection", dict(zeta=5.0, R_i=2.6),
     Protocol(), 1500),
    ("delayed-central", "Fig. 8c-d", "central infection, zeta 0.5 -> 5 at t = 200 h", {},
     Protocol(t_switch=200.0, zeta_factor=10.0), 1500),
    ("high-chemokine-wide", "Fig. 9a", "strong response, wide infection, gamma_phi = alpha_phi",
     dict(zeta=5.0, R_i=2.6, gamma_phi=2.5e-4), Protocol(), 1500),
    ("reinjection-wide", "Fig. 11", "strong response, wide infection, 30% re-infected at t = 900 h",
     dict(zeta=5.0, R_i=2.6), Protocol(t_injections=(900.0,), fraction=0.3), 1500),
]
_REFERENCE_ROWS = {"weak-central", "weak-wide", "strong-central", "strong-wide", "delayed-central",
                   "reinjection-wide"}

for _name, _fig, _desc, _changes, _protocol, _t_end in _ROWS:
    register(RadialPDEScenario(name=f"ov-pde-{_name}", description=f"radial PDE (2.8): {_desc}; the paper's drift "
                               f"(chi/phi*) grad(phi), q = 8.34e-3 (the ABM matches ov-pde-{_name}-reference)",
                               source=f"{_SRC}; {_fig}", params=RadialSetup(**_changes), protocol=_protocol,
                               t_end=float(_t_end), figure=_fig))
    if _name in _REFERENCE_ROWS:
        register(RadialPDEScenario(
            name=f"ov-pde-{_name}-reference",
            description=f"authors' scheme (dt = 1e-4 h, q = 9.34e-3, the code's drift chi grad(phi), as the ov-abm "
                        f"scenarios; float64 only: run with --x64): {_desc}",
            source=f"{_SRC}; {_fig}; helpers/pde_immune_dynamics.m",
            params=RadialSetup(**_changes, **_REF_PARAMS),
            protocol=_protocol, t_end=float(_t_end), base=_REF_CONFIG, figure=_fig, float64_only=True))

register(RadialPDEScenario(
    name="ov-pde-oscillations",
    description="radial PDE (2.8): oscillations at the origin (Fig. 6), chi / 10, L = 20 mm, dr = 0.02 mm; "
    "vary zeta or p with --set", source=f"{_SRC}; Fig. 6",
    params=RadialSetup(chi=1.65e-2, L=20.0, N=1000), t_end=4000.0, figure="Fig. 6"))
register(RadialPDEScenario(
    name="ov-pde-threshold-injections", description="radial PDE (2.8): strong response, wide infection at "
    "t = -500 h, then a wide injection whenever U_total reaches U_threshold (Fig. 12)",
    source=f"{_SRC}; Fig. 12",
    params=RadialSetup(zeta=5.0, R_i=2.6, U_threshold=5e4), t0=-500.0, t_end=3000.0, figure="Fig. 12",
    protocol=Protocol(t_threshold_start=0.0)))
