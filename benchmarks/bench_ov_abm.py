"""Lattice agent-based model of seed 004 (issue 6): speed against the authors' code, and agreement.

Runs M replicates of the weak-immune, central-infection scenario on the paper's 201 x 201
lattice (delta = 0.1 mm, tau = 0.02 h, code parameters q = 9.34e-3) to T hours, in float32
probabilities with int32 counts, and reports

- CPU and wall time per simulated hour per replicate, site-updates per second, replicates of
  1500 h per hour, against the reference README's Octave figure (1.6-1.9 s user CPU per
  simulated hour per replicate, same kind of 2-core machine), and against the dense sampler
  (`LatticeConfig(sampler="dense")`, one binomial per site and rule) run in the same process
  for `--dense-hours`;
- replicate means of U, I, Z totals against the three Octave seeds in
  `../shared/reference/ov/abm/` every 50 h, with z = (ours - theirs) / SE, SE from the
  pooled replicate variance (M + 3 runs), and against the radial PDE (`cport_weak_central`).

`--cores 1` pins the process to one core before JAX starts (Octave's figure is one core; with
both cores XLA's second thread mostly spins, which adds CPU time without saving wall time here).

    .venv/bin/python benchmarks/bench_ov_abm.py --hours 400 --replicates 12 --cores 1
    .venv/bin/python benchmarks/bench_ov_abm.py --hours 400 --replicates 4 --batch 2 --dense-hours 0 --out ...
    .venv/bin/python benchmarks/bench_ov_abm.py --hours 20 --replicates 2 --dense-hours 2   # quick

Writes benchmarks/results/ov_abm.json.
"""

import argparse
import csv
import json
import os
import time
from pathlib import Path

