"""Gradient cost over forward cost for each differentiable model family (issue 9; target <= 5).

For every family a scalar objective of 2-4 named parameters is jitted twice, as the objective
itself (forward) and as its `jax.grad` (reverse mode, the library's default adjoint), compiled
ahead of time, then timed in CPU seconds (`time.process_time`, all threads: the machine is
shared) as the minimum over repeated batches of calls. The ratio gradient / forward is the
figure of merit. Families:

1. tumour-effector ODE (Kuznetsov 1994 defaults): sum-of-squares misfit of log T at 20 times
   against synthetic data, w.r.t. r, kappa, delta (Tsit5, rtol = atol = 1e-8);
2. delayed tumour-effector DDE (`solve_dde`, method of steps, Tsit5): misfit of T and E at 20
   times, w.r.t. tau, r, delta;
3. CAR-T homogeneous ODE (stiff, `cart.NORMALISED`, Kvaerno5): misfit of log(T_A + T_B),
   w.r.t. rho_C, k_e0, delta_CT;
4. CAR-T 3D on a small grid (`cart.tumour_burden`, reference and accurate schemes): final
   tumour burden w.r.t. rho_C, k_e0, chi_0, dose2 (the setting of tests/test_cart_grad.py);
5. radial oncolytic PDE (`solve_radial`, explicit and IMEX, N = 40 and, without --quick, 400):
   final uninfected total w.r.t. beta, zeta, chi;
6. kinetic models, 1D (100 cells and, without --quick, 1000): the macroscopic cross-diffusion PDE
   (`solve_macroscopic`, explicit) and the discrete-velocity model (`solve_kinetic`): final
   tumour mass w.r.t. A, B, C.

Forward-mode alternatives are timed too: `jax.jacfwd` (ODEs with `adjoint=diffrax.ForwardMode()`,
the DDE with `Tsit5(scan_kind="bounded")`; not for the accurate CAR-T scheme, whose checkpointed
while loops are reverse-mode only), and for the ODEs reverse mode with
`RecursiveCheckpointAdjoint(checkpoints=...)` equal to the step budget (every step stored: no
recomputation) at the default `max_steps` and at a tight one. Every gradient is checked against a
central difference in its first parameter.

    .venv/bin/python benchmarks/bench_gradient_cost.py [--quick] [--only ode,dde,...] [--out PATH]

Float64 throughout. Writes benchmarks/results/gradient_cost.json (machine, load average, command);
a --quick run writes only to an explicit --out.
"""

import argparse
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np

import tumorjax as tj

tj.enable_x64()

import diffrax  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from _common import record, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 5.0
FAMILIES = ("ode", "dde", "cart_homogeneous", "cart_3d", "oncolytic", "kinetic")


# --------------------------------------------------------------------------------------------- timing

def _compile(fn, x):
    """AOT-compile jit(fn) at x: (compiled, {trace_lower_s, compile_s}) in wall seconds."""
    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(x)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, {"trace_lower_s": t1 - t0, "compile_s": t2 - t1}


def _cpu_per_call(fn, x, budget, repeats):
    """Min over `repeats` batches of the CPU seconds per call; a batch lasts about `budget` CPU s."""
    jax.block_until_ready(fn(x))  # warm
    t = time.process_time()
    jax.block_until_ready(fn(x))
    one = max(time.process_time() - t, 1e-5)
    n = max(1, min(2000, int(budget / one)))
    best = math.inf
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(n):
            out = fn(x)
        jax.block_until_ready(out)
        best = min(best, (time.process_time() - t) / n)
    return best, n


