"""ODE ensemble benchmark (issue 2): a vmapped, jitted tumorjax ensemble vs a SciPy loop.

Solves N perturbed Kuznetsov (1994) tumour-effector models (`TumourEffector` with its
default parameters; r, kappa, s, alpha, delta each scaled by an independent log-uniform
factor in [0.7, 1.4]) from y0 = (T, E) = (1e6, 3.2e5) over [0, T_END] days, saving K = 21
points, in float64 at rtol = atol = 1e-6, and compares with SciPy's LSODA at the same
tolerances on a subset of M of the same parameter sets.

    .venv/bin/python benchmarks/bench_ensemble_ode.py            # defaults: N=10000, M=300
    .venv/bin/python benchmarks/bench_ensemble_ode.py --chunk 1000

Writes benchmarks/results/ensemble_ode.json.
"""

import argparse
import json
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
from scipy.integrate import solve_ivp  # noqa: E402

from _common import best_of, machine_info, timed  # noqa: E402
from tumorjax import TumourEffector, TumourEffectorParams  # noqa: E402

VARIED = ("r", "kappa", "s", "alpha", "delta")
Y0 = (1e6, 3.2e5)
K_SAVE = 21
SOLVERS = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "dopri8": diffrax.Dopri8}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="ensemble size N (default 10000)")
    ap.add_argument("--n-scipy", type=int, default=300, help="SciPy baseline subset size M (default 300)")
    ap.add_argument("--t-end", type=float, default=200.0, help="end time in days (default 200)")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-6)
    ap.add_argument("--solver", choices=sorted(SOLVERS), default="tsit5",
                    help="diffrax solver (default tsit5, what simulate picks for this non-stiff model)")
    ap.add_argument("--repeats", type=int, default=3, help="steady-state timing: best of this many calls")
    ap.add_argument("--chunk", type=int, default=0,
                    help="also run the ensemble with jax.lax.map(..., batch_size=CHUNK) (0: skip)")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the tight-tolerance (rtol=1e-11) reference used to attribute the diffrax/SciPy gap")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "ensemble_ode.json")
    return ap.parse_args(argv)


def make_params(n: int, seed: int = 0) -> TumourEffectorParams:
    """N parameter sets: the Kuznetsov defaults with VARIED fields scaled log-uniformly in [0.7, 1.4]."""
    base = TumourEffector().default_params()
    rng = np.random.RandomState(seed)
    values = {}
    for name in base.names():
        v = float(np.asarray(getattr(base, name)))
        if name in VARIED:
            values[name] = v * np.exp(rng.uniform(np.log(0.7), np.log(1.4), size=n))
        else:
            values[name] = np.full(n, v)
    return TumourEffectorParams(**values)  # every leaf shape (N,), float64


def take(params: TumourEffectorParams, idx) -> TumourEffectorParams:
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[idx], params)


# --- SciPy baseline -------------------------------------------------------------------

def scipy_rhs(t, y, r, K, kappa, alpha, beta, eps, s, delta, gamma, u):
    """The same vector field as TumourEffector() (logistic, mass-action, saturating), in NumPy."""
    T, E = y
    dT = r * T * (1.0 - T / K) - kappa * T * E
    dE = s + u + alpha * T / (beta + T) * E - eps * T * E - delta * E - gamma * E * E
    return np.array([dT, dE])


def scipy_solve(p_i: dict, ts, rtol, atol, method="LSODA"):
    args = tuple(p_i[k] for k in ("r", "K", "kappa", "alpha", "beta", "eps", "s", "delta", "gamma", "u"))
    sol = solve_ivp(scipy_rhs, (float(ts[0]), float(ts[-1])), np.array(Y0), method=method,
                    t_eval=ts, rtol=rtol, atol=atol, args=args)
    if not sol.success:
        raise RuntimeError(f"SciPy {method} failed: {sol.message}")
    return sol.y.T  # (K, 2)


def rel_diff(a, b):
    """max over trajectories, states and save points of |a-b| / (|b| + 1e-3 * max_t |b|).

    a, b: (M, K, 2). The floor 1e-3*max_t|b| (per trajectory and state) keeps a state that
    passes near zero from dominating; T and E here stay of order 1e5..1e8 so it rarely acts.
    """
    scale = np.abs(b) + 1e-3 * np.max(np.abs(b), axis=1, keepdims=True)
    return np.abs(a - b) / scale


