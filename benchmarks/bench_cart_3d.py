"""CAR-T 3D model (issue 3): reference-scheme cost per node-step against the author's C++ figure, and the
accurate scheme's time to an accurate answer against the reference scheme's (float64, CPU).

1. Reference scheme on the default 40^3 grid: CPU time (`time.process_time`, all threads) per node-step
   over `--steps` steps after a warm-up, against the C++ solver's single-thread 1.68-1.95 us per
   node-step (../shared/reference/cart/README.md, same kind of 2-core VM). With `--full` the whole
   default run (3000 steps) is also compared with `default_timeseries.csv`.
2. Homogeneous case (C = 1e7, T_A = 2.4e7, T = 30) against the Radau solution `homog_ode_radau.csv`:
   the accurate scheme's time and error, the reference scheme's error at dt = 0.01 and its time to be
   stable at all (dt <= 4.07e-7, extrapolated from its measured cost per step).
3. With `--convergence` (`--fine` adds 65^3): the accurate scheme's observed orders in dt and in dx on
   smooth data (`convergence`).
4. With `--compare-default CSV [CSV]`: the reference's error on the default run against an accurate
   solve written by the CLI (`default_error`).
5. With `--n1`: every 3D run of the normalised set N1 that the author's solver made (`h2_N1_3d_*.csv`)
   recomputed by the reference scheme to its end (`n1_runs`).

Writes benchmarks/results/cart_3d.json with machine info and the load average.
"""