def measure(fn, x0, *, variants, budget, repeats, fd_rel=1e-5):
    """Forward cost of `fn` and the cost of each derivative in `variants` ({label: derivative fn}).

    Returns a dict with the forward time, the objective, and per variant the time, ratio, compile
    times and the relative difference of its first component to a central difference of fn."""
    x0 = jnp.asarray(x0, jnp.float64)
    f, fc = _compile(fn, x0)
    value = float(f(x0))
    tf, nf = _cpu_per_call(f, x0, budget, repeats)
    h = fd_rel * abs(float(x0[0]))
    e = jnp.zeros_like(x0).at[0].set(h)
    fd = (float(f(x0 + e)) - float(f(x0 - e))) / (2 * h)
    out = {"objective": value, "forward_ms": 1e3 * tf, "forward_calls_per_batch": nf, "forward_compile": fc,
           "central_difference_0": fd, "variants": {}}
    for label, dfn in variants.items():
        g, gc = _compile(dfn, x0)
        grad = np.asarray(g(x0))
        tg, ng = _cpu_per_call(g, x0, budget, repeats)
        out["variants"][label] = {
            "gradient_ms": 1e3 * tg, "ratio": tg / tf, "met": bool(tg / tf <= TARGET), "compile": gc,
            "calls_per_batch": ng, "gradient": grad.tolist(),
            "fd_rel_err_0": float(abs(grad[0] - fd) / max(abs(fd), 1e-300)),
        }
    return out


def _replace(p, names, x):
    return p.replace(**{n: x[i] for i, n in enumerate(names)})


# -------------------------------------------------------------------------------------------- families

def ode_family(quick):
    """Kuznetsov tumour-effector misfit (the calibration benchmark's recovery problem)."""
    model = tj.TumourEffector()
    p0 = model.default_params()
    y0 = jnp.array([1e6, 3.2e5])
    ts = jnp.linspace(2.0, 60.0, 20)
    data = np.asarray(tj.simulate(model, p0, y0, (0.0, 60.0), ts=ts)["T"])
    data = jnp.asarray(data * np.exp(0.1 * np.random.default_rng(0).standard_normal(ts.size)))
    names = ("r", "kappa", "delta")
    x0 = jnp.array([0.2, 1.2e-7, 0.35])
    steps = int(tj.simulate(model, _replace(p0, names, x0), y0, (0.0, 60.0), ts=ts).stats["num_steps"])
    tight = 1024

    def objective(adjoint=None, max_steps=100_000):
        def f(x):
            sol = tj.simulate(model, _replace(p0, names, x), y0, (0.0, 60.0), ts=ts, adjoint=adjoint,
                              max_steps=max_steps)
            return jnp.sum((jnp.log(sol.ys[:, 0]) - jnp.log(data)) ** 2)
        return f

    f = objective()
    variants = {
        "reverse (default: RecursiveCheckpointAdjoint(), max_steps 100000)": jax.grad(f),
        "reverse, checkpoints = max_steps = 100000": jax.grad(
            objective(diffrax.RecursiveCheckpointAdjoint(100_000))),
        f"reverse, checkpoints = max_steps = {tight}": jax.grad(
            objective(diffrax.RecursiveCheckpointAdjoint(tight), tight)),
        "forward (jacfwd, ForwardMode)": jax.jacfwd(objective(diffrax.ForwardMode())),
    }
    return names, x0, f, variants, {"solver": "Tsit5", "rtol": 1e-8, "atol": 1e-8, "t_span": [0, 60],
                                    "n_obs": 20, "steps": steps, "max_steps": 100_000}


def dde_family(quick):
    from tumorjax.dde import DelayedTumourEffector

    model = DelayedTumourEffector()
    p0 = model.default_params().replace(tau=2.0)
    hist = jnp.array([0.5, 0.5])
    t_end, spd = 60.0, 16
    n_int = math.ceil(t_end / 1.9)  # static; covers tau >= 1.9
    ts = jnp.linspace(3.0, t_end, 20)
    names = ("tau", "r", "delta")
    x0 = jnp.array([2.0, float(p0.r), float(p0.delta)])

    def solve(x, solver=None):
        return tj.solve_dde(model, _replace(p0, names, x), hist, (0.0, t_end), ts=ts, steps_per_delay=spd,
                            n_intervals=n_int, solver=solver)

    data = jnp.asarray(solve(jnp.array([2.0, float(p0.r) * 1.05, float(p0.delta)])).ys)

    def objective(solver=None):
        return lambda x: jnp.sum((solve(x, solver).ys - data) ** 2)

    f = objective()
    variants = {"reverse (default)": jax.grad(f),
                "forward (jacfwd, Tsit5(scan_kind='bounded'))":
                    jax.jacfwd(objective(diffrax.Tsit5(scan_kind="bounded")))}
    return names, x0, f, variants, {"solver": "Tsit5, fixed step tau/16", "t_span": [0, t_end],
                                    "steps": n_int * spd, "n_obs": 20}


