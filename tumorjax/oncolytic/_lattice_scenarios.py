"""The seed-004 lattice (agent-based) scenarios of Table 3, registered as `ov-abm-...`.

`tumorjax run ov-abm-weak-central --replicates 10 --seed 1 --t-end 100` writes
`timeseries.csv` (replicate means and standard errors of the totals, TCP/ICP (4.2), (4.4)
with 95% Wilson intervals), `replicates.csv` (every replicate's totals), `radial.csv`
(replicate-mean radial profiles every `profile_every` hours), `summary.json` and `figure.png`.
"""

import dataclasses
import pathlib
import time
from typing import Any, ClassVar

import jax
import numpy as np

from ..core import Scenario, ScenarioResult, register
from ..core._scenario import write_csv
from ._lattice import LatticeConfig, LatticeProtocol
from ._lattice_replicates import ReplicateRun, simulate_replicates
from ._params import REFERENCE_CODE


@dataclasses.dataclass
class LatticeResult(ScenarioResult):
    """A scenario result that also writes per-replicate totals and radial profiles."""

    replicates: ReplicateRun | None = None

    def write(self, out_dir, figure: bool = True) -> dict[str, pathlib.Path]:
        paths = super().write(out_dir, figure)
        out = pathlib.Path(out_dir)
        run = self.replicates
        m, n_t = run.totals.shape[:2]
        paths["replicates"] = out / "replicates.csv"
        write_csv(paths["replicates"], {
            "replicate": np.repeat(np.arange(m), n_t), "t": np.tile(run.t, m),
            "U_total": run.totals[..., 0].ravel(), "I_total": run.totals[..., 1].ravel(),
            "Z_total": run.totals[..., 2].ravel(), "phi_integral": run.totals[..., 3].ravel()})
        config: LatticeConfig = self.scenario.config
        r = config.delta * np.arange(run.radial.shape[-1])
        n_p = run.radial.shape[1]
        mean = run.radial.mean(axis=0)
        paths["radial"] = out / "radial.csv"
        write_csv(paths["radial"], {"t": np.repeat(run.t_profile, r.size), "r_mm": np.tile(r, n_p),
                                    **{k: mean[:, j].ravel() for j, k in enumerate(("u", "i", "z", "phi"))}})
        return paths


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatticeScenario(Scenario):
    """A lattice-model scenario: parameters, static lattice and protocol, horizon, replicates."""

    run_options: ClassVar[tuple[str, ...]] = ("replicates", "seed")

    config: LatticeConfig = LatticeConfig()
    protocol: LatticeProtocol = LatticeProtocol()
    t_end: float = 1500.0
    replicates: int = 1
    seed: int = 1

    @property
    def model_name(self) -> str:
        return "lattice agent-based model (seed 004, Sec. 2.1)"

    def initial_state(self) -> dict[str, Any]:
        c = self.config
        return {"R_u_mm": c.R_u, "R_i_mm": c.R_i, "U_per_site": "floor(0.9 K delta^2) for |x| < R_u",
                "I_per_site": "floor(0.1 K delta^2) for |x| < R_i", "Z": 0, "phi": 0,
                "lattice": f"{c.n_sites} x {c.n_sites}, delta = {c.delta} mm, tau = {c.tau} h"}

    def run(self, params=None, *, t_end=None, dtype=None, progress=False, replicates=None, seed=None,
            chunk_size=None) -> LatticeResult:
        """`replicates` runs (default: the scenario's) from `jax.random.key(seed)`; `dtype` is unused
        (the lattice computes in `config.dtype`)."""
        params = self.params if params is None else params
        t_end = self.t_end if t_end is None else t_end
        m = self.replicates if replicates is None else replicates
        seed = self.seed if seed is None else seed
        start = time.perf_counter()
        run = simulate_replicates(params, jax.random.key(seed), t_end, m, self.config, self.protocol,
                                  chunk_size=chunk_size, progress=progress)
        wall = time.perf_counter() - start
        ok = bool(np.all(run.p_max <= 1))
        message = "every probability in [0, 1]" if ok else (
            f"a probability reached {run.p_max.max():.4g} > 1: parameters outside the model's range")
        mean, sem = run.mean(), run.sem()
        columns = {"t": run.t, "U_total": mean[:, 0], "I_total": mean[:, 1], "Z_total": mean[:, 2],
                   "phi_integral": mean[:, 3], "U_sem": sem[:, 0], "I_sem": sem[:, 1], "Z_sem": sem[:, 2],
                   "TCP": run.tcp, "TCP_lo": run.tcp_ci[:, 0], "TCP_hi": run.tcp_ci[:, 1],
                   "ICP": run.icp, "ICP_lo": run.icp_ci[:, 0], "ICP_hi": run.icp_ci[:, 1]}
        metrics = {"replicates": m, "seed": seed, "p_max": float(run.p_max.max()),
                   "final_TCP": float(run.tcp[-1]), "final_ICP": float(run.icp[-1]),
                   "seconds_per_replicate_hour": wall / max(m * max(t_end, self.config.save_every), 1e-12)}
        return LatticeResult(scenario=self, params=params, columns=columns, ok=ok, message=message, wall_time=wall,
                             metrics=metrics, extra={"time_units": "h", "precision": self.config.dtype,
                                                     "time_labels": "state after step t/tau + 1 (the code's)",
                                                     "protocol": dataclasses.asdict(self.protocol)},
                             replicates=run)

    def plot(self, result, path) -> None:
        from ..plotting import plot_timeseries

        cols = {k: result.columns[k] for k in ("t", "U_total", "I_total", "Z_total", "TCP", "ICP")}
        plot_timeseries(cols, title=f"{self.name}: {self.description}", path=path, log=False)


