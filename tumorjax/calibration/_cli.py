"""`tumorjax fit`: growth laws fitted to every subject of a data set; CSV, JSON and PNG outputs."""

import json
import pathlib
import sys
import time

import numpy as np

from ..core._progress import _draw
from ..core._scenario import _jsonable, write_csv
from ..data import LOADERS, read_csv
from ._fit import fit_subjects
from ._growth import BENZEKRY_ALPHA, growth_problem
from ._noise import Gaussian, LogNormal, Power, Proportional

NOISE = {"power": lambda: Power(sigma=0.2, exponent=BENZEKRY_ALPHA), "proportional": lambda: Proportional(0.2),
         "gaussian": lambda: Gaussian(50.0), "lognormal": lambda: LogNormal(0.2)}


def load_data(name: str, data_dir=None, subjects=None, conditions=None):
    """A shared data set by short name (`llc`, `laleh`, `conte`) or a tidy CSV path, optionally narrowed."""
    if name in LOADERS:
        data = LOADERS[name](data_dir)
    else:
        data = read_csv(name, allow_negative_times=True)
    if subjects or conditions:
        data = data.select(subjects=subjects, conditions=conditions)
    return data


def comparison_table(fits: dict) -> dict[str, np.ndarray]:
    """Per law: total NLL, sum of AIC/BIC over subjects, median RMSE, subjects converged."""
    return {
        "law_index": np.arange(len(fits)),
        "n_params_per_subject": np.array([f.reports[0].n_params for f in fits.values()]),
        "total_nll": np.array([f.nll for f in fits.values()]),
        "sum_aic": np.array([f.aic for f in fits.values()]),
        "sum_bic": np.array([f.bic for f in fits.values()]),
        "median_rmse": np.array([np.median(f.columns()["rmse"]) for f in fits.values()]),
        "converged": np.array([f.columns()["converged"].sum() for f in fits.values()]),
    }


def start_warnings(data, t0: float, V0: float, fit_V0: bool) -> list[str]:
    """Why a fixed start `V0` at `t0` may not suit `data` (the growth laws' defaults describe caliper volumes)."""
    if fit_V0:
        return []
    out = []
    if t0 < 0:
        out.append(f"V0 = {V0:g} is fixed at t0 = {t0:g} {data.time_unit} (the earliest time) for every subject; "
                   "pass --fit-v0 to fit each subject's start")
    if data.unit != "mm^3":
        out.append(f"the values are in {data.unit}, while V0 = {V0:g} and the default noise model are for volumes in "
                   "mm^3; pass --fit-v0 (or --v0 in the data's unit)")
    return out


def run_fit(args) -> int:
    """Fit each `--model` law to every subject (one vmapped call per law) and write the outputs."""
    from ..core import enable_x64

    enable_x64()  # likelihoods and Hessians need float64
    subjects = args.subjects.split(",") if args.subjects else None
    data = load_data(args.data, args.data_dir, subjects, args.condition)
    t0 = min(0.0, float(data.time.min()))
    warnings = start_warnings(data, t0, args.v0, args.fit_v0)
    for w in warnings:
        print(f"tumorjax fit: warning: {w}", file=sys.stderr)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fits, start = {}, time.perf_counter()
    for i, law in enumerate(args.model):
        if args.progress:
            _draw(i / len(args.model))
        problem = growth_problem(law, V0=args.v0, t0=t0, noise=NOISE[args.noise](), fit_V0=args.fit_v0)
        fits[law] = fit_subjects(problem, data, n_starts=args.starts, optimizer=args.optimizer,
                                 max_steps=args.max_steps)
    if args.progress:
        _draw(1.0)
        print(file=sys.stderr)
    table = comparison_table(fits)
    order = np.argsort(table["sum_aic"])
    for law, f in fits.items():
        f.to_csv(out / f"fits_{law}.csv")
        f.plot(out / f"fit_{law}.png", log=args.data != "conte")
    write_csv(out / "comparison.csv", table)
    summary = {"data": data.describe(), "source": data.source, "noise": args.noise, "V0": args.v0, "t0": t0,
               "fit_V0": args.fit_v0, "warnings": warnings, "laws": list(fits), "subjects": data.subjects,
               "ranking_by_sum_aic": [list(fits)[j] for j in order], "wall_time_s": time.perf_counter() - start,
               "comparison": {law: {k: v[j] for k, v in table.items() if k != "law_index"}
                              for j, law in enumerate(fits)},
               "fits": {law: f.as_dict() for law, f in fits.items()}}
    (out / "fit.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    print(data.describe())
    print(f"{'law':<12} {'k':>2} {'total NLL':>11} {'sum AIC':>10} {'sum BIC':>10} {'med RMSE':>10} {'conv':>5}")
    for j in order:
        print(f"{list(fits)[j]:<12} {table['n_params_per_subject'][j]:>2} {table['total_nll'][j]:>11.2f} "
              f"{table['sum_aic'][j]:>10.2f} {table['sum_bic'][j]:>10.2f} {table['median_rmse'][j]:>10.4g} "
              f"{int(table['converged'][j]):>3}/{len(data.subjects)}")
    for path in sorted(out.iterdir()):
        print(f"wrote {path}")
    return 0
