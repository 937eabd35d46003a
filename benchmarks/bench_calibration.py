"""Calibration benchmark (issue 9): the LLC growth-law table, multistart throughput vs SciPy, gradient cost.

1. LLC lung (Benzekry et al. 2014): exponential, logistic, Gompertz, von Bertalanffy and power
   law fitted to each of the 20 mice (V(0) = 1 mm^3 at day 0, error sd = sigma V^0.84, sigma
   fitted), every mouse and start in one vmapped L-BFGS call per law: total NLL, sum of AIC/BIC,
   median RMSE. Then a population Gompertz fit (K and sigma shared, r per mouse).
2. Synthetic recovery (Kuznetsov 1994 tumour-effector, T observed with 10 % log-normal noise):
   Wald and profile-likelihood 95 % intervals of r, and whether they hold the truth.
3. Multistart throughput: Gompertz least squares on log volumes (LogNormal noise, sigma fixed,
   fitted r and K) for 20 mice x S starts in one call, against `scipy.optimize.least_squares`
   (finite-difference Jacobian, `solve_ivp(RK45)` at the same rtol/atol) from the same starts,
   in the same process. CPU time (time.process_time), since the machine is shared.
4. Gradient cost: jit(grad(NLL)) over jit(NLL) for one mouse (Gompertz) and for the Kuznetsov
   problem (target <= 5).

    .venv/bin/python benchmarks/bench_calibration.py [--starts 8] [--scipy-mice 5]

Float64 throughout. Writes benchmarks/results/calibration.json.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import tumorjax as tj

tj.enable_x64()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

from _common import record, write_json  # noqa: E402
from tumorjax.calibration import (  # noqa: E402
    GROWTH_LAWS, LogNormal, Problem, fit, fit_population, fit_subjects, growth_problem, profile_likelihood,
)
from tumorjax.calibration._fit import _multistart, _starts  # noqa: E402
from tumorjax.data import load_llc  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def cpu(fn, *args, repeats=1):
    """(best CPU seconds over `repeats`, result), waiting for JAX's dispatch."""
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.process_time()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.process_time() - t)
    return best, out


def llc_table(data, starts):
    rows, fits = {}, {}
    for law in GROWTH_LAWS:
        wall = time.perf_counter()
        f = fit_subjects(growth_problem(law), data, n_starts=starts)
        cols = f.columns()
        fits[law] = f
        rows[law] = {"params_per_mouse": f.reports[0].n_params, "total_nll": f.nll, "sum_aic": f.aic,
                     "sum_bic": f.bic, "median_rmse_mm3": float(np.median(cols["rmse"])),
                     "mean_rmse_mm3": float(np.mean(cols["rmse"])), "converged": int(cols["converged"].sum()),
                     "identifiable": int(sum(r.identifiable for r in f.reports)),
                     "best_by_aic_count": 0, "wall_s": time.perf_counter() - wall}
        print(f"  {law:<12} sum AIC {f.aic:9.2f}  total NLL {f.nll:9.2f}  median RMSE {rows[law]['median_rmse_mm3']:7.1f}"
              f"  converged {rows[law]['converged']}/20  ({rows[law]['wall_s']:.0f} s)", flush=True)
    aic = np.array([[r.aic for r in fits[law].reports] for law in GROWTH_LAWS])
    for j in np.argmin(aic, axis=0):
        rows[GROWTH_LAWS[j]]["best_by_aic_count"] += 1
    return rows


def recovery_problem():
    """The Kuznetsov problem and its synthetic data (no fit)."""
    model = tj.TumourEffector()
    y0 = {"T": 1e6, "E": 3.2e5}
    ts = np.linspace(2.0, 60.0, 20)
    sol = tj.simulate(model, model.default_params(), y0, (0.0, 60.0), ts=ts)
    data = np.asarray(sol["T"]) * np.exp(0.1 * np.random.default_rng(0).standard_normal(ts.size))
    problem = Problem(model, {"r": "log", "kappa": "log", "noise.sigma": "log"}, y0,
                      params=model.default_params().replace(r=0.25, kappa=2e-7), noise=LogNormal(0.2), observe="T")
    return problem, (ts, data)


