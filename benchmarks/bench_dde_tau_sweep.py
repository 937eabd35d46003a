"""DDE delay sweep benchmark (issue 4): one vmapped, jitted `solve_dde` over 1,000 delays vs SciPy.

Solves the Hutchinson (1948) delayed logistic equation N' = r N (1 - N(t - tau)/K) with
r = 1, K = 1 and the constant history N(t) = 0.5 for t <= 0 over [0, T_END] days
(default 100), saving 1001 points, for N = 1,000 delays evenly spaced in [0.5, 2.5]: the
sweep crosses the Hopf point r*tau = pi/2, where N = K loses stability to a limit cycle of
period ~4 tau. Float64 throughout.

- tumorjax: ONE call of `jax.jit(jax.vmap(lambda tau: solve_dde(...).ys))` over all delays,
  steps_per_delay M = 32 (fixed step h = tau/M, diffrax Tsit5 steps, cubic-Hermite
  history), static `n_intervals = ceil(T_END / tau_min)`; compile time (first call minus
  steady call) and steady throughput (best of 3). Then `oscillation_metrics` (vmapped)
  on t >= T_END/2 for every delay, to locate the Hopf onset.
- Baseline, same process: the classical method of steps in NumPy/SciPy on an evenly spread
  subset of the same delays (default 50): for each delay, one `solve_ivp(RK45,
  dense_output=True, rtol=1e-8, atol=1e-10)` per interval [k tau, (k+1) tau], the delayed
  state read from the previous interval's dense output (the history for t <= 0).
- Accuracy on the subset: max |tumorjax - SciPy| at the save points for M = 32 and for a
  fine tumorjax run (M = 128, default `--fine-steps-per-delay`), and |M=32 - M=128| (an
  estimate of tumorjax's own error at M = 32), split below/above the Hopf point.

    .venv/bin/python benchmarks/bench_dde_tau_sweep.py              # defaults: N=1000, subset 50
    .venv/bin/python benchmarks/bench_dde_tau_sweep.py --steps-per-delay 64 --n-baseline 20

Writes benchmarks/results/dde_tau_sweep.json. Exits with an error if tumorjax (M) and
SciPy differ by 1e-4 or more (max abs difference, N ~ O(1)).
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

import tumorjax

tumorjax.enable_x64()  # before any array is created

import diffrax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import scipy  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402
from scipy.special import lambertw  # noqa: E402

from _common import best_of, machine_info, timed  # noqa: E402
from tumorjax import solve_dde  # noqa: E402
from tumorjax.analysis import oscillation_metrics  # noqa: E402
from tumorjax.dde import Hutchinson, HutchinsonParams  # noqa: E402

R, K, N0 = 1.0, 1.0, 0.5
TAU_HOPF = math.pi / 2 / R


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="number of delays in the sweep (default 1000)")
    ap.add_argument("--tau-min", type=float, default=0.5)
    ap.add_argument("--tau-max", type=float, default=2.5)
    ap.add_argument("--t-end", type=float, default=100.0, help="end time T_END in days (default 100)")
    ap.add_argument("--n-save", type=int, default=1001, help="save points on [0, T_END] (default 1001)")
    ap.add_argument("--steps-per-delay", type=int, default=32, help="tumorjax steps per delay M (default 32)")
    ap.add_argument("--fine-steps-per-delay", type=int, default=128,
                    help="M of the fine tumorjax run on the baseline subset (default 128; 0: skip)")
    ap.add_argument("--n-baseline", type=int, default=50, help="SciPy method-of-steps subset size (default 50)")
    ap.add_argument("--rtol", type=float, default=1e-8, help="SciPy RK45 rtol (default 1e-8)")
    ap.add_argument("--atol", type=float, default=1e-10, help="SciPy RK45 atol (default 1e-10)")
    ap.add_argument("--repeats", type=int, default=3, help="steady-state timing: best of this many calls")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="fail if max |tumorjax(M) - SciPy| >= TOL (default 1e-4)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "dde_tau_sweep.json")
    return ap.parse_args(argv)


# --- SciPy baseline: the classical method of steps ---------------------------------------

def scipy_method_of_steps(tau, ts, t_end, rtol, atol, r=R, k_cap=K, n0=N0):
    """Hutchinson by the method of steps: one RK45 solve per delay interval [k tau, (k+1) tau].

    On interval k the delayed state N(t - tau) lies in interval k-1 and is read from that
    interval's dense output (the constant history n0 on interval 0). Returns N at `ts`
    and the number of intervals.
    """
    out = np.full(ts.shape, np.nan)
    y = np.array([n0])
    prev = None
    k = 0
    while True:
        t_a = k * tau
        if t_a >= t_end:
            break
        t_b = min((k + 1) * tau, t_end)
        if prev is None:
            def rhs(t, y):
                return r * y * (1.0 - n0 / k_cap)
        else:
            def rhs(t, y, prev=prev):
                return r * y * (1.0 - prev(t - tau) / k_cap)
        sol = solve_ivp(rhs, (t_a, t_b), y, method="RK45", dense_output=True, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"SciPy RK45 failed on [{t_a}, {t_b}] for tau={tau}: {sol.message}")
        mask = (ts >= t_a) & (ts <= t_b)
        out[mask] = sol.sol(ts[mask])[0]
        y = sol.y[:, -1]
        prev = sol.sol
        k += 1
    return out, k


def hopf_rate(tau, r=R):
    """Re of the rightmost root of the linearisation x' = -r x(t - tau): lambda = W0(-r tau)/tau."""
    return float(np.real(lambertw(-r * tau, 0)) / tau)


