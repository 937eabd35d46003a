"""`tumorjax optimize`: optimise a worked problem's schedule; schedule.csv, optimize.json, figure.png."""

import dataclasses
import json
import pathlib
import sys

import numpy as np

from ..core._progress import _draw
from ..core._scenario import _jsonable, write_csv
from ._optimize import check_settings, optimize_schedule
from ._oncolytic import threshold_rule, threshold_schedule
from ._problems import PROBLEMS, constant_infusion_baseline, untreated


def build_problem(args):
    """The worked problem named by `args.problem` with the command line's overrides (ValueError if bad)."""
    if args.problem not in PROBLEMS:
        raise ValueError(f"unknown problem {args.problem!r}; choose from {', '.join(PROBLEMS)}")
    kw = {k: v for k, v in (("n_doses", args.doses), ("total", args.total), ("max_dose", args.max_dose),
                            ("min_interval", args.min_interval), ("objective", args.objective),
                            ("horizon", args.horizon)) if v is not None}
    return PROBLEMS[args.problem](**kw)


def plot(problem, report, path):
    """Burden with and without therapy (log scale), dose markers and the control threshold."""
    import matplotlib.pyplot as plt

    ts, ys, _ = problem.simulate(report.schedule)
    t0, b0 = untreated(problem)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(t0, b0, color="0.5", label="no therapy")
    ax.semilogy(np.asarray(ts), np.asarray(problem.burden(ys)), color="C3", label="optimised schedule")
    if problem.target:
        ax.axhline(problem.target, ls=":", color="k", label="control threshold")
    s = report.schedule
    if hasattr(s, "times"):
        for t, a in zip(np.asarray(s.times), np.asarray(s.amounts)):
            ax.axvline(t, color="C0", alpha=0.3 + 0.7 * a / max(float(np.max(s.amounts)), 1e-300))
        ax.plot([], [], color="C0", label=f"doses into {s.state}")
    else:
        twin = ax.twinx()
        twin.stairs(np.asarray(s.rates), s.edges, color="C0", label="infusion rate")
        twin.set_ylabel("infusion rate")
        ax.plot([], [], color="C0", label="infusion rate")
    ax.set_xlabel(f"t [{problem.time_units}]")
    ax.set_ylabel("tumour burden " + "+".join(problem.burden_states))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_optimize(args) -> int:
    """Optimise, then write schedule.csv (one row per dose), optimize.json and figure.png; 1 if the best failed."""
    from ..core import enable_x64

    check_settings(args.steps, args.starts, args.learning_rate)  # before the set-up (ov-injections: a sweep)
    enable_x64()
    problem = build_problem(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.progress:
        _draw(0.0)
    init, rule = (), None
    if args.problem == "ov-injections":  # one start refines the Fig. 12 rule with as many injections
        rule = threshold_rule(problem)
        if rule["best_same_count"] is not None:
            init = (threshold_schedule(problem, rule["best_same_count"]["threshold"]),)
    report = optimize_schedule(problem, steps=args.steps, starts=args.starts, method=args.method, init=init,
                                learning_rate=args.learning_rate)
    if args.progress:
        _draw(1.0)
        print(file=sys.stderr)
    s = report.schedule
    if hasattr(s, "times"):
        order = np.argsort(np.asarray(s.times))
        write_csv(out / "schedule.csv",
                  {"time": np.asarray(s.times)[order], "amount": np.asarray(s.amounts)[order]})
    else:
        write_csv(out / "schedule.csv", {"start": np.asarray(s.edges[:-1]), "end": np.asarray(s.edges[1:]),
                                         "rate": np.asarray(s.rates)})
    summary = {"problem": args.problem, "objective": problem.objective,
               "constraints": dataclasses.asdict(problem.constraints),
               "report": report.as_dict()}
    if args.problem == "te-infusion":
        summary["constant_dose_baseline"] = constant_infusion_baseline(problem)
    if rule is not None:
        summary["threshold_rule"] = rule
    (out / "optimize.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    plot(problem, report, out / "figure.png")
    print(f"{args.problem}: objective {problem.objective} = {report.value:.6g} after {report.n_simulations} "
          f"simulations ({report.wall_time_s:.1f} s); total dose {float(s.total):.6g}")
    if not report.terms["ok"]:
        print(f"{args.problem}: the best schedule's simulation failed (ok = false)")
    for path in sorted(out.iterdir()):
        print(f"wrote {path}")
    return 0 if report.terms["ok"] else 1