def recovery():
    problem, (ts, data) = recovery_problem()
    rep = fit(problem, (ts, data), n_starts=4, spread=0.3)
    prof = profile_likelihood(rep, "r", n=11)
    truth = {"r": 0.18, "kappa": 1.101e-7, "noise.sigma": 0.1}
    out = {name: {"truth": truth[name], "estimate": e, "wald_95": [lo, hi], "covered": bool(lo < truth[name] < hi)}
           for name, e, lo, hi in zip(rep.names, rep.estimate, rep.lower, rep.upper)}
    out["r"]["profile_95"] = [prof.lower, prof.upper]
    out["r"]["profile_covered"] = bool(prof.lower < 0.18 < prof.upper)
    return out, problem, (ts, data), rep


def throughput(data, starts, scipy_mice):
    """Steady-state CPU time of one vmapped multistart call vs a SciPy least_squares loop."""
    problem = Problem(tj.TumourGrowth(law="gompertz"), {"r": "log", "K": "log"}, {"T": 1.0},
                      params=tj.GrowthParams(r=0.08, K=1e4), noise=LogNormal(0.1), observe="T")
    pad = data.padded()
    t, v, m = (jnp.asarray(pad[k]) for k in ("time", "value", "mask"))
    z0 = _starts(problem, t.shape[0], starts, 0, 1.0, None)
    args = (problem, z0, t, v, m, "lbfgs", 200, 1e-6, 0.05)
    first, _ = cpu(_multistart, *args)
    steady, state = cpu(_multistart, *args, repeats=3)
    n_fits = t.shape[0] * starts
    x0 = np.exp(np.asarray(z0))  # natural-scale starts (r, K), same as tumorjax's

    def residuals(logx, tt, vv):
        r, K = np.exp(logx)
        sol = solve_ivp(lambda _, y: r * y * np.log(K / y), (0.0, tt[-1]), [1.0], t_eval=tt, rtol=1e-8, atol=1e-8)
        return np.log(vv) - np.log(sol.y[0])

    sp_nll, jx_ssr, n_sp, nfev = [], [], 0, 0
    t_sp = time.process_time()
    for s in range(scipy_mice):
        tt, vv = data.series(str(pad["subjects"][s]))
        best = np.inf
        for k in range(starts):
            res = least_squares(residuals, np.log(x0[s, k]), args=(tt, vv), method="trf", x_scale=1.0)
            best = min(best, 0.5 * np.sum(res.fun**2))
            nfev += res.nfev
            n_sp += 1
        sp_nll.append(best)
    t_sp = time.process_time() - t_sp
    for s in range(scipy_mice):  # tumorjax's best start, as 0.5 * SSR of log volumes
        k = int(np.argmin(np.asarray(state.value[s])))
        pred = np.asarray(problem.predict(state.z[s, k], t[s]))
        mask = np.asarray(m[s])
        jx_ssr.append(0.5 * float(np.sum((np.log(np.asarray(v[s])) - np.log(pred))[mask] ** 2)))
    return {"n_fits_tumorjax": n_fits, "first_call_cpu_s": first, "steady_cpu_s": steady,
            "fits_per_cpu_s_tumorjax": n_fits / steady, "n_fits_scipy": n_sp, "scipy_cpu_s": t_sp,
            "fits_per_cpu_s_scipy": n_sp / t_sp, "ratio": (n_fits / steady) / (n_sp / t_sp),
            "scipy_mean_nfev": nfev / n_sp, "tumorjax_mean_steps": float(np.mean(np.asarray(state.steps))),
            "best_half_ssr_scipy": sp_nll, "best_half_ssr_tumorjax": jx_ssr,
            "max_abs_diff_best_half_ssr": float(np.max(np.abs(np.array(sp_nll) - np.array(jx_ssr))))}


def gradient_cost(problem, t, v, repeats=200):
    """CPU time of the NLL, of its value and gradient as the fits compute it (`problem.loss`: forward
    mode for up to 6 fitted names) and of the reverse-mode gradient through the checkpointed adjoint."""
    t, v = jnp.asarray(t), jnp.asarray(v)
    z = problem.z_start()
    f = jax.jit(lambda z: problem.nll(z, t, v))
    g = jax.jit(jax.value_and_grad(problem.loss(t, v)))
    r = jax.jit(jax.grad(lambda z: problem.nll(z, t, v)))

    def loop(fn):
        jax.block_until_ready(fn(z))
        start = time.process_time()
        for _ in range(repeats):
            jax.block_until_ready(fn(z))
        return (time.process_time() - start) / repeats

    tf, tg, tr = (min(loop(fn) for _ in range(3)) for fn in (f, g, r))
    return {"forward_cpu_s": tf, "gradient_cpu_s": tg, "ratio": tg / tf, "gradient_rule": problem.gradient,
            "reverse_gradient_cpu_s": tr, "reverse_ratio": tr / tf}