def cart_homogeneous_family(quick):
    from tumorjax import cart

    model = cart.CARTHomogeneous()
    p0 = cart.NORMALISED
    y0 = jnp.array([0.1, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    t1 = 30.0
    ts = jnp.linspace(1.0, t1, 20)
    names = ("rho_C", "k_e0", "delta_CT")
    x_true = jnp.array([float(getattr(p0, n)) for n in names])
    x0 = x_true * jnp.array([1.1, 0.9, 1.1])
    ref = tj.simulate(model, p0, y0, (0.0, t1), ts=ts)
    data = jnp.log(ref.ys[:, 2] + ref.ys[:, 3])
    steps = int(tj.simulate(model, _replace(p0, names, x0), y0, (0.0, t1), ts=ts).stats["num_steps"])
    tight = 1024

    def objective(adjoint=None, max_steps=100_000):
        def f(x):
            sol = tj.simulate(model, _replace(p0, names, x), y0, (0.0, t1), ts=ts, adjoint=adjoint,
                              max_steps=max_steps)
            return jnp.sum((jnp.log(sol.ys[:, 2] + sol.ys[:, 3]) - data) ** 2)
        return f

    f = objective()
    variants = {
        "reverse (default: RecursiveCheckpointAdjoint(), max_steps 100000)": jax.grad(f),
        f"reverse, checkpoints = max_steps = {tight}": jax.grad(
            objective(diffrax.RecursiveCheckpointAdjoint(tight), tight)),
        "forward (jacfwd, ForwardMode)": jax.jacfwd(objective(diffrax.ForwardMode())),
    }
    return names, x0, f, variants, {"solver": "Kvaerno5", "rtol": 1e-8, "atol": 1e-8, "t_span": [0, t1],
                                    "n_obs": 20, "steps": steps, "max_steps": 100_000}


def cart_3d_family(scheme, n, quick):
    from tumorjax.cart import NORMALISED, NORMALISED_INITIAL, CARTNumerics, tumour_burden

    if scheme == "reference":
        num = CARTNumerics(nx=n, ny=n, nz=n, T=1.0, dt=0.05, diff_iters=10, diff_tol=0.0)
    else:
        # the step budgets stay at their defaults (max_reaction_steps 100000, chemo_substeps 1024): they
        # also set the checkpoint count of the reverse pass (about sqrt(2 max_steps)); this run takes
        # 65-130 ROS2 steps per half step
        num = CARTNumerics(nx=n, ny=n, nz=n, T=0.5 if quick else 1.0, dt=0.1, rtol=1e-6, atol=1e-8)
    init = NORMALISED_INITIAL.replace(cart_layer=0.4, tumor_radius=0.35, cart_radius=0.3, dose2=0.05,
                                      t_dose2=0.5)
    names = ("rho_C", "k_e0", "chi_0", "dose2")
    x0 = jnp.array([0.55, 0.05, 0.1, 0.05])

    def f(x):
        return tumour_burden(_replace(NORMALISED, names[:3], x), init.replace(dose2=x[3]), num, scheme)

    variants = {"reverse (default)": jax.grad(f)}
    if scheme == "reference":  # the accurate scheme's checkpointed while loops are reverse-mode only
        variants["forward (jacfwd)"] = jax.jacfwd(f)
    return names, x0, f, variants, {
        "grid": f"{n}^3", "dt": num.dt, "T": num.T, "steps": num.n_steps,
        **({"diff_iters": 10} if scheme == "reference" else
           {"rtol": num.rtol, "atol": num.atol, "max_reaction_steps": num.max_reaction_steps,
            "chemo_substeps": num.chemo_substeps})}


def oncolytic_family(mode, quick, N=40, t_end=None):
    from tumorjax.oncolytic import OncolyticParams, RadialConfig, solve_radial, stable_step

    p0 = OncolyticParams()
    L = 4.0
    t_end = t_end or (4.0 if quick else 12.0)
    if mode == "explicit":
        dt = 0.9 * stable_step(p0, RadialConfig(L=L, N=N))["stable"]
        dt = 1.0 / math.ceil(1.0 / dt)
    else:
        dt = 0.04
    cfg = RadialConfig(L=L, N=N, mode=mode, dt=dt)
    names = ("beta", "zeta", "chi")
    x0 = jnp.array([0.102, 0.5, 0.165])

    def f(x):
        return solve_radial(_replace(p0, names, x), cfg, t_end)["U_total"][-1]

    return names, x0, f, {"reverse (default)": jax.grad(f), "forward (jacfwd)": jax.jacfwd(f)}, {
        "N": N, "L_mm": L, "dt_h": dt, "t_end_h": t_end, "steps": int(round(t_end / dt))}


def kinetic_family(which, quick, n_cells=100, t_end=None):
    import tumorjax.kinetic as K
    from tumorjax.numerics import FVGrid

    t_end = t_end or (0.5 if quick else 2.0)
    rng = np.random.default_rng(0)
    if which == "macroscopic":
        model = K.MacroscopicModel(regime="cross", grid=FVGrid((n_cells,), 1.0))
        p0 = K.ConservativeParams()
        n0 = jnp.asarray(rng.uniform(0.1, 1.0, (2, n_cells)))
        dt = 0.9 * float(model.stable_dt(p0))
    else:
        model = K.MacroscopicModel(regime="linear", case="conservative", grid=FVGrid((n_cells,), 1.0))
        p0 = K.ConservativeParams()
        n0 = jnp.asarray(rng.uniform(0.1, 1.0, (3, n_cells)))
        kp = K.KineticParams(epsilon=0.1)
        dt = 0.9 * float(K.kinetic_stable_dt(model, p0, kp))
    names = ("A", "B", "C")
    x0 = jnp.array([2.0, 1.0, 1.0])
    n_save = 2

    def f(x):
        p = _replace(p0, names, x)
        if which == "macroscopic":
            sol = K.solve_macroscopic(model, p, n0, t_end, dt=dt, n_save=n_save)
        else:
            sol, _ = K.solve_kinetic(model, p, kp, n0, t_end, dt=dt, n_save=n_save)
        return sol.masses()[-1, 0]

    k = math.ceil(t_end / dt * (1 - 1e-12))
    return names, x0, f, {"reverse (default)": jax.grad(f), "forward (jacfwd)": jax.jacfwd(f)}, {
        "cells": n_cells, "dt": t_end / k, "t_end": t_end, "steps": k,
        **({"epsilon": 0.1} if which == "dvm" else {"regime": "cross", "scheme": "explicit"})}


def cases(only, quick, grid):
    out = []
    if "ode" in only:
        out.append(("tumour-effector ODE (Kuznetsov)", lambda: ode_family(quick)))
    if "dde" in only:
        out.append(("delayed tumour-effector DDE", lambda: dde_family(quick)))
    if "cart_homogeneous" in only:
        out.append(("CAR-T homogeneous ODE (stiff)", lambda: cart_homogeneous_family(quick)))
    if "cart_3d" in only:
        out.append((f"CAR-T 3D {grid}^3, reference", lambda: cart_3d_family("reference", grid, quick)))
        out.append((f"CAR-T 3D {grid}^3, accurate", lambda: cart_3d_family("accurate", grid, quick)))
    if "oncolytic" in only:
        out.append(("radial oncolytic PDE, explicit, N=40", lambda: oncolytic_family("explicit", quick)))
        out.append(("radial oncolytic PDE, IMEX, N=40", lambda: oncolytic_family("imex", quick)))
        if not quick:
            out.append(("radial oncolytic PDE, explicit, N=400",
                        lambda: oncolytic_family("explicit", quick, 400, 4.0)))
            out.append(("radial oncolytic PDE, IMEX, N=400",
                        lambda: oncolytic_family("imex", quick, 400, 4.0)))
    if "kinetic" in only:
        out.append(("kinetic macroscopic PDE 1D, 100 cells", lambda: kinetic_family("macroscopic", quick)))
        out.append(("kinetic DVM 1D, 100 cells", lambda: kinetic_family("dvm", quick)))
        if not quick:
            out.append(("kinetic macroscopic PDE 1D, 1000 cells",
                        lambda: kinetic_family("macroscopic", quick, 1000, 0.5)))
            out.append(("kinetic DVM 1D, 1000 cells", lambda: kinetic_family("dvm", quick, 1000, 0.5)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="shorter horizons and timing batches (smoke run; ratios are noisier)")
    ap.add_argument("--only", default=",".join(FAMILIES),
                    help=f"comma-separated families to run (default all: {','.join(FAMILIES)})")
    ap.add_argument("--grid", type=int, default=None,
                    help="CAR-T 3D nodes per axis (default 8; 5 with --quick)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timing batches per measurement (default 5; 3 quick)")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON output (default benchmarks/results/gradient_cost.json; a --quick run writes "
                         "nothing unless --out is given)")
    a = ap.parse_args(argv)
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = sorted(set(only) - set(FAMILIES))
    if bad:
        ap.error(f"unknown families {bad}; choose from {FAMILIES}")
    grid = a.grid or (5 if a.quick else 8)
    repeats = a.repeats or (3 if a.quick else 5)
    budget = 0.1 if a.quick else 0.4
    load = os.getloadavg()
    print(f"gradient cost / forward cost, float64, {jax.devices()[0]}, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}{' (quick)' if a.quick else ''}", flush=True)
    results = {}
    for label, build in cases(only, a.quick, grid):
        fam_load = os.getloadavg()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names, x0, f, variants, size = build()
            r = measure(f, x0, variants=variants, budget=budget, repeats=repeats)
        r.update(params=list(names), x0=np.asarray(x0).tolist(), problem=size, load_average_before=fam_load)
        results[label] = r
        print(f"{label}  [{', '.join(names)}]  {size}", flush=True)
        print(f"    forward {r['forward_ms']:9.3f} ms  (compile {r['forward_compile']['compile_s']:.1f} s)",
              flush=True)
        for vlabel, v in r["variants"].items():
            print(f"    {vlabel:<62} {v['gradient_ms']:9.3f} ms  ratio {v['ratio']:6.2f}  "
                  f"{'MET' if v['met'] else 'NOT MET'}  (compile {v['compile']['compile_s']:.1f} s, "
                  f"|g0 - fd|/|fd| {v['fd_rel_err_0']:.1e})", flush=True)
    load_end = os.getloadavg()
    out = a.out or (None if a.quick else ROOT / "benchmarks" / "results" / "gradient_cost.json")
    result = record("gradient_cost", precision="float64", target_ratio=TARGET, quick=a.quick,
                    timer="time.process_time", load_average_start=load, load_average_end=load_end,
                    families=results)
    if out is None:
        print("quick run: nothing written (give --out to keep it)")
        return
    if out.exists() and set(only) != set(FAMILIES):  # a partial run updates its families only
        old = json.loads(out.read_text())
        if old.get("quick") == a.quick:
            old["families"].update(results)
            result["families"] = old["families"]
            result["command"] = [*np.atleast_1d(old["command"]).tolist(), result["command"]]
    write_json(out, result)


if __name__ == "__main__":
    main()
