"""CAR-T 3D model (issue 3): reference-scheme cost per node-step against the author's C++ figure, and the
accurate scheme's time to an accurate answer against the reference scheme's (float64, CPU).

1. Reference scheme on the default 40^3 grid: CPU time (`time.process_time`, all threads) per node-step
   over `--steps` steps after a warm-up, against the C++ solver's single-thread 1.68-1.95 us per
   node-step (../shared/reference/cart/README.md, same kind of 2-core VM). With `--full` the whole
   default run (3000 steps) is also compared with `default_timeseries.csv`.
2. Homogeneous case (C = 1e7, T_A = 2.4e7, T = 30) against the Radau solution `homog_ode_radau.csv`:
   the accurate scheme's time and error, the reference scheme's error at dt = 0.01 and its time to be
   stable at all (dt <= 4.07e-7, extrapolated from its measured cost per step).

Writes benchmarks/results/cart_3d.json with machine info and the load average.
"""

import argparse
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
    FIELDS, REFERENCE_CODE, CARTInitial, CARTNumerics, CARTSetup, initial_fields, reference_stability, simulate_cart,
    step_reference,
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


def convergence() -> dict:
    """Observed orders in dt of the accurate scheme (5^3 grid, smooth data, normalised set, T = 0.4,
    max error per field against dt = 0.0125), and in dx (7^3, 13^3, 25^3 at common nodes, T = 0.3)."""
    from tumorjax.cart import NORMALISED, NORMALISED_INITIAL

    init = NORMALISED_INITIAL.replace(edge_width=0.15, cart_layer=0.2)

    def run(n, dt, T):
        num = CARTNumerics(nx=n, ny=n, nz=n, T=T, dt=dt, rtol=1e-10, atol=1e-10, save_every=10**6)
        return simulate_cart(CARTSetup(model=NORMALISED, initial=init, numerics=num), scheme="accurate").final

    ref = run(5, 0.0125, 0.4)
    err = np.array([np.abs(run(5, dt, 0.4) - ref).reshape(7, -1).max(1) for dt in (0.2, 0.1, 0.05)])
    out = {"dt": [0.2, 0.1, 0.05], "dt_errors": err.tolist(),
           "dt_orders": dict(zip(FIELDS, np.log2(err[-2] / err[-1]).tolist()))}
    u = {n: run(n, 0.01, 0.3) for n in (7, 13, 25)}
    e1 = np.abs(u[7] - u[13][:, ::2, ::2, ::2]).max()
    e2 = np.abs(u[13] - u[25][:, ::2, ::2, ::2]).max()
    out["dx_order_max_norm"] = float(np.log2(e1 / e2))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100, help="timed reference steps on 40^3 (default 100)")
    ap.add_argument("--full", action="store_true", help="also the whole default run vs default_timeseries.csv")
    ap.add_argument("--convergence", action="store_true", help="also the accurate scheme's orders in dt and dx")
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
        res["convergence"] = cv = convergence()
        print("accurate scheme, orders in dt:", {k: round(v, 2) for k, v in cv["dt_orders"].items()},
              f"in dx (max norm): {cv['dx_order_max_norm']:.2f}")
    res["load_average_end"] = os.getloadavg()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(f"wrote {args.out}; load average {load0} -> {res['load_average_end']}")


if __name__ == "__main__":
    main()