import argparse
import csv
import json
import os
import pathlib
import resource
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from _common import machine_info  # noqa: E402
from tumorjax.cart import (  # noqa: E402
    FIELDS, REFERENCE_CODE, CARTInitial, CARTNumerics, CARTSetup, initial_fields, reference_run_setup,
    reference_stability, simulate_cart, step_reference,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
REF = ROOT.parent / "shared" / "reference" / "cart"
CPP_US = (1.68, 1.95)  # C++ CPU us per node-step, 1 thread, no I/O and with I/O


def _cpu_timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.process_time() - c, time.perf_counter() - w, out


def reference_cost(steps: int) -> dict:
    num = CARTNumerics()
    step = jax.jit(lambda U: step_reference(U, REFERENCE_CODE, num)[0])
    U = step(initial_fields(CARTInitial(), num)).block_until_ready()  # compile + 1 step

    def many():
        V = U
        for _ in range(steps):
            V = step(V)
        return V

    cpu, wall, _ = _cpu_timed(many)
    n = steps * 40**3
    return {"grid": "40^3", "steps": steps, "cpu_s": cpu, "wall_s": wall, "cpu_us_per_node_step": 1e6 * cpu / n,
            "wall_us_per_node_step": 1e6 * wall / n, "cpp_cpu_us_per_node_step": CPP_US,
            "speedup_vs_cpp_cpu": [c / (1e6 * cpu / n) for c in CPP_US],
            "state_bytes": 7 * 40**3 * 8, "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def full_default() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cpu, wall, sol = _cpu_timed(lambda: simulate_cart(CARTSetup(model=REFERENCE_CODE), scheme="reference"))
    rows = np.loadtxt(REF / "default_timeseries.csv", delimiter=",", skiprows=1)
    cols = sol.to_columns()
    err = {f: float(np.max(np.abs(cols[f"mean_{f}"] - rows[:, 2 + i]) / np.maximum(np.abs(rows[:, 2 + i]), 1e-300)))
           for i, f in enumerate(FIELDS)}
    return {"cpu_s": cpu, "wall_s": wall, "cpu_us_per_node_step": 1e6 * cpu / (3000 * 40**3),
            "max_rel_diff_of_means_vs_default_timeseries": err}


def homogeneous(rtol: float) -> dict:
    ref = np.loadtxt(REF / "homog_ode_radau.csv", delimiter=",", skiprows=1)
    i30 = int(np.argmin(np.abs(ref[:, 0] - 30.0)))
    N_ref = ref[i30, 3] + ref[i30, 4]
    init = CARTInitial(tumor_radius=10, cart_layer=10, cart_radius=10)
    out = {"radau_total_tumour_t30": N_ref}
    for scheme, num in (("accurate", CARTNumerics(nx=3, ny=3, nz=3, dt=0.5, T=30.0, rtol=rtol, atol=rtol * 1e-3,
                                                  save_every=60)),
                        ("reference", CARTNumerics(nx=3, ny=3, nz=3, dt=0.01, T=30.0, save_every=3000))):
        setup = CARTSetup(model=REFERENCE_CODE, initial=init, numerics=num)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            simulate_cart(setup.replace(T=num.dt), scheme=scheme)  # compile
            cpu, wall, sol = _cpu_timed(lambda: simulate_cart(setup, scheme=scheme))  # noqa: B023
        N = float(sol.mean[-1, 2] + sol.mean[-1, 3])  # the node value: all nodes are equal
        out[scheme] = {"dt": num.dt, "cpu_s": cpu, "wall_s": wall, "total_tumour_t30": N,
                       "rel_error_total_tumour_t30": abs(N - N_ref) / N_ref}
    per_step = out["reference"]["cpu_s"] / 3000
    dt_stable = reference_stability(REFERENCE_CODE, init, CARTNumerics())["dt_max"]
    out["reference"]["dt_stable"] = dt_stable
    out["reference"]["cpu_s_extrapolated_at_stable_dt"] = per_step * 30.0 / dt_stable
    out["time_to_accuracy_ratio"] = out["reference"]["cpu_s_extrapolated_at_stable_dt"] / out["accurate"]["cpu_s"]
    return out


def convergence(fine: bool = False) -> dict:
    """Observed orders of the accurate scheme on smooth data (normalised set, smoothstep edges): in dt
    (5^3 grid, edge half-width 0.15, T = 0.4, max error per field: dt 0.2-0.05 against 0.0125, and
    0.025-0.00625 against 0.0015625, below the stiff regime of A and H) and in dx (9^3,
    17^3, 33^3 and, with `fine`, 65^3; half-width 0.25; dt = 0.02, T = 0.32; differences at the common
    nodes in the max, L1 and L2 norms)."""
    from tumorjax.cart import NORMALISED, NORMALISED_INITIAL
    from tumorjax.numerics import node_weights

    def run(n, dt, T, edge, rtol=1e-10, atol=1e-10):
        init = NORMALISED_INITIAL.replace(edge_width=edge, cart_layer=0.2)
        num = CARTNumerics(nx=n, ny=n, nz=n, T=T, dt=dt, rtol=rtol, atol=atol, save_every=10**6)
        return simulate_cart(CARTSetup(model=NORMALISED, initial=init, numerics=num), scheme="accurate").final

    ref = run(5, 0.0125, 0.4, 0.15)
    err = np.array([np.abs(run(5, dt, 0.4, 0.15) - ref).reshape(7, -1).max(1) for dt in (0.2, 0.1, 0.05)])
    out = {"dt": [0.2, 0.1, 0.05], "dt_errors": err.tolist(),
           "dt_orders": dict(zip(FIELDS, np.log2(err[-2] / err[-1]).tolist()))}
    # below the stiff regime of A and H (dt D_H/dx^2 < 1 on 5^3)
    ref = run(5, 0.0015625, 0.4, 0.15, 1e-11, 1e-11)
    err = np.array([np.abs(run(5, dt, 0.4, 0.15, 1e-11, 1e-11) - ref).reshape(7, -1).max(1)
                    for dt in (0.025, 0.0125, 0.00625)])
    out.update({"dt_small": [0.025, 0.0125, 0.00625], "dt_small_errors": err.tolist(),
                "dt_small_orders": dict(zip(FIELDS, np.log2(err[-2] / err[-1]).tolist()))})
    ns = (9, 17, 33, 65) if fine else (9, 17, 33)
    u = {n: run(n, 0.02, 0.32, 0.25, 1e-7, 1e-10) for n in ns}
    diffs = {}
    for a, b in zip(ns[:-1], ns[1:]):
        d = (u[a] - u[b][:, ::2, ::2, ::2]).reshape(7, -1)
        w = np.asarray(node_weights(u[a].shape[1:], "vertex")).ravel() / (a - 1) ** 3
        diffs[f"{a}-{b}"] = {"max": np.abs(d).max(1), "L1": (w * np.abs(d)).sum(1),
                             "L2": np.sqrt((w * d**2).sum(1))}
    keys = list(diffs)
    out["dx_grids"] = list(ns)
    out["dx_differences"] = {k: {nm: v.tolist() for nm, v in d.items()} for k, d in diffs.items()}
    out["dx_orders"] = {f"{k1} / {k2}": {nm: dict(zip(FIELDS, np.log2(diffs[k1][nm] / diffs[k2][nm]).tolist()))
                                         for nm in ("max", "L1", "L2")}
                        for k1, k2 in zip(keys[:-1], keys[1:])}
    return out


def _read_csv(path, **match) -> dict:
    """Numeric columns of a CSV as arrays, keeping the rows whose text columns equal `match`."""
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if all(r[k] == v for k, v in match.items())]
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k not in match}


