"""Therapy-schedule optimisation benchmark (issue 9, part 3): gradient optimiser vs grid search.

For each worked problem, the same schedule family is searched twice, in the same process:

(a) `te-infusion` (seed 000, Michaelis-Menten killing, u_min = 1.9e5 cells/day): the cheapest
    infusion with `--infusion-intervals` piecewise-constant rates in [0, 3 u_min] over 60 days that
    brings a 1e5-cell tumour back to 1e5 cells; grid: `--infusion-levels` + 1 rates per interval.
    Also the constant references: u_min * H (which does not control this tumour) and the cheapest
    constant rate that does (bisection).
(b) `cart-doses` (seed 003 homogeneous CAR-T model, NORMALISED): a dose of 0.1 K_T split into
    `--cart-doses` boluses at least 1 day apart in [0, 30] days, minimising T_A + T_B at day 30;
    grid: every split of the dose into `--cart-levels` units x every choice of times from
    `--cart-times` equally spaced points.
(c) `ov-injections` (seed 004 radial PDE (2.8), Fig. 12 set-up: zeta = 5, wide infection at -500 h;
    IMEX, N = 50 cells on 10 mm, dt = 0.25 h): the times of `--ov-injections` wide re-injections
    (30 % of u infected each) in [0, 3000] h minimising the integral of U + I; grid: every choice of
    times from `--ov-times` equally spaced points. Also the Fig. 12 threshold rule (41 thresholds,
    1e4-1e6 cells; the best one with the same number of injections, hence the same total infected
    fraction) and the optimiser started from that rule's injection times.

The optimiser is projected Adam (cosine-decayed step) from vmapped starts. Reported: simulations
used (one per objective or objective-and-gradient evaluation, one per grid point), wall and
process-CPU time of the first call (compilation included) and of a second call for the
optimiser, best objective values and their ratio. Float64.

    .venv/bin/python benchmarks/bench_therapy.py [--quick]

Writes benchmarks/results/therapy.json.
"""

import argparse
import os
import time
from pathlib import Path


import tumorjax as tj

