"""Bifurcation benchmark (issue 8): seed 004 Fig. 2 by continuation vs a brute-force simulation sweep.

For each panel of Fig. 2 of seed 004 (ODE (3.1), Table-2 parameters, alpha = pi 25 alpha_z; ranges
alpha in [1e-4, 1e-2], zeta in [0.05, 2], beta in [0.3, 0.005]):

- continuation: `bifurcation_diagram` (every equilibrium branch from the start of the range, its
  fold/branch/Hopf points, the limit cycles from each Hopf point by shooting), timed twice in the
  same process: the first call (with compilation) and a second call (compiled).
- brute force at the same resolution: ONE `jax.jit(jax.vmap(tumorjax.simulate))` over the cycles'
  parameter values plus as many evenly spaced values as the coexistence branch has points, from
  the Fig. 3 state (u, i, z) = (0.9K, 0.1K, 0) over --t-sim hours (default 40,000; the reference
  README measures the cycle over 30,000-40,000 h), min and max of u over the last 10,000 h
  (one save per hour). Timed twice like the continuation.
- accuracy: the cycles' min/max of u against the simulation's at the same parameter values,
  away from the Hopf point (|p - p_H| > 5% of the range), where the simulation has reached the
  cycle: the Floquet multiplier of the slowest direction is close to 1 near the Hopf point.

Float64 throughout. CPU (process) times are the meaningful cost on a shared machine; wall times
are printed with the load average.

    .venv/bin/python benchmarks/bench_bifurcation.py                 # about 2-4 CPU minutes
    .venv/bin/python benchmarks/bench_bifurcation.py --t-sim 20000 --max-cycles 30

Writes benchmarks/results/bifurcation.json.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import tumorjax

tumorjax.enable_x64()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from _common import machine_info  # noqa: E402
from tumorjax.analysis import bifurcation_diagram  # noqa: E402
from tumorjax.oncolytic import OncolyticODE, OncolyticODEParams  # noqa: E402

RANGES = {"alpha": (1e-4, 1e-2), "zeta": (0.05, 2.0), "beta": (0.3, 0.005)}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--t-sim", type=float, default=40000.0, help="hours per brute-force simulation")
    ap.add_argument("--max-cycles", type=int, default=60, help="most limit cycles per Hopf branch")
    ap.add_argument("--panels", nargs="+", default=list(RANGES), choices=list(RANGES))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bifurcation.json"))
    return ap.parse_args(argv)


def clock(fn):
    """(process seconds, wall seconds, result)."""
    c, w = time.process_time(), time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.process_time() - c, time.perf_counter() - w, out


def main(argv=None):
    args = parse_args(argv)
    model, p = OncolyticODE(), OncolyticODEParams()
    t_sim = args.t_sim
    n_save = int(t_sim) + 1
    y0 = jnp.array([9000.0, 1000.0, 0.0])

    @jax.jit
    def sweep(name_index, values):
        names = p.names()

        def one(v):
            q = p.replace(**{n: jnp.where(name_index == i, v, getattr(p, n)) for i, n in enumerate(names)})
            sol = tumorjax.simulate(model, q, y0, (0.0, t_sim), n_save=n_save, max_steps=400_000)
            late = sol.ys[-10001:, 0]
            return jnp.min(late), jnp.max(late), sol.status

        return jax.vmap(one)(values)

    results = {"machine": machine_info(), "load_average_before": os.getloadavg(), "t_sim_h": t_sim,
               "precision": "float64", "panels": {}}
    print(f"load average {os.getloadavg()}")
    print(f"{'panel':<6} {'method':<28} {'n':>5} {'CPU 1st':>9} {'CPU 2nd':>9} {'wall 2nd':>9}")
    for name in args.panels:
        rng = RANGES[name]
        run = lambda: bifurcation_diagram(model, p, name, rng, max_cycles=args.max_cycles)  # noqa: B023,E731
        c1, w1, diagram = clock(run)
        c2, w2, diagram = clock(run)
        coexist = max(diagram.branches, key=lambda b: len(b.special("hopf")))
        (hopf,) = coexist.special("hopf")
        cyc = diagram.cycles[0]
        n_branch = sum(b.params.size for b in diagram.branches)
        values = np.concatenate([cyc.params, np.linspace(min(rng), max(rng), coexist.params.size)])
        index = jnp.asarray(p.names().index(name))
        s1, sw1, _ = clock(lambda: sweep(index, jnp.asarray(values)))  # noqa: B023
        s2, sw2, (lo, hi, status) = clock(lambda: sweep(index, jnp.asarray(values)))  # noqa: B023
        lo, hi = np.asarray(lo)[:cyc.params.size], np.asarray(hi)[:cyc.params.size]
        away = np.abs(cyc.params - hopf.param) > 0.05 * abs(rng[1] - rng[0])
        err_min = np.abs(cyc.minimum[:, 0] - lo) / np.abs(lo)
        err_max = np.abs(cyc.maximum[:, 0] - hi) / np.abs(hi)
        n_cont = n_branch + len(cyc.cycles)
        print(f"{name:<6} {'continuation + cycles':<28} {n_cont:>5} {c1:9.2f} {c2:9.2f} {w2:9.2f}")
        print(f"{name:<6} {'vmapped simulate sweep':<28} {values.size:>5} {s1:9.2f} {s2:9.2f} {sw2:9.2f}")
        print(f"       Hopf at {name} = {hopf.param:.10g}; {len(cyc.cycles)} cycles ({cyc.message}); "
              f"brute force / continuation CPU (compiled) = {s2 / c2:.1f}x; "
              f"cycle vs simulation, |p - p_H| > 5%: max rel. diff min(u) {np.max(err_min[away]):.2e}, "
              f"max(u) {np.max(err_max[away]):.2e} ({int(away.sum())} cycles); all statuses ok: "
              f"{bool(np.all(np.asarray(status) == 0))}")
        results["panels"][name] = {
            "range": rng, "hopf": hopf.param, "branch_points": n_branch, "cycles": len(cyc.cycles),
            "cycle_message": cyc.message, "special_points": diagram.summary()["branches"],
            "continuation_cpu_s": [c1, c2], "continuation_wall_s": [w1, w2],
            "sweep_n": int(values.size), "sweep_cpu_s": [s1, s2], "sweep_wall_s": [sw1, sw2],
            "cpu_ratio_compiled": s2 / c2,
            "cycle_vs_sim_max_rel_diff_min_u": float(np.max(err_min[away])),
            "cycle_vs_sim_max_rel_diff_max_u": float(np.max(err_max[away])),
            "cycle_vs_sim_max_rel_diff_near_hopf": float(max(np.max(err_min[~away], initial=0),
                                                             np.max(err_max[~away], initial=0))),
            "n_cycles_compared": int(away.sum()),
        }
    results["load_average_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
