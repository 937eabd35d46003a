"""Radial PDE (2.8) of seed 004: the authors' scheme against their Octave/C runs, speed, convergence, 2-D steps/s.

Sections (float64 throughout):

1. `reference`: `scheme="reference"` (dr = 0.01 mm, dt = 1e-4 h, q = 9.34e-3) over 0-100 h against
   `octave_weak_central_0-100h_totals.csv`, and over 0-`--t-ref` h against `cport_weak_central_totals.csv`
   (plus the delayed-enhancement and 900-h re-injection runs if `--all-reference`). CPU time vs the README's
   Octave (2.7 s CPU per simulated hour) and C port (285-295 s CPU per 1500 h).
2. `modes`: the paper-faithful scheme (`scheme="fv"`) to 1500 h, explicit and IMEX, CPU time each.
3. `decomposition`: the fv scheme with the code's q and chi acting as chi/phi* vs `cport_weak_central_zdifffix`
   (same equations as the code except quirk 1), then each quirk switched back, over 0-400 h.
4. `convergence`: totals at 300 h for dr = 0.04, 0.02, 0.01, 0.005 (explicit) and IMEX dt = 0.04 ... 0.0025 h.
5. `fronts`: Appendix-B front speeds by grid (zeta = 0, planar).
6. `pde2d`: steps per second of the 2-D explicit solver on 200 x 200 and 400 x 400 cells.

CPU times are `time.process_time()` of this process (all XLA threads); record `uptime` beside them.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
jax.config.update("jax_enable_x64", True)

from _common import machine_info  # noqa: E402

from tumorjax.oncolytic import (  # noqa: E402
    REFERENCE_CODE, Grid2D, OncolyticParams, Protocol, RadialConfig, solve_2d, solve_radial,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
PDE = ROOT.parent / "shared" / "reference" / "ov" / "pde"
COLS = ("U_total", "I_total", "Z_total")


def _load(name):
    return np.loadtxt(PDE / f"{name}_totals.csv", delimiter=",", skiprows=1)


def _timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    jax.block_until_ready(out.series)
    return out, time.process_time() - c, time.perf_counter() - w


def _rel(ours, ref):
    return float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300)))


def reference(args, out):
    cfg = RadialConfig(scheme="reference", dt=1e-4)
    res = {}
    octave = _load("octave_weak_central_0-100h")
    sol, cpu, wall = _timed(lambda: solve_radial(REFERENCE_CODE, cfg, 100.0))
    s = np.asarray(sol.series)
    res["octave_0_100h"] = {"max_rel_diff_8_columns": _rel(s[:, :8], octave[:, 1:9]),
                            **{f"max_rel_diff_{c}": _rel(s[:, k], octave[:, k + 1]) for k, c in enumerate(COLS)},
                            "cpu_s": cpu, "wall_s": wall, "cpu_s_per_sim_hour": cpu / 100,
                            "octave_cpu_s_per_sim_hour": 2.7, "speedup_vs_octave_cpu": 2.7 / (cpu / 100)}
    print(f"[reference] 0-100 h vs Octave: max rel diff {res['octave_0_100h']['max_rel_diff_8_columns']:.2e}; "
          f"{cpu:.1f} s CPU ({cpu / 100:.3f} s/h, Octave 2.7 s/h)")
    runs = [("cport_weak_central", {}, Protocol())]
    if args.all_reference:
        runs += [("cport_central_delayed_enh200", {}, Protocol(t_switch=200.0, zeta_factor=10.0)),
                 ("cport_strong_wide_reinj900", dict(zeta=5.0), Protocol(t_injections=(900.0,), fraction=0.3))]
    for name, changes, protocol in runs:
        ref = _load(name)
        R_i = 2.6 if "wide" in name else 1.0
        sol, cpu, wall = _timed(lambda: solve_radial(REFERENCE_CODE.replace(**changes), cfg, args.t_ref, R_i=R_i,
                                                     protocol=protocol))
        s = np.asarray(sol.series)
        n = len(s)
        res[name] = {"t_end_h": args.t_ref, "cpu_s": cpu, "wall_s": wall,
                     "cpu_s_per_1500h": cpu * 1500 / args.t_ref, "cport_cpu_s_per_1500h": "285-295",
                     "max_rel_diff_8_columns": _rel(s[:, :8], ref[:n, 1:9]),
                     **{f"max_rel_diff_{c}": _rel(s[:, k], ref[:n, k + 1]) for k, c in enumerate(COLS)}}
        print(f"[reference] {name} 0-{args.t_ref:g} h: max rel diff {res[name]['max_rel_diff_8_columns']:.2e}; "
              f"{cpu:.1f} s CPU ({cpu * 1500 / args.t_ref:.0f} s per 1500 h; C port 285-295 s)")
    out["reference"] = res


def modes(args, out):
    res = {}
    ref = _load("cport_weak_central")
    for mode in ("explicit", "imex"):
        cfg = RadialConfig(mode=mode)
        p = OncolyticParams(q=9.34e-3)
        sol, cpu, wall = _timed(lambda: solve_radial(p, cfg, args.t_modes))
        s = np.asarray(sol.series)
        res[mode] = {"dt_h": sol.dt, "steps": int(round(args.t_modes / sol.dt)), "cpu_s": cpu, "wall_s": wall,
                     "cpu_s_per_1500h": cpu * 1500 / args.t_modes, "status": sol.message,
                     "U_I_Z_at_end": s[-1, :3].tolist(),
                     "max_rel_diff_vs_reference_scheme": {c: _rel(s[:, k], ref[: len(s), k + 1])
                                                          for k, c in enumerate(COLS)}}
        print(f"[modes] fv {mode}: dt = {sol.dt:.4g} h, {cpu:.1f} s CPU to {args.t_modes:g} h ({sol.message})")
    out["modes"] = res


def decomposition(args, out):
    """How far the paper's equations are from the code's: one quirk at a time, 0-400 h, dr = 0.01 mm."""
    T = 400.0
    fixed = _load("cport_weak_central_zdifffix")[: int(T) + 1]
    code = _load("cport_weak_central")[: int(T) + 1]
    chi_code = 0.165 * 5 ** (2 / 3)  # chi/phi* = 0.165 in (2.8) reproduces the code's drift
    cases = {
        "fv, code q, code drift (only splitting/dt differ from zdifffix)": (OncolyticParams(q=9.34e-3, chi=chi_code), fixed),
        "fv, code q, paper drift chi/phi*": (OncolyticParams(q=9.34e-3), fixed),
        "fv, paper q = 8.34e-3, paper drift (the paper's Eq. 2.8)": (OncolyticParams(), fixed),
        "authors' scheme vs its zdifffix variant (quirk 1 alone, data only)": (None, fixed),
    }
    res = {}
    for label, (p, ref) in cases.items():
        if p is None:
            s = code[:, 1:4]
        else:
            sol, cpu, _ = _timed(lambda: solve_radial(p, RadialConfig(), T))
            s = np.asarray(sol.series)[:, :3]
        row = {c: _rel(s[:, k], ref[:, k + 1]) for k, c in enumerate(COLS)}
        row["at_300h"] = {c: float(s[300, k]) for k, c in enumerate(COLS)}
        res[label] = row
        print(f"[decomposition] {label}: max rel diff U {row['U_total']:.2e} I {row['I_total']:.2e} "
              f"Z {row['Z_total']:.2e}")
    out["decomposition"] = res


def convergence(args, out):
    T = args.t_conv
    p = OncolyticParams()
    res = {"t_h": T, "explicit_dr": [], "imex_dt": []}
    for N in (250, 500, 1000, 2000):
        sol, cpu, _ = _timed(lambda: solve_radial(p, RadialConfig(N=N), T))
        res["explicit_dr"].append({"dr_mm": 10 / N, "dt_h": sol.dt, "cpu_s": cpu,
                                   **{c: float(sol[c][-1]) for c in COLS}})
        print(f"[convergence] explicit dr = {10 / N:g}: " + ", ".join(f"{c} {float(sol[c][-1]):.6g}" for c in COLS))
    for dt in (0.04, 0.02, 0.01, 0.005, 0.0025):
        sol, cpu, _ = _timed(lambda: solve_radial(p, RadialConfig(mode="imex", dt=dt), T))
        res["imex_dt"].append({"dr_mm": 0.01, "dt_h": dt, "cpu_s": cpu, **{c: float(sol[c][-1]) for c in COLS}})
        print(f"[convergence] imex dt = {dt:g}: " + ", ".join(f"{c} {float(sol[c][-1]):.6g}" for c in COLS))
    out["convergence"] = res


def fronts(args, out):
    """Appendix B: front speeds without immune cells (zeta = 0, planar), by grid, against 2 sqrt(D p) and
    2 sqrt(D (beta - q)); `front_speed` adds back the pulled-front relaxation terms (and the plain slope)."""
    import jax.numpy as jnp

    from tumorjax.oncolytic import OVState, fisher_speed, front_speed

    p = OncolyticParams(zeta=0.0)
    res = []
    for N, dt in ((200, 0.25), (400, 0.125), (800, 0.0625)):
        cfg = RadialConfig(L=10.0, N=N, geometry="planar", mode="imex", dt=dt, save_every=10.0)
        r, zeros = cfg.r, jnp.zeros(N)
        fu = solve_radial(p, cfg, 1000.0, y0=OVState(jnp.where(r <= 1.0, 9e3, 0.0), zeros, zeros, zeros))
        fi = solve_radial(p, cfg, 500.0, y0=OVState(jnp.full(N, 1e4), jnp.where(r <= 0.5, 1e3, 0.0), zeros, zeros))
        cu, ci = fisher_speed(p.D, p.p), fisher_speed(p.D, p.beta - p.q)
        row = {"dr_mm": cfg.dx, "dt_h": dt,
               "uninfected_rel_err": front_speed(fu.ts, fu["front_u"], 400, 1000, rate=p.p, D=p.D) / cu - 1,
               "uninfected_rel_err_plain_slope": front_speed(fu.ts, fu["front_u"], 400, 1000) / cu - 1,
               "infected_rel_err": front_speed(fi.ts, fi["front_i"], 200, 500, rate=p.beta - p.q, D=p.D) / ci - 1,
               "infected_rel_err_plain_slope": front_speed(fi.ts, fi["front_i"], 200, 500) / ci - 1}
        res.append(row)
        print(f"[fronts] dr = {cfg.dx:g}: uninfected {row['uninfected_rel_err']:+.2%} (plain "
              f"{row['uninfected_rel_err_plain_slope']:+.2%}), infected {row['infected_rel_err']:+.2%} (plain "
              f"{row['infected_rel_err_plain_slope']:+.2%})")
    out["fronts"] = res


def pde2d(args, out):
    res = {}
    p = OncolyticParams()
    for N in (200, 400):
        grid = Grid2D(N=N)
        solve_2d(p, grid, 1.0)  # compile
        c, w = time.process_time(), time.perf_counter()
        sol = solve_2d(p, grid, args.t_2d)
        jax.block_until_ready(sol.series)
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        steps = int(round(args.t_2d / sol.dt))
        res[f"{N}x{N}"] = {"dt_h": sol.dt, "steps": steps, "wall_s": wall, "cpu_s": cpu,
                           "steps_per_s_wall": steps / wall, "cell_updates_per_s": steps * N * N / wall}
        print(f"[2d] {N}x{N}: dt = {sol.dt:.4g} h, {steps / wall:.0f} steps/s (wall), {steps * N * N / wall:.3g} "
              "cell-steps/s")
    out["pde2d"] = res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default="reference,modes,decomposition,convergence,fronts,pde2d")
    ap.add_argument("--t-ref", type=float, default=1500.0, help="horizon of the cport comparison (h)")
    ap.add_argument("--all-reference", action="store_true", help="also the delayed and re-injection runs")
    ap.add_argument("--t-modes", type=float, default=1500.0)
    ap.add_argument("--t-conv", type=float, default=300.0)
    ap.add_argument("--t-2d", type=float, default=10.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ov_radial_pde.json"))
    args = ap.parse_args()
    out = {"machine": machine_info(), "load_average_start": os.getloadavg(), "precision": "float64",
           "args": vars(args)}
    for name in args.sections.split(","):
        globals()[name](args, out)
        out[f"load_average_after_{name}"] = os.getloadavg()
        path = pathlib.Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