def gradient_section(data, kuznetsov=None):
    """Part 4: gradient / forward CPU time for one LLC mouse (Gompertz) and the Kuznetsov recovery problem."""
    print("4. gradient cost / forward cost:", flush=True)
    if kuznetsov is None:
        kuz, kuz_data = recovery_problem()
    else:
        kuz, kuz_data = kuznetsov
    pad = data.padded(["mouse0"])
    out = {"gompertz_mouse0": gradient_cost(growth_problem("gompertz"), pad["time"][0], pad["value"][0]),
           "kuznetsov": gradient_cost(kuz, *kuz_data)}
    for name, g in out.items():
        print(f"  {name:<18} forward {g['forward_cpu_s'] * 1e3:.3f} ms, value and gradient as fitted "
              f"{g['gradient_cpu_s'] * 1e3:.3f} ms, ratio {g['ratio']:.2f} (target <= 5: "
              f"{'MET' if g['ratio'] <= 5 else 'NOT MET'}); reverse mode {g['reverse_ratio']:.2f}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--starts", type=int, default=8, help="starts per mouse (default 8)")
    ap.add_argument("--scipy-mice", type=int, default=5, help="mice in the SciPy baseline (default 5)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "calibration.json")
    ap.add_argument("--gradient-only", action="store_true",
                    help="rerun only part 4 and update its entry in an existing --out file")
    a = ap.parse_args(argv)
    load = os.getloadavg()
    print(f"calibration benchmark, float64, {jax.devices()[0]}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    data = load_llc(a.data_dir)
    if a.gradient_only:
        result = json.loads(a.out.read_text())
        result["gradient_over_forward"] = gradient_section(data)
        result["gradient_over_forward"]["load_average"] = load
        write_json(a.out, result)
        return

    print("1. LLC lung, 20 mice, V0 = 1 mm^3, sd = sigma V^0.84:", flush=True)
    table = llc_table(data, a.starts)
    pop = fit_population(growth_problem("gompertz"), data, shared=["K", "noise.sigma"], individual=["r"])
    print(f"  population Gompertz (K, sigma shared; r per mouse): NLL {pop.nll:.2f}, AIC {pop.aic:.2f}, "
          f"K = {pop.shared['K']['estimate']:.4g} [{pop.shared['K']['lower']:.4g}, {pop.shared['K']['upper']:.4g}]",
          flush=True)

    print("2. synthetic recovery (Kuznetsov):", flush=True)
    rec, kuz, kuz_data, _ = recovery()
    for name, r in rec.items():
        print(f"  {name:<12} truth {r['truth']:.4g}  estimate {r['estimate']:.4g}  Wald 95% "
              f"[{r['wald_95'][0]:.4g}, {r['wald_95'][1]:.4g}]  covered {r['covered']}"
              + (f"  profile [{r['profile_95'][0]:.4g}, {r['profile_95'][1]:.4g}]" if "profile_95" in r else ""))

    print("3. multistart throughput vs scipy.optimize.least_squares (FD Jacobian):", flush=True)
    thr = throughput(data, a.starts, a.scipy_mice)
    print(f"  tumorjax: {thr['n_fits_tumorjax']} fits in one call, {thr['steady_cpu_s']:.3f} CPU s "
          f"-> {thr['fits_per_cpu_s_tumorjax']:.1f} fits/CPU s (first call {thr['first_call_cpu_s']:.1f} s)")
    print(f"  SciPy:    {thr['n_fits_scipy']} fits, {thr['scipy_cpu_s']:.3f} CPU s -> "
          f"{thr['fits_per_cpu_s_scipy']:.1f} fits/CPU s; ratio {thr['ratio']:.1f}x; best-fit 0.5*SSR max |diff| "
          f"{thr['max_abs_diff_best_half_ssr']:.2e}")

    grad = gradient_section(data, (kuz, kuz_data))

    write_json(a.out, record("calibration", precision="float64", load_average=load, llc_table=table,
                             llc_population_gompertz=pop.as_dict(), recovery_kuznetsov=rec, throughput=thr,
                             gradient_over_forward=grad))


if __name__ == "__main__":
    main()
