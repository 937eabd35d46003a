"""One-parameter bifurcation diagrams: every equilibrium branch from the start, cycles from Hopf points."""

import dataclasses
import json
import pathlib

import numpy as np

from ._continuation import Branch, check_parameter, continuation
from ._equilibria import find_equilibria
from ._limit_cycles import CycleBranch, cycles_from_hopf


def _span(x):
    return [float(np.min(x)), float(np.max(x))] if np.size(x) else None


@dataclasses.dataclass(frozen=True)
class Diagram:
    """Equilibrium branches and the limit-cycle branches born at their Hopf points."""

    param_name: str
    state_names: tuple[str, ...]
    p_range: tuple[float, float]
    branches: tuple[Branch, ...]
    cycles: tuple[CycleBranch, ...]

    def summary(self) -> dict:
        """Special points and branch ends, JSON-able."""
        return {
            "parameter": self.param_name, "range": list(self.p_range),
            "branches": [dict(branch=i, **b.as_dict()) for i, b in enumerate(self.branches)],
            "cycles": [{"branch": i, "n_cycles": len(c.cycles), "message": c.message,
                        "param_range": _span(c.params), "period_range": _span(c.periods)}
                       for i, c in enumerate(self.cycles)],
        }

    def write(self, out_dir, figure: bool = True, title: str = "") -> dict[str, pathlib.Path]:
        """`branches.csv` (branch id, parameter, states, stable, n_unstable), `special_points.json`,
        `cycles.csv` (if any cycles) and `bifurcation.png` (one panel per state)."""
        from ..core._scenario import _jsonable, write_csv

        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"branches": out / "branches.csv", "special_points": out / "special_points.json"}
        cols = [dict(branch=np.full(b.params.size, i), **b.columns()) for i, b in enumerate(self.branches)]
        write_csv(paths["branches"], {k: np.concatenate([c[k] for c in cols]) for k in cols[0]})
        paths["special_points"].write_text(json.dumps(_jsonable(self.summary()), indent=2) + "\n")
        cyc = [dict(hopf_branch=np.full(len(c.cycles), i), **c.columns()) for i, c in enumerate(self.cycles)
               if len(c.cycles)]
        if cyc:
            paths["cycles"] = out / "cycles.csv"
            write_csv(paths["cycles"], {k: np.concatenate([c[k] for c in cyc]) for k in cyc[0]})
        if figure:
            import matplotlib.pyplot as plt

            from ._plot_branches import plot_branches

            n = len(self.state_names)
            fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.8), squeeze=False)
            for ax, s in zip(axes[0], self.state_names):
                plot_branches(self.branches, self.cycles, state=s, ax=ax)
            fig.suptitle(title, fontsize=9)
            paths["png"] = out / "bifurcation.png"
            fig.savefig(paths["png"], dpi=120, bbox_inches="tight")
            plt.close(fig)
        return paths


def bifurcation_diagram(model, params, name: str, p_range, *, starts=None, cycles: bool = True,
                        max_steps: int = 2000, max_cycles: int = 60, n_starts: int = 256) -> Diagram:
    """Every branch of equilibria through the equilibria at `p_range[0]`, and the cycles from its Hopf points.

    The starts are the (non-negative, for population models) equilibria that
    [`find_equilibria`][tumorjax.analysis.find_equilibria] finds at `p = p_range[0]`, or the
    given `starts` `(k, n_states)`. A start that lies on a branch already computed (a branch
    that folds back to the start) is skipped. With `cycles`, the limit cycles born at each
    Hopf point are followed by [`cycles_from_hopf`][tumorjax.analysis.cycles_from_hopf] while
    the parameter stays in the range.
    """
    a, b = check_parameter(params, name, p_range)
    if starts is None:
        starts = [e.state for e in find_equilibria(model, params.replace(**{name: a}), n_starts=n_starts)]
        if not starts:
            raise ValueError(f"no equilibrium of {type(model).__name__} found at {name} = {a}")
    scale = np.abs(np.asarray(model.state_scale(params), dtype=float))
    branches = []
    for y in np.atleast_2d(np.asarray(starts, dtype=float)):
        on_known = any(np.any(np.all(np.abs(br.states[np.isclose(br.params, a, rtol=1e-12, atol=0)] - y)
                                     <= 1e-6 * scale, axis=1)) for br in branches)
        if not on_known:
            branches.append(continuation(model, params, name, y, (a, b), max_steps=max_steps))
    cyc = []
    if cycles:
        for br in branches:
            for h in br.special("hopf"):
                cyc.append(cycles_from_hopf(model, params, name, h, (a, b), max_cycles=max_cycles))
    return Diagram(name, tuple(model.state_names), (a, b), tuple(branches), tuple(cyc))