tj.enable_x64()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from _common import record, write_json  # noqa: E402
from tumorjax import therapy as th  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, *args, **kwargs):
    """(wall s, CPU s, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return time.perf_counter() - wall, time.process_time() - cpu, out


def compare(name, problem, grid_kwargs, opt_kwargs):
    print(f"{name}:", flush=True)
    g_wall, g_cpu, grid = timed(th.grid_search, problem, **grid_kwargs)
    print(f"  grid search  {grid.n_simulations:6d} simulations  objective {grid.value:.6g}  "
          f"{g_wall:7.1f} s wall  {g_cpu:7.1f} s CPU", flush=True)
    o_wall, o_cpu, opt = timed(th.optimize_schedule, problem, **opt_kwargs)
    w_wall, w_cpu, _ = timed(th.optimize_schedule, problem, **opt_kwargs)
    print(f"  optimiser    {opt.n_simulations:6d} simulations  objective {opt.value:.6g}  "
          f"{o_wall:7.1f} s wall  {o_cpu:7.1f} s CPU (second call {w_wall:.1f} s wall, {w_cpu:.1f} s CPU)")
    print(f"  simulations grid/optimiser {grid.n_simulations / opt.n_simulations:.1f}x; optimiser better by "
          f"{grid.value - opt.value:.3g} ({'BEATS' if opt.value < grid.value else 'DOES NOT BEAT'} the grid)")
    return {"grid": {**grid.as_dict(), "wall_s": g_wall, "cpu_s": g_cpu},
            "optimiser": {**opt.as_dict(), "wall_s": o_wall, "cpu_s": o_cpu, "second_call_wall_s": w_wall,
                          "second_call_cpu_s": w_cpu},
            "simulations_ratio_grid_over_optimiser": grid.n_simulations / opt.n_simulations,
            "objective_grid_minus_optimiser": grid.value - opt.value,
            "optimiser_beats_grid": bool(opt.value < grid.value),
            "cpu_ratio_grid_over_optimiser_first_call": g_cpu / o_cpu}


def ov_section(k, n_times, coarse_times=7, fine_times=25):
    """(c): grid and optimiser (compare), the Fig. 12 threshold rule, the optimiser refining the rule or a
    grid point, and a coarse grid refined by the optimiser against a fine grid."""
    pc = th.oncolytic_injections(n_doses=k)
    res = compare(f"(c) ov-injections, {k} re-injections", pc, {"n_times": n_times, "n_levels": k},
                  {"steps": 25, "starts": 4, "learning_rate": 0.005})
    wall, cpu, rule = timed(th.threshold_rule, pc)
    best = rule["best_same_count"]
    res["threshold_rule"] = {"sweep": {key: np.asarray(rule[key]).tolist() for key in ("threshold", "burden", "auc", "injections",
                                                                  "mean_interval_h")},
                             "best_same_count": best, "wall_s": wall, "cpu_s": cpu, "n_simulations": 41}
    if best is None:
        print(f"  threshold rule: no threshold gives {k} injections")
        return res
    schedule = th.threshold_schedule(pc, best["threshold"])
    print(f"  threshold rule (Fig. 12) U_thr = {best['threshold']:.4g}: {best['injections']} injections at "
          f"{[round(float(t), 2) for t in schedule.times]} h, objective {best['auc']:.6g} "
          f"(41 thresholds, {wall:.1f} s wall)")
    res["threshold_rule"]["times_h"] = np.asarray(schedule.times).tolist()
    free = th.oncolytic_injections(n_doses=k, total=0.3 * k)  # the same total fraction, split freely (<= 0.9)
    grid_best = th.BolusSchedule(res["grid"]["schedule"]["times"], res["grid"]["schedule"]["doses"], "i")
    for key, label, problem, start in (("refined_from_rule", "the rule's times", pc, schedule),
                                       ("refined_from_grid", "the grid's best", pc, grid_best),
                                       ("refined_from_rule_free_fractions", "the rule, fractions free", free,
                                        schedule)):
        wall, cpu, refined = timed(th.optimize_schedule, problem, steps=25, starts=1, learning_rate=0.002,
                                   init=[start])
        print(f"  optimiser from {label}  {refined.n_simulations} simulations  objective {refined.value:.6g}  "
              f"times {[round(float(t), 1) for t in refined.schedule.times]} h  fractions "
              f"{[round(float(f), 3) for f in refined.schedule.amounts]}  {wall:.1f} s wall")
        res[key] = {**refined.as_dict(), "wall_s": wall, "cpu_s": cpu}
    # The objective is rugged in the times: a coarse grid finds the basin, the gradient refines it.
    # Against a fine grid of the same family, with 38x fewer simulations.
    wall, cpu, coarse = timed(th.grid_search, pc, n_times=coarse_times, n_levels=k)
    w2, c2, hybrid = timed(th.optimize_schedule, pc, steps=25, starts=1, learning_rate=0.002, init=[coarse.schedule])
    wf, cf, fine = timed(th.grid_search, pc, n_times=fine_times, n_levels=k)
    n_hybrid = coarse.n_simulations + hybrid.n_simulations
    print(f"  coarse grid ({coarse_times} times) {coarse.n_simulations} simulations, objective {coarse.value:.6g}, "
          f"then the optimiser {hybrid.n_simulations}: {n_hybrid} simulations, objective {hybrid.value:.6g}, times "
          f"{[round(float(t), 1) for t in hybrid.schedule.times]} h, {wall + w2:.1f} s wall")
    print(f"  fine grid ({fine_times} times) {fine.n_simulations} simulations, objective {fine.value:.6g}, {wf:.1f} s "
          f"wall: coarse grid + optimiser {'BEATS' if hybrid.value < fine.value else 'DOES NOT BEAT'} it with "
          f"{fine.n_simulations / n_hybrid:.0f}x fewer simulations")
    res["coarse_grid_then_optimiser"] = {"coarse_grid": {**coarse.as_dict(), "wall_s": wall, "cpu_s": cpu},
                                         "refined": {**hybrid.as_dict(), "wall_s": w2, "cpu_s": c2},
                                         "n_simulations": n_hybrid}
    res["fine_grid"] = {**fine.as_dict(), "wall_s": wf, "cpu_s": cf}
    res["coarse_grid_then_optimiser_beats_fine_grid"] = bool(hybrid.value < fine.value)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--infusion-intervals", type=int, default=6)
    ap.add_argument("--infusion-levels", type=int, default=3, help="grid: levels + 1 rates per interval")
    ap.add_argument("--cart-doses", type=int, default=3)
    ap.add_argument("--cart-levels", type=int, default=4, help="grid: units the dose is split into")
    ap.add_argument("--cart-times", type=int, default=10, help="grid: candidate dose times")
    ap.add_argument("--ov-injections", type=int, default=3)
    ap.add_argument("--ov-times", type=int, default=12, help="grid: candidate injection times")
    ap.add_argument("--quick", action="store_true", help="4 intervals / 2 doses and smaller grids (about 2 min)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "therapy.json")
    a = ap.parse_args(argv)
    if a.quick:
        a.infusion_intervals, a.infusion_levels, a.cart_doses, a.cart_levels, a.cart_times = 4, 4, 2, 4, 10
    load = os.getloadavg()
    print(f"therapy benchmark, float64, {jax.devices()[0]}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    pa = th.infusion_control(n_doses=a.infusion_intervals)
    a_res = compare(f"(a) te-infusion, {a.infusion_intervals} intervals", pa, {"n_levels": a.infusion_levels},
                    {"steps": 60, "starts": 8, "learning_rate": 0.1})
    base = th.constant_infusion_baseline(pa)
    a_res["constant_dose_baseline"] = base
    # the grid's best schedule that meets the target: the same grid under a prohibitive penalty
    strict = th.grid_search(th.infusion_control(n_doses=a.infusion_intervals, target_weight=1e3),
                            n_levels=a.infusion_levels)
    a_res["grid_best_meeting_target"] = {"total_dose_over_u_min_H": float(strict.schedule.total) / base["u_min_total"],
                                         "final_burden": strict.terms["final_burden"],
                                         "schedule": strict.as_dict()["schedule"]}
    for who in ("grid", "optimiser"):
        a_res[who]["total_dose_over_u_min_H"] = a_res[who]["schedule"]["total"] / base["u_min_total"]
    print(f"  total dose / (u_min H): optimiser {a_res['optimiser']['total_dose_over_u_min_H']:.4f} "
          f"(T(H) = {a_res['optimiser']['terms']['final_burden']:.4g}), grid best "
          f"{a_res['grid']['total_dose_over_u_min_H']:.4f} (T(H) = {a_res['grid']['terms']['final_burden']:.4g}), "
          f"grid best meeting the target {a_res['grid_best_meeting_target']['total_dose_over_u_min_H']:.4f}, "
          f"cheapest constant {base['constant_total'] / base['u_min_total']:.4f}"
          f" (u_min H = {base['u_min_total']:.4g} cells leaves T(H) = {base['u_min_final_burden']:.3g} > "
          f"{base['target']:.3g})")

    pb = th.cart_split_dose(n_doses=a.cart_doses, horizon=30.0, rtol=1e-6, atol=1e-8)
    b_res = compare(f"(b) cart-doses, {a.cart_doses} boluses", pb, {"n_times": a.cart_times, "n_levels": a.cart_levels},
                    {"steps": 30, "starts": 4, "learning_rate": 0.1})

    c_res = ov_section(a.ov_injections, a.ov_times)

    write_json(a.out, record("therapy", precision="float64", load_average=load, te_infusion=a_res,
                             cart_doses=b_res, ov_injections=c_res))


if __name__ == "__main__":
    main()