_SRC = "seed 004, Sec. 4 and Table 3"
_WEAK, _STRONG = REFERENCE_CODE, REFERENCE_CODE.replace(zeta=5.0)
_SCENARIOS = [
    ("weak-noinf", "weak immune response, no infection (Fig. 4 solid)", _WEAK, 0.0, LatticeProtocol(), "Fig. 4"),
    ("strong-noinf", "strong immune response, no infection (Fig. 4 dashed)", _STRONG, 0.0, LatticeProtocol(),
     "Fig. 4"),
    ("weak-central", "weak immune response, central infection (Fig. 4 dash-dotted; reference data)", _WEAK, 1.0,
     LatticeProtocol(), "Fig. 4"),
    ("weak-wide", "weak immune response, wide infection (Fig. 5)", _WEAK, 2.6, LatticeProtocol(), "Fig. 5"),
    ("strong-central", "strong immune response, central infection (Fig. 7)", _STRONG, 1.0, LatticeProtocol(),
     "Fig. 7"),
    ("strong-wide", "strong immune response, wide infection (Fig. 8a-b)", _STRONG, 2.6, LatticeProtocol(), "Fig. 8"),
    ("central-delayed", "central infection, zeta x10 after 200 h (Fig. 8c-d green)", _WEAK, 1.0,
     LatticeProtocol(enhance_time=200.0, enhance_factor=10.0), "Fig. 8c-d"),
    ("strong-wide-high-chemo", "strong, wide infection, gamma_phi = alpha_phi (Fig. 9a)",
     _STRONG.replace(gamma_phi=2.5e-4), 2.6, LatticeProtocol(), "Fig. 9a"),
    ("strong-wide-reinj900", "strong, wide infection, 30% of tumour cells infected at 900 h (Fig. 11)", _STRONG, 2.6,
     LatticeProtocol(reinject_time=900.0, reinject_fraction=0.3), "Fig. 11"),
]

for _name, _desc, _params, _R_i, _protocol, _fig in _SCENARIOS:
    register(LatticeScenario(name=f"ov-abm-{_name}", source=f"{_SRC}, {_fig}",
                             description=f"lattice ABM, {_desc}; the code's drift chi grad(phi), q = 9.34e-3 "
                             f"(compare with ov-pde-*-reference, not ov-pde-*)",
                             params=_params, config=LatticeConfig(R_i=_R_i), protocol=_protocol))