def n1_runs() -> dict:
    """Every 3D run of the normalised set N1 (`h2_N1_3d_*.csv`, the author's solver) recomputed by the
    reference scheme to its end: largest relative difference of the means and maxima (per column,
    relative to the column's largest value) and the CPU time per node-step against the C++ run's
    (compilation included in the first run of each grid)."""
    runs = json.loads((REF / "h2_params.json").read_text())["runs"]
    scenario = {"base_20": "baseline", "enh_20": "enhanced", "combo_20": "combination",
                "base_20_iters2000": "baseline_diff_iters2000"}
    out = {}
    for name, run in runs.items():
        if name.startswith("N1_32"):
            csv_name, match = "h2_N1_3d_32_TBzero_40.csv", {}
        elif name.startswith("N1_33"):
            sw, frac = name[len("N1_33_"):].split("_tb")
            csv_name, match = "h2_N1_3d_33_20.csv", {"switching": sw, "tb_frac": frac}
        elif name.startswith("N1_34"):
            csv_name, match = "h2_N1_3d_34_20.csv", {"scenario": scenario[name[len("N1_34_"):]]}
        else:
            continue
        setup = reference_run_setup(name, run)
        cpu, _, sol = _cpu_timed(lambda: simulate_cart(setup, scheme="reference"))  # noqa: B023
        table = _read_csv(REF / csv_name, **match)
        cols = [f"{s}_{f}" for s in ("mean", "max") for f in FIELDS]
        ref = np.stack([table[c] for c in cols], 1)
        got = np.stack([sol.to_columns()[c] for c in cols], 1)
        assert got.shape == ref.shape and np.allclose(sol.ts, table["t"]), name
        scale = np.abs(ref).max(0)
        err = np.abs(got - ref).max(0) / np.where(scale > 0, scale, 1.0)
        node_steps = setup.numerics.n_steps * int(np.prod(setup.numerics.shape))
        out[name] = {"max_rel_diff": float(err.max()), "worst_column": cols[int(err.argmax())],
                     "cpu_s": cpu, "cpu_us_per_node_step": 1e6 * cpu / node_steps,
                     "cpp_user_us_per_node_step": run["user_cpu_per_node_step_us"]}
        print(f"  {name}: max rel diff {err.max():.1e} ({cols[int(err.argmax())]}), "
              f"{out[name]['cpu_us_per_node_step']:.2f} us/node-step (C++ {run['user_cpu_per_node_step_us']:.2f})")
    return out