OCTAVE_CPU_PER_HOUR = (1.6, 1.9)  # s user CPU per simulated hour per replicate (reference README)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ov"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=400.0)
    ap.add_argument("--replicates", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sampler", choices=("events", "dense"), default="events")
    ap.add_argument("--dense-hours", type=float, default=10.0,
                    help="hours of one dense-sampler replicate timed as the in-process baseline (0: skip)")
    ap.add_argument("--cores", type=int, default=0, help="pin to this many cores before JAX starts (0: all)")
    ap.add_argument("--batch", type=int, default=1, help="replicates vmapped together (a multiple of it is run)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "ov_abm.json")
    return ap.parse_args(argv)


def read_reference(hours):
    ref = []
    for seed in (1, 2, 3):
        with open(SHARED / "abm" / f"abm_weak_central_seed{seed}_totals.csv") as f:
            rows = list(csv.DictReader(f))
        ref.append({float(r["t_label_h"]): [float(r[k]) for k in ("U_total", "I_total", "Z_total")] for r in rows})
    with open(SHARED / "pde" / "cport_weak_central_totals.csv") as f:
        pde = {float(r["t_h"]): [float(r[k]) for k in ("U_total", "I_total", "Z_total")] for r in csv.DictReader(f)}
    return ref, pde


def cpu_per_replicate_hour(simulate_replicates, params, config, key, hours, replicates, batch=1):
    """(CPU s, wall s, run) of `replicates` runs of `hours`, in chunks of `batch` vmapped replicates,
    so that a first one-chunk call compiles the scan that the timed call reuses."""
    simulate_replicates(params, key, hours, batch, config, chunk_size=batch, batch_size=batch)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run = simulate_replicates(params, key, hours, replicates, config, chunk_size=batch, batch_size=batch)
    return time.process_time() - cpu0, time.perf_counter() - wall0, run


def main(argv=None):
    args = parse_args(argv)
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:args.cores]))
    import jax
    import numpy as np

    from _common import machine_info
    from tumorjax.oncolytic import REFERENCE_CODE, LatticeConfig, simulate_replicates

    config = LatticeConfig(sampler=args.sampler)
    key = jax.random.key(args.seed)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    cpu, wall, run = cpu_per_replicate_hour(simulate_replicates, REFERENCE_CODE, config, key, args.hours,
                                            args.replicates, args.batch)
    compile_and_run_s = time.perf_counter() - t0
    load_after = os.getloadavg()
    steps = args.hours / config.tau + 1
    rep_hours = args.replicates * args.hours
    cpu_per_h = cpu / rep_hours
    result = {
        "hours": args.hours, "replicates": args.replicates, "lattice": config.n_sites, "dtype": config.dtype,
        "sampler": args.sampler, "cores": len(os.sched_getaffinity(0)), "batch": args.batch,
        "compile_warmup_and_run_wall_s": compile_and_run_s, "cpu_s": cpu, "wall_s": wall,
        "cpu_s_per_replicate_hour": cpu_per_h, "wall_s_per_replicate_hour": wall / rep_hours,
        "site_updates_per_s_wall": config.n_sites**2 * steps * args.replicates / wall,
        "replicates_of_1500h_per_hour_wall": 3600 / (wall / rep_hours * 1500),
        "speedup_vs_octave_cpu": [lo / cpu_per_h for lo in OCTAVE_CPU_PER_HOUR],
        "loadavg_before": load_before, "loadavg_after": load_after, "p_max": run.p_max.tolist(),
        "machine": machine_info(),
    }
    print(f"{args.replicates} replicates x {args.hours} h on {config.n_sites}^2 sites ({args.sampler} sampler, "
          f"{result['cores']} core(s), batches of {args.batch}): {cpu:.1f} s CPU, {wall:.1f} s wall "
          f"(load {load_before[0]:.1f} -> {load_after[0]:.1f})")
    print(f"CPU s per simulated hour per replicate: {cpu_per_h:.4f} (Octave {OCTAVE_CPU_PER_HOUR}) -> "
          f"{result['speedup_vs_octave_cpu'][0]:.1f}-{result['speedup_vs_octave_cpu'][1]:.1f}x")
    print(f"site-updates/s (wall): {result['site_updates_per_s_wall']:.3g}; replicates of 1500 h per hour: "
          f"{result['replicates_of_1500h_per_hour_wall']:.3g}")
    if args.dense_hours > 0 and args.sampler != "dense":
        d_cpu, d_wall, _ = cpu_per_replicate_hour(simulate_replicates, REFERENCE_CODE, LatticeConfig(sampler="dense"),
                                                  key, args.dense_hours, 1)
        result["dense_baseline"] = {"hours": args.dense_hours, "cpu_s_per_replicate_hour": d_cpu / args.dense_hours,
                                    "wall_s_per_replicate_hour": d_wall / args.dense_hours,
                                    "events_speedup_cpu": d_cpu / args.dense_hours / cpu_per_h}
        print(f"dense sampler, 1 replicate x {args.dense_hours} h: {d_cpu / args.dense_hours:.3f} CPU s per "
              f"simulated hour -> events sampler {result['dense_baseline']['events_speedup_cpu']:.1f}x faster")
    if SHARED.is_dir():
        ref, pde = read_reference(args.hours)
        rows = []
        for t in np.arange(0.0, args.hours + 1, 50.0):
            j = int(round(t / config.save_every))
            ours = run.totals[:, j, :3].astype(float)
            theirs = np.array([r[t] for r in ref])
            pooled = np.concatenate([ours - ours.mean(0), theirs - theirs.mean(0)])
            sd = np.sqrt((pooled**2).sum(0) / max(len(pooled) - 2, 1))
            se = sd * np.sqrt(1 / len(ours) + 1 / len(theirs))
            z = (ours.mean(0) - theirs.mean(0)) / se
            ref_pde = np.array(pde[t])
            rel_pde = np.where(ref_pde > 0, ours.mean(0) / np.where(ref_pde > 0, ref_pde, 1) - 1, np.nan)
            rows.append({"t": t, "ours": ours.mean(0).tolist(), "reference_mean": theirs.mean(0).tolist(),
                         "z": z.tolist(), "pde": pde[t], "rel_diff_pde": [None if np.isnan(v) else v for v in rel_pde.tolist()]})
            print(f"t={t:5.0f}  U {ours.mean(0)[0]:9.0f} vs {theirs.mean(0)[0]:9.0f} (z {z[0]:+.2f})  "
                  f"I {ours.mean(0)[1]:7.0f} vs {theirs.mean(0)[1]:7.0f} (z {z[1]:+.2f})  "
                  f"Z {ours.mean(0)[2]:7.0f} vs {theirs.mean(0)[2]:7.0f} (z {z[2]:+.2f})  "
                  f"PDE rel {rel_pde[0]:+.3f} {rel_pde[1]:+.3f} {rel_pde[2]:+.3f}")
        result["reference_comparison"] = rows
        result["max_abs_z"] = float(np.nanmax([np.abs(r["z"]) for r in rows[1:]])) if len(rows) > 1 else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
