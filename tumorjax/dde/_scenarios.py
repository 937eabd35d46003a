"""Delay scenarios (`tumorjax run dde-...`) and sweeps over a parameter (`tumorjax sweep`)."""

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from ..analysis import oscillation_metrics
from ..core import DDEModel, Scenario, ScenarioResult, register
from ..core._scenario import _jsonable
from ..numerics import solve_dde
from ._characteristic import delay_equilibrium, delay_jacobians, hopf_closed_form
from ._models import DelayedTumourEffector, Hutchinson


@dataclasses.dataclass(frozen=True, kw_only=True)
class DDEScenario(Scenario):
    """A scenario for a [`tumorjax.DDEModel`][] with a constant history, solved by `solve_dde`.

    Metrics are the oscillation amplitude, period and envelope growth of every state over
    the second half of the horizon.
    """

    model: DDEModel
    history: dict[str, float]
    t_span: tuple[float, float]
    n_save: int = 2001
    steps_per_delay: int = 32
    #: the equilibrium whose delay Hopf point is reported in the metrics (None: not reported)
    equilibrium_guess: dict[str, float] | None = None

    @property
    def model_name(self) -> str:
        return type(self.model).__name__

    def initial_state(self):
        return {"history (t <= 0)": dict(self.history)}

    def _horizon(self, t_end):
        return (self.t_span[0], self.t_span[1] if t_end is None else t_end)

    def _metrics(self, sol, t0, t1):
        t_min = t0 + 0.5 * (t1 - t0)
        out = {}
        for name in self.model.state_names:
            m = oscillation_metrics(sol.ts, sol[name], t_min)
            out.update({f"{k}_{name}": v for k, v in m.items()})
        return out

    def hopf(self, params) -> dict:
        """The equilibrium and the linear delay Hopf point (tau*, omega*, period at onset)."""
        if self.equilibrium_guess is None:
            return {}
        guess = [self.equilibrium_guess[s] for s in self.model.state_names]
        y = delay_equilibrium(self.model, params, jnp.asarray(guess))
        h = hopf_closed_form(*delay_jacobians(self.model, params, y))
        return {"equilibrium": dict(zip(self.model.state_names, np.asarray(y).tolist())),
                "tau_star": float(h.tau), "omega_star": float(h.omega),
                "period_at_onset": float(2 * np.pi / h.omega), "hopf_exists": bool(h.exists)}

    def run(self, params=None, *, t_end=None, dtype=None, progress=False):
        params = self.params if params is None else params
        t0, t1 = self._horizon(t_end)
        start = time.perf_counter()
        sol = solve_dde(self.model, params, self.history, (t0, t1), n_save=self.n_save,
                        steps_per_delay=self.steps_per_delay, dtype=dtype)
        sol.ys.block_until_ready()
        wall = time.perf_counter() - start
        return ScenarioResult(
            scenario=self, params=params, columns=sol.to_columns(), ok=sol.ok, message=sol.message,
            wall_time=wall, metrics=_jsonable({**self.hopf(params), **self._metrics(sol, t0, t1)}),
            extra={"time_units": self.model.time_units, "precision": str(sol.ys.dtype),
                   "steps": int(sol.stats["num_steps"])},
        )

    def sweep(self, name: str, values, *, params=None, t_end=None, dtype=None, batch_size: int = 256):
        """Oscillation metrics against one parameter, in one vmapped (chunked) solve.

        Returns columns `{name, amplitude_<state>, period_<state>, growth_<state>, final_<state>, status}`,
        `status` the [`tumorjax.Status`][] of each solve (0: success).
        """
        params = self.params if params is None else params
        params.replace(**{name: float(np.min(values))})  # checks the name and the range
        params.replace(**{name: float(np.max(values))})
        t0, t1 = self._horizon(t_end)
        values = np.asarray(values, dtype=float)
        tau_min = float(jnp.min(jax.vmap(lambda v: self.model.delays(params.replace(**{name: v})))(values)))
        n_intervals = math.ceil((t1 - t0) / tau_min - 1e-9)

        def one(v):
            sol = solve_dde(self.model, params.replace(**{name: v}), self.history, (t0, t1), n_save=self.n_save,
                            steps_per_delay=self.steps_per_delay, n_intervals=n_intervals, dtype=dtype)
            out = self._metrics(sol, t0, t1)
            out.update({f"final_{s}": sol.final(s) for s in self.model.state_names})
            out["status"] = sol.status
            return out

        out = jax.jit(lambda v: jax.lax.map(one, v, batch_size=batch_size))(jnp.asarray(values))
        return {name: values, **{k: np.asarray(v) for k, v in out.items()}}

    def plot(self, result, path):
        from ..plotting import plot_ode_result

        plot_ode_result(result, path, log=False)


_SRC = "seed 000, Delay-Induced Oscillations"
_hut = Hutchinson()
for _name, _tau, _what in [("damped", 1.2, "r*tau = 1.2 < pi/2: damped"),
                           ("cycle", 2.0, "r*tau = 2.0 > pi/2: a limit cycle of period ~ 4.4 tau")]:
    register(DDEScenario(
        name=f"dde-hutchinson-{_name}", description=f"delayed logistic N' = rN(1 - N(t-tau)/K), {_what}",
        source="Hutchinson 1948; the classical check of seed 000's delay section", model=_hut,
        params=_hut.default_params().replace(r=1.0, tau=_tau), history={"N": 0.5}, t_span=(0.0, 100.0),
        equilibrium_guess={"N": 1.0},
    ))
_te = DelayedTumourEffector()
for _name, _tau, _what in [("damped", 2.0, "tau = 2 < tau* = 2.65 d: damped oscillations to coexistence"),
                           ("cycle", 4.0, "tau = 4 > tau* = 2.65 d: sustained tumour-immune oscillations")]:
    register(DDEScenario(
        name=f"dde-tumour-immune{'' if _name == 'cycle' else '-damped'}",
        description=f"delayed proliferation gamma*T(t-tau)*E, {_what}",
        source=_SRC, model=_te, params=_te.default_params().replace(tau=_tau), history={"T": 0.5, "E": 0.5},
        t_span=(0.0, 600.0), n_save=3001, equilibrium_guess={"T": 0.3, "E": 0.35},
    ))