def default_error(path: str, check: str | None = None) -> dict:
    """The reference's error on the default run: `default_timeseries.csv` against an accurate solve of the
    same run written by `tumorjax run cart-reference-default --scheme accurate ...` (its timeseries.csv);
    `check`, a second accurate solve (tighter settings), gives the accurate solution's own uncertainty."""
    ref, acc = _read_csv(REF / "default_timeseries.csv"), _read_csv(path)
    other = _read_csv(check) if check else None
    out = {}
    for t in (1.0, 3.0, 10.0, 20.0, 30.0):
        i, j = int(np.argmin(abs(ref["t"] - t))), int(np.argmin(abs(acc["t"] - t)))
        row = {f: ref[f"mean_{f}"][i] / acc[f"mean_{f}"][j] - 1 for f in FIELDS}
        row["burden"] = ((ref["mean_TA"][i] + ref["mean_TB"][i]) / (acc["mean_TA"][j] + acc["mean_TB"][j]) - 1)
        if other is not None:
            k = int(np.argmin(abs(other["t"] - t)))
            row["check_max_abs_rel"] = max(abs(other[f"mean_{f}"][k] / acc[f"mean_{f}"][j] - 1) for f in FIELDS)
            row["check_max_abs_rel_without_C"] = max(abs(other[f"mean_{f}"][k] / acc[f"mean_{f}"][j] - 1)
                                                     for f in FIELDS if f != "C")
        out[t] = row
        print(f"  t = {t:>4}: " + ", ".join(f"{k} {v:+.3g}" for k, v in row.items()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100, help="timed reference steps on 40^3 (default 100)")
    ap.add_argument("--full", action="store_true", help="also the whole default run vs default_timeseries.csv")
    ap.add_argument("--convergence", action="store_true", help="also the accurate scheme's orders in dt and dx")
    ap.add_argument("--fine", action="store_true", help="with --convergence, add the 65^3 grid (about 20 CPU-min)")
    ap.add_argument("--compare-default", nargs="+", metavar="CSV",
                    help="timeseries.csv of an accurate default run (and optionally of a tighter one): "
                         "the reference's error on the default run")
    ap.add_argument("--n1", action="store_true", help="also every N1 run of the author's solver (h2_ files) to its end")
    ap.add_argument("--rtol", type=float, default=1e-6, help="accurate scheme tolerance (homogeneous case)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cart_3d.json"))
    args = ap.parse_args()
    load0 = os.getloadavg()
    res = {"machine": machine_info(), "precision": "float64", "load_average_start": load0}
    res["reference_40"] = reference_cost(args.steps)
    r = res["reference_40"]
    print(f"reference scheme 40^3: {r['cpu_us_per_node_step']:.3f} us CPU per node-step "
          f"({r['wall_us_per_node_step']:.3f} us wall); C++ {CPP_US[0]}-{CPP_US[1]} us -> "
          f"{r['speedup_vs_cpp_cpu'][0]:.2f}-{r['speedup_vs_cpp_cpu'][1]:.2f}x")
    if args.full:
        res["default_full"] = full_default()
        print("default run: means vs default_timeseries.csv, max rel diff:",
              {k: f"{v:.1e}" for k, v in res["default_full"]["max_rel_diff_of_means_vs_default_timeseries"].items()})
    res["homogeneous"] = h = homogeneous(args.rtol)
    print(f"homogeneous T=30: accurate {h['accurate']['cpu_s']:.2f} s CPU, error {h['accurate']['rel_error_total_tumour_t30']:.1e}; "
          f"reference dt=0.01 error {h['reference']['rel_error_total_tumour_t30']:.2f}, stable only at dt <= "
          f"{h['reference']['dt_stable']:.2e}: {h['reference']['cpu_s_extrapolated_at_stable_dt']:.0f} s CPU "
          f"(extrapolated) -> ratio {h['time_to_accuracy_ratio']:.0f}x")
    if args.convergence:
        res["convergence"] = cv = convergence(args.fine)
        print("accurate scheme, orders in dt:", {k: round(v, 2) for k, v in cv["dt_orders"].items()},
              "at smaller steps:", {k: round(v, 2) for k, v in cv["dt_small_orders"].items()})
        for pair, norms in cv["dx_orders"].items():
            for norm, orders in norms.items():
                print(f"  orders in dx, {pair}, {norm}:", {k: round(v, 2) for k, v in orders.items()})
    if args.compare_default:
        print("reference / accurate - 1, domain means, default run:")
        res["default_error"] = default_error(*args.compare_default)
    if args.n1:
        print("N1 runs (reference scheme vs the author's solver, whole runs):")
        res["n1_runs"] = n1_runs()
    res["load_average_end"] = os.getloadavg()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(f"wrote {args.out}; load average {load0} -> {res['load_average_end']}")


if __name__ == "__main__":
    main()