def crossing(x, y, level):
    """First x where y crosses `level` upwards (linear interpolation); None if it never does."""
    above = y >= level
    idx = np.flatnonzero(~above[:-1] & above[1:])
    if idx.size == 0:
        return None
    i = idx[0]
    return float(x[i] + (x[i + 1] - x[i]) * (level - y[i]) / (y[i + 1] - y[i]))


def main(argv=None):
    a = parse_args(argv)
    precision = str(jnp.asarray(0.0).dtype)
    assert precision == "float64", "float64 expected (tumorjax.enable_x64())"
    model = Hutchinson()
    taus = np.linspace(a.tau_min, a.tau_max, a.n)
    ts_np = np.linspace(0.0, a.t_end, a.n_save)
    ts = jnp.asarray(ts_np)
    history = jnp.asarray([N0])
    n_intervals = math.ceil(a.t_end / float(taus.min()) - 1e-9)
    M = a.steps_per_delay
    dev = jax.devices()[0]
    print(f"tumorjax DDE tau-sweep benchmark: Hutchinson r={R:g}, K={K:g}, history N={N0:g}, t in [0, {a.t_end:g}], "
          f"{a.n} delays in [{a.tau_min:g}, {a.tau_max:g}] (Hopf at tau = pi/2 = {TAU_HOPF:.4f}), "
          f"{a.n_save} save points, M = {M} steps per delay, n_intervals = {n_intervals} (static)")
    print(f"precision {precision}; device {dev}; {os.cpu_count()} CPU core(s); jax {jax.__version__}, "
          f"diffrax {diffrax.__version__}, scipy {scipy.__version__}", flush=True)

    def sweep_fn(m):
        def one(tau):
            p = HutchinsonParams(r=R, K=K, tau=tau)
            sol = solve_dde(model, p, history, (0.0, a.t_end), ts=ts, steps_per_delay=m, n_intervals=n_intervals)
            return sol.ys[:, 0], sol.status
        return jax.jit(jax.vmap(one))

    # -- 1. the sweep: ONE jit(vmap(solve_dde)) call over all delays --------------------
    sweep = sweep_fn(M)
    taus_dev = jax.device_put(jnp.asarray(taus))
    t_first, (ys, status) = timed(sweep, taus_dev)
    t_steady, steady_times = best_of(sweep, (taus_dev,), a.repeats)
    compile_s = t_first - t_steady
    thr_jax = a.n / t_steady
    ys, status = np.asarray(ys), np.asarray(status)
    n_fail = int(np.sum(status != 0))
    steps_per_solve = M * n_intervals
    print(f"sweep: first call {t_first:.3f} s, steady best of {a.repeats} {t_steady:.3f} s "
          f"({[round(t, 3) for t in steady_times]}) -> compile {compile_s:.3f} s, {thr_jax:,.0f} solves/s", flush=True)
    needed = M * np.ceil(a.t_end / taus - 1e-9)
    print(f"  fixed-step work: {steps_per_solve} Tsit5 steps per delay value under vmap (h = tau/{M}, "
          f"covering [0, {n_intervals} tau]); steps needed to reach t={a.t_end:g}: mean {needed.mean():.0f} "
          f"(max {needed.max():.0f}) -> {steps_per_solve / needed.mean():.2f}x the necessary work; "
          f"{t_steady / (a.n * steps_per_solve) * 1e9:.0f} ns per (delay, step); failed solves: {n_fail}", flush=True)
    assert np.all(np.isfinite(ys)), "non-finite values in the sweep"

    # -- 2. single solve (tau = 1): per-call cost of one unbatched solve_dde ------------
    p1 = HutchinsonParams(r=R, K=K, tau=1.0)

    def single(p):
        return solve_dde(model, p, history, (0.0, a.t_end), ts=ts, steps_per_delay=M).ys

    t_first_1, _ = timed(single, p1)
    t_single, _ = best_of(single, (p1,), a.repeats)
    print(f"single solve_dde (tau=1, {M * math.ceil(a.t_end - 1e-9)} steps): first call {t_first_1:.3f} s, "
          f"steady {t_single * 1e3:.2f} ms", flush=True)

    # -- 3. oscillation metrics per delay (vmapped) and the Hopf onset -----------------
    t_min = a.t_end / 2
    osc = jax.jit(jax.vmap(lambda y: oscillation_metrics(ts, y, t_min)))(jnp.asarray(ys))
    amp, period, growth = (np.asarray(osc[k]) for k in ("amplitude", "period", "growth"))
    # Envelope rate over the window (the two half-windows are (T_END - t_min)/2 apart): on the
    # damped side it should match the linear theory Re lambda = Re W0(-r tau)/tau.
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.log(growth) / ((a.t_end - t_min) / 2)
    rate_theory = np.array([hopf_rate(t) for t in taus])
    linear = np.isfinite(rate) & (amp > 1e-8) & (amp < 1e-2)  # measurable, and small enough to be linear
    rate_err = float(np.max(np.abs(rate - rate_theory)[linear])) if linear.any() else None
    rate_rel = float(np.max(np.abs(rate / rate_theory - 1)[linear])) if linear.any() else None
    # Onset (a) "sustained": first tau whose envelope changes < 1% across the window. Biased
    # upwards: near a Hopf point the approach to the small cycle is slow (rate -> 0).
    sustained = np.isfinite(growth) & (growth >= 0.99) & (amp > 1e-3)
    tau_sustained = float(taus[np.argmax(sustained)]) if sustained.any() else None
    # Onset (b) supercritical Hopf: cycle amplitude^2 ~ c (tau - tau*). Fit amp^2 on the first 10
    # settled delays (|growth - 1| < 5e-3) and extrapolate to amp = 0.
    settled = np.flatnonzero(np.isfinite(growth) & (np.abs(growth - 1) < 5e-3) & (amp > 1e-2))
    tau_amp2 = None
    if settled.size >= 3:
        fit = settled[:10]
        slope, icpt = np.polyfit(taus[fit], amp[fit] ** 2, 1)
        tau_amp2 = float(-icpt / slope)
    i_onset = int(np.argmin(np.abs(taus - TAU_HOPF)))
    i_probe = [int(np.argmin(np.abs(taus - t))) for t in (1.0, 1.4, 1.5, 1.6, 1.7, 2.0, 2.5)]
    print(f"oscillations on t >= {t_min:g} (Hopf, theory: tau* = pi/2 = {TAU_HOPF:.4f}, period 4 tau* = "
          f"{4 * TAU_HOPF:.4f}):")
    print(f"  envelope rate ln(growth)/{(a.t_end - t_min) / 2:g} vs theory Re W0(-r tau)/tau on the "
          f"{int(linear.sum())} delays with 1e-8 < amplitude < 1e-2: max |diff| = "
          f"{rate_err if rate_err is None else f'{rate_err:.1e}'} /day "
          f"(relative {rate_rel if rate_rel is None else f'{rate_rel:.1%}'}; "
          "the range-based envelope depends on the oscillation phase at the window edges)")
    print(f"  onset, sustained oscillation (envelope within 1%): tau = {tau_sustained}; "
          f"onset, amplitude^2 -> 0 extrapolated from the settled cycles: tau = {tau_amp2}")
    for i in i_probe:
        print(f"  tau={taus[i]:.3f}: amplitude {amp[i]:.3e}, period {period[i]:.4f} (4 tau = {4 * taus[i]:.4f}), "
              f"growth {growth[i]:.4f}, rate {rate[i]:+.4f} (theory Re lambda {rate_theory[i]:+.4f})")

    # -- 4. SciPy method of steps on an evenly spread subset of the delays -------------
    m = min(a.n_baseline, a.n)
    idx = np.unique(np.round(np.linspace(0, a.n - 1, m)).astype(int))
    m = idx.size
    sub = taus[idx]
    scipy_method_of_steps(float(sub[-1]), ts_np, a.t_end, a.rtol, a.atol)  # warm-up
    t = time.perf_counter()
    res = [scipy_method_of_steps(float(tau), ts_np, a.t_end, a.rtol, a.atol) for tau in sub]
    t_sp = time.perf_counter() - t
    ys_sp = np.stack([r_[0] for r_ in res])
    n_int_sp = np.array([r_[1] for r_ in res])
    thr_sp = m / t_sp
    ratio = thr_jax / thr_sp
    print(f"SciPy method of steps (solve_ivp RK45, rtol={a.rtol:g}, atol={a.atol:g}): {m} solves "
          f"({n_int_sp.sum()} interval solves) in {t_sp:.3f} s -> {thr_sp:,.2f} solves/s; "
          f"ratio tumorjax/SciPy {ratio:,.0f}x", flush=True)

    # -- 5. accuracy on the subset ------------------------------------------------------
    def split(err):  # err: (m, n_save) abs differences
        per_tau = err.max(axis=1)
        lo, hi = sub < TAU_HOPF, sub >= TAU_HOPF
        j = int(np.argmax(per_tau))
        return {"max": float(per_tau.max()), "tau_at_max": float(sub[j]),
                "t_at_max": float(ts_np[int(np.argmax(err[j]))]),
                "max_below_hopf": float(per_tau[lo].max()) if lo.any() else None,
                "max_above_hopf": float(per_tau[hi].max()) if hi.any() else None,
                "median_per_tau": float(np.median(per_tau))}

    ys_sub = ys[idx]
    acc = {"tumorjax_M_vs_scipy": split(np.abs(ys_sub - ys_sp))}
    e = acc["tumorjax_M_vs_scipy"]
    print(f"max |tumorjax(M={M}) - SciPy| over {m} delays x {a.n_save} points: {e['max']:.2e} "
          f"(tau < pi/2: {e['max_below_hopf']:.2e}, tau >= pi/2: {e['max_above_hopf']:.2e}; "
          f"worst at tau={e['tau_at_max']:.3f}, t={e['t_at_max']:g})", flush=True)
    fine = None
    if a.fine_steps_per_delay:
        Mf = a.fine_steps_per_delay
        ys_f = np.asarray(sweep_fn(Mf)(jnp.asarray(sub))[0])
        acc["tumorjax_fine_vs_scipy"] = split(np.abs(ys_f - ys_sp))
        acc["tumorjax_M_vs_fine"] = split(np.abs(ys_sub - ys_f))
        fine = Mf
        for key, label in (("tumorjax_fine_vs_scipy", f"tumorjax(M={Mf}) - SciPy"),
                           ("tumorjax_M_vs_fine", f"tumorjax(M={M}) - tumorjax(M={Mf})")):
            e = acc[key]
            print(f"max |{label}|: {e['max']:.2e} (tau < pi/2: {e['max_below_hopf']:.2e}, "
                  f"tau >= pi/2: {e['max_above_hopf']:.2e}; worst at tau={e['tau_at_max']:.3f}, t={e['t_at_max']:g})")
    err_M = acc["tumorjax_M_vs_scipy"]["max"]

    # -- 6. table + JSON -----------------------------------------------------------
    fmt = lambda x: "n/a" if x is None else f"{x:.4f}"  # noqa: E731
    table = [
        ("N (delays in the sweep)", f"{a.n} in [{a.tau_min:g}, {a.tau_max:g}]"),
        ("t span / save points", f"[0, {a.t_end:g}] / {a.n_save}"),
        ("device", f"{dev}"),
        ("precision", precision),
        ("steps per delay M / steps per solve", f"{M} / {steps_per_solve}"),
        ("compile (first - steady)", f"{compile_s:.2f} s"),
        ("sweep steady wall time", f"{t_steady:.3f} s"),
        ("tumorjax throughput", f"{thr_jax:,.0f} solves/s"),
        (f"SciPy method-of-steps throughput (n={m})", f"{thr_sp:,.2f} solves/s"),
        ("ratio tumorjax / SciPy", f"{ratio:,.0f}x"),
        (f"max |tumorjax(M={M}) - SciPy|", f"{err_M:.2e}"),
    ]
    if fine:
        table += [(f"max |tumorjax(M={fine}) - SciPy|", f"{acc['tumorjax_fine_vs_scipy']['max']:.2e}"),
                  (f"max |tumorjax(M={M}) - tumorjax(M={fine})|", f"{acc['tumorjax_M_vs_fine']['max']:.2e}")]
    table += [("Hopf onset: amp^2 extrapolation / theory", f"tau = {fmt(tau_amp2)} / {TAU_HOPF:.4f}"),
              ("first sustained oscillation (envelope +-1%)", f"tau = {fmt(tau_sustained)}"),
              (f"period at tau={taus[i_onset]:.3f} / 4 tau", f"{period[i_onset]:.3f} / {4 * taus[i_onset]:.3f}")]
    w = max(len(k_) for k_, _ in table)
    print("\n" + "-" * (w + 34))
    for k_, v in table:
        print(f"{k_:<{w}}  {v}")
    print("-" * (w + 34))

    result = {
        "benchmark": "dde_tau_sweep",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": "Hutchinson: N' = r N (1 - N(t - tau)/K)",
        "r": R, "K": K, "history": N0, "t_span": [0.0, a.t_end], "n_save": a.n_save,
        "taus": {"n": a.n, "min": a.tau_min, "max": a.tau_max, "spacing": "linspace"},
        "tau_hopf_theory": TAU_HOPF, "precision": precision,
        "tumorjax": {"steps_per_delay": M, "n_intervals": n_intervals, "steps_per_solve": steps_per_solve,
                     "mean_steps_needed": float(needed.mean()), "solver": "diffrax Tsit5 (fixed step)",
                     "first_call_s": t_first, "steady_s": t_steady, "steady_all_s": steady_times,
                     "compile_s": compile_s, "throughput_per_s": thr_jax, "failed": n_fail,
                     "ns_per_tau_step": t_steady / (a.n * steps_per_solve) * 1e9,
                     "single_solve_tau1": {"first_call_s": t_first_1, "steady_s": t_single}},
        "scipy": {"method": "method of steps, solve_ivp RK45 dense_output per delay interval",
                  "rtol": a.rtol, "atol": a.atol, "n": m, "taus": sub.tolist(), "elapsed_s": t_sp,
                  "throughput_per_s": thr_sp, "interval_solves": int(n_int_sp.sum())},
        "ratio_tumorjax_over_scipy": ratio,
        "accuracy_max_abs": acc, "fine_steps_per_delay": fine,
        "oscillations": {"t_min": t_min, "metrics": "oscillation_metrics(ts, N, t_min), vmapped over the sweep",
                         "tau_onset_amplitude2_extrapolation": tau_amp2, "tau_first_sustained_1pct": tau_sustained,
                         "n_linear_damped": int(linear.sum()), "max_abs_rate_minus_theory_linear": rate_err,
                         "max_rel_rate_minus_theory_linear": rate_rel,
                         "period_at_tau_closest_to_hopf": {"tau": float(taus[i_onset]),
                                                           "period": float(period[i_onset])},
                         "probes": [{"tau": float(taus[i]), "amplitude": float(amp[i]), "period": float(period[i]),
                                     "growth": float(growth[i]), "rate": float(rate[i]),
                                     "rate_theory": float(rate_theory[i])} for i in i_probe]},
        "machine": machine_info(),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")

    assert err_M < a.tol, f"tumorjax (M={M}) and SciPy disagree: max abs diff {err_M:.2e} >= {a.tol:g}"
    return result


if __name__ == "__main__":
    main()