def main(argv=None):
    a = parse_args(argv)
    model = TumourEffector()
    y0 = jnp.asarray(Y0)
    precision = str(jnp.asarray(0.0).dtype)
    assert precision == "float64", "float64 expected (tumorjax.enable_x64())"
    solver = SOLVERS[a.solver]()
    ts_np = np.linspace(0.0, a.t_end, K_SAVE)
    dev = jax.devices()[0]
    print(f"tumorjax ODE ensemble benchmark: TumourEffector (Kuznetsov 1994), N={a.n}, t in [0, {a.t_end:g}] d, "
          f"K={K_SAVE} save points, rtol={a.rtol:g}, atol={a.atol:g}, solver={a.solver}")
    print(f"precision {precision}; device {dev}; {os.cpu_count()} CPU core(s); jax {jax.__version__}", flush=True)

    def solve_one(p):
        return tumorjax.simulate(model, p, y0, (0.0, a.t_end), n_save=K_SAVE, solver=solver,
                                 rtol=a.rtol, atol=a.atol)

    # -- 1. single (unbatched) solve: first call (compile + run) minus steady state -------
    p0 = model.default_params()

    def single(p):
        return solve_one(p).ys

    t_first_single, _ = timed(single, p0)
    t_single, _ = best_of(single, (p0,), a.repeats)
    compile_single = t_first_single - t_single
    print(f"single solve: first call {t_first_single:.3f} s, steady {t_single * 1e3:.3f} ms "
          f"-> compile {compile_single:.3f} s", flush=True)

    # -- 2. ensemble: jit(vmap(simulate)) over the batched params pytree ----------------
    params = make_params(a.n)
    params_dev = jax.device_put(params)
    ens = jax.jit(jax.vmap(lambda p: solve_one(p).ys))

    def status_steps(p):
        sol = solve_one(p)
        return sol.status, sol.stats["num_steps"]

    ens_stats = jax.jit(jax.vmap(status_steps))

    t_first_ens, ys_ens = timed(ens, params_dev)
    t_ens, ens_times = best_of(ens, (params_dev,), a.repeats)
    compile_ens = t_first_ens - t_ens
    ys_ens = np.asarray(ys_ens)
    thr_jax = a.n / t_ens
    print(f"ensemble: first call {t_first_ens:.3f} s, steady best of {a.repeats} {t_ens:.3f} s "
          f"({[round(t, 3) for t in ens_times]}) -> compile {compile_ens:.3f} s, {thr_jax:,.0f} solves/s", flush=True)

    status, nsteps = (np.asarray(x) for x in ens_stats(params_dev))
    n_fail = int(np.sum(status != 0))
    steps = {"min": int(nsteps.min()), "median": float(np.median(nsteps)), "mean": float(nsteps.mean()),
             "max": int(nsteps.max())}
    print(f"  solver steps per trajectory (accepted+rejected): min {steps['min']}, median {steps['median']:.0f}, "
          f"mean {steps['mean']:.1f}, max {steps['max']}; vmapped while_loop runs max/mean = "
          f"{steps['max'] / steps['mean']:.2f}x the average work; failed solves: {n_fail}", flush=True)
    assert np.all(np.isfinite(ys_ens)), "non-finite values in the ensemble"

    # -- 3. optional: chunked (bounded memory) ---------------------------------------
    chunk = None
    if a.chunk:
        ens_chunk = jax.jit(lambda p: jax.lax.map(lambda q: solve_one(q).ys, p, batch_size=a.chunk))
        t_first_c, ys_c = timed(ens_chunk, params_dev)
        t_c, _ = best_of(ens_chunk, (params_dev,), a.repeats)
        same = float(np.max(np.abs(np.asarray(ys_c) - ys_ens) / (np.abs(ys_ens) + 1.0)))
        chunk = {"batch_size": a.chunk, "first_call_s": t_first_c, "steady_s": t_c,
                 "compile_s": t_first_c - t_c, "throughput_per_s": a.n / t_c, "max_rel_diff_vs_vmap": same}
        print(f"chunked lax.map(batch_size={a.chunk}): steady {t_c:.3f} s, {a.n / t_c:,.0f} solves/s, "
              f"compile {t_first_c - t_c:.3f} s, max rel diff vs full vmap {same:.1e}", flush=True)

    # -- 4. SciPy LSODA baseline on the first M parameter sets -----------------------
    m = min(a.n_scipy, a.n)
    sub = {k: np.asarray(getattr(params, k))[:m] for k in params.names()}
    rows = [{k: float(v[i]) for k, v in sub.items()} for i in range(m)]
    scipy_solve(rows[0], ts_np, a.rtol, a.atol)  # warm-up (imports, first-call caches)
    t = time.perf_counter()
    ys_sp = np.stack([scipy_solve(row, ts_np, a.rtol, a.atol) for row in rows])
    t_sp = time.perf_counter() - t
    thr_sp = m / t_sp
    ratio = thr_jax / thr_sp
    print(f"SciPy solve_ivp(LSODA) loop: {m} solves in {t_sp:.3f} s -> {thr_sp:,.1f} solves/s", flush=True)

    rd = rel_diff(ys_ens[:m], ys_sp)
    max_rd = float(rd.max())
    max_rd_by_state = {name: float(rd[..., j].max()) for j, name in enumerate(model.state_names)}
    print(f"max rel diff diffrax vs SciPy on {m} trajectories x {K_SAVE} points: {max_rd:.2e} "
          f"(T {max_rd_by_state['T']:.2e}, E {max_rd_by_state['E']:.2e})", flush=True)

    # -- 5. attribution: each solver's error vs a tight-tolerance diffrax reference ------
    reference = None
    if not a.no_reference:
        ref = jax.jit(jax.vmap(lambda p: tumorjax.simulate(
            model, p, y0, (0.0, a.t_end), n_save=K_SAVE, solver=diffrax.Dopri8(),
            rtol=1e-11, atol=1e-11, max_steps=1_000_000).ys))
        ys_ref = np.asarray(ref(take(params, slice(0, m))))
        reference = {"solver": "diffrax Dopri8, rtol=atol=1e-11",
                     "max_rel_err_diffrax": float(rel_diff(ys_ens[:m], ys_ref).max()),
                     "max_rel_err_scipy": float(rel_diff(ys_sp, ys_ref).max())}
        print(f"  vs tight reference ({reference['solver']}): diffrax {reference['max_rel_err_diffrax']:.2e}, "
              f"SciPy {reference['max_rel_err_scipy']:.2e}", flush=True)

    # -- 6. table + JSON -----------------------------------------------------------
    table = [
        ("N (ensemble size)", f"{a.n}"),
        ("t span / save points", f"[0, {a.t_end:g}] d / {K_SAVE}"),
        ("device", f"{dev}"),
        ("precision", precision),
        ("rtol / atol (both solvers)", f"{a.rtol:g} / {a.atol:g}"),
        ("diffrax solver", a.solver),
        ("compile, ensemble (first - steady)", f"{compile_ens:.2f} s"),
        ("compile, single simulate", f"{compile_single:.2f} s"),
        ("ensemble steady wall time", f"{t_ens:.3f} s"),
        ("tumorjax throughput", f"{thr_jax:,.0f} solves/s"),
        (f"SciPy LSODA throughput (M={m})", f"{thr_sp:,.1f} solves/s"),
        ("ratio tumorjax / SciPy", f"{ratio:.1f}x"),
        ("max rel diff (T, E)", f"{max_rd:.2e}"),
        ("steps/trajectory (mean / max)", f"{steps['mean']:.1f} / {steps['max']}"),
    ]
    if chunk:
        table.insert(10, (f"tumorjax chunked (batch {a.chunk})", f"{chunk['throughput_per_s']:,.0f} solves/s"))
    w = max(len(k) for k, _ in table)
    print("\n" + "-" * (w + 30))
    for k, v in table:
        print(f"{k:<{w}}  {v}")
    print("-" * (w + 30))
    target_speed = ratio >= 10.0
    target_compile = compile_single < 5.0 and compile_ens < 5.0
    print(f"target >= 10x SciPy throughput: {'MET' if target_speed else 'NOT MET'}; "
          f"compile < 5 s: {'MET' if target_compile else 'NOT MET'}")

    result = {
        "benchmark": "ensemble_ode",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "model": "TumourEffector() (logistic growth, mass-action killing, saturating proliferation), "
                 "Kuznetsov 1994 defaults",
        "varied": {k: "x log-uniform[0.7, 1.4], numpy RandomState(0)" for k in VARIED},
        "y0": dict(zip(model.state_names, Y0)),
        "t_span": [0.0, a.t_end], "n_save": K_SAVE, "rtol": a.rtol, "atol": a.atol,
        "precision": precision, "solver": a.solver, "n": a.n, "n_scipy": m,
        "single": {"first_call_s": t_first_single, "steady_s": t_single, "compile_s": compile_single},
        "ensemble": {"first_call_s": t_first_ens, "steady_s": t_ens, "steady_all_s": ens_times,
                     "compile_s": compile_ens, "throughput_per_s": thr_jax, "failed": n_fail,
                     "steps_per_trajectory": steps},
        "chunked": chunk,
        "scipy": {"method": "LSODA", "elapsed_s": t_sp, "throughput_per_s": thr_sp},
        "ratio_tumorjax_over_scipy": ratio,
        "max_rel_diff": max_rd, "max_rel_diff_by_state": max_rd_by_state,
        "rel_diff_definition": "|a-b| / (|b| + 1e-3 * max_t |b|), b = SciPy",
        "reference": reference,
        "targets": {"throughput_ratio_ge_10": target_speed, "compile_lt_5s": target_compile},
        "machine": machine_info(),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {a.out}")

    assert max_rd < 1e-3, f"diffrax and SciPy disagree: max rel diff {max_rd:.2e} >= 1e-3"
    return result


if __name__ == "__main__":
    main()
