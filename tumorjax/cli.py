"""The `tumorjax` command line: list, show, run and analyse scenarios."""

import argparse
import json
import pathlib
import sys

_EPILOG = "Examples:\n  tumorjax list\n  tumorjax run te-kuznetsov --out out/kuz --set r=0.2 --x64\n" \
          "  tumorjax equilibria te-kuznetsov --json\n" \
          "  tumorjax sweep dde-hutchinson-cycle --param tau --range 1 2.5 --n 40 --out out/sweep"


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _parse_sets(pairs) -> dict[str, float]:
    values = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CLIError(f"--set expects NAME=VALUE, got {pair!r}")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise CLIError(f"--set {name}: {value!r} is not a number") from None
    return values


def _parameters(scenario, args):
    values = {}
    if getattr(args, "params", None):
        path = pathlib.Path(args.params)
        if not path.is_file():
            raise CLIError(f"--params: no such file {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise CLIError(f"--params: {path} is not valid JSON ({e})") from None
        data = data.get("parameters", data) if isinstance(data, dict) else data  # a summary.json works too
        if not isinstance(data, dict):
            raise CLIError(f"--params: {path} must hold a JSON object of NAME: VALUE, got {type(data).__name__}")
        values.update(data)
    values.update(_parse_sets(args.set))
    try:
        return scenario.params.replace(**values) if values else scenario.params
    except (TypeError, ValueError) as e:
        raise CLIError(f"scenario {scenario.name}: {e}") from None


def _scenario(name):
    from .core import get_scenario

    try:
        return get_scenario(name)
    except ValueError as e:
        raise CLIError(str(e)) from None


def _ode_scenario(args, command):
    """The ODE scenario named in `args` and its parameters, in float64 (Newton and eigenvalues need it)."""
    from .core import ODEScenario, enable_x64

    enable_x64()
    scenario = _scenario(args.scenario)
    if not isinstance(scenario, ODEScenario):
        raise CLIError(f"{command} needs an ODE scenario; {scenario.name} is a {type(scenario).__name__}")
    return scenario, _parameters(scenario, args)


def _prepare(args):
    """Precision first (it applies to everything created after), then scenario and parameters."""
    from .core import enable_x64

    if args.x64:
        enable_x64()
    scenario = _scenario(args.scenario)
    return scenario, _parameters(scenario, args)


def _cmd_list(args):
    from .core import list_scenarios

    rows = [(s.name, s.description, s.source) for s in list_scenarios()]
    if args.json:
        print(json.dumps([dict(name=n, description=d, source=s) for n, d, s in rows], indent=2))
    else:
        width = max(len(n) for n, _, _ in rows)
        for name, description, _ in rows:
            print(f"{name:<{width}}  {description}")
    return 0


def _cmd_show(args):
    scenario = _scenario(args.scenario)
    params = _parameters(scenario, args)
    print(f"{scenario.name}: {scenario.description}\nsource: {scenario.source}\nmodel: {scenario.model_name}")
    print(f"initial state: {scenario.initial_state()}\nparameters:\n{params.describe()}")
    return 0


def _cmd_run(args):
    scenario, params = _prepare(args)
    if args.t_end is not None and not args.t_end > 0:
        raise CLIError(f"--t-end must be positive, got {args.t_end}")
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    options = {k: getattr(args, k) for k in ("replicates", "seed", "scheme") if getattr(args, k) is not None}
    for k in options:
        if k not in scenario.run_options:
            raise CLIError(f"scenario {scenario.name} does not take --{k} (it is deterministic)")
    if options.get("replicates", 1) < 1:
        raise CLIError(f"--replicates must be at least 1, got {options['replicates']}")
    try:
        result = scenario.run(params, t_end=args.t_end, progress=progress, **options)
    except ValueError as e:  # input the model rejects before solving (e.g. a delay beyond the horizon)
        raise CLIError(f"scenario {scenario.name}: {e}") from None
    paths = result.write(args.out, figure=not args.no_figure)
    summary = result.summary()
    print(f"{scenario.name}: {summary['status']} ({result.message}) in {result.wall_time:.3f} s")
    print("final state: " + ", ".join(f"{k} = {v:.6g}" for k, v in summary["final_state"].items()))
    for kind, path in paths.items():
        print(f"wrote {path}")
    return 0 if result.ok else 1


def _cmd_equilibria(args):
    from .analysis import find_equilibria

    if args.n_starts < 1:
        raise CLIError(f"--n-starts must be at least 1, got {args.n_starts}")
    scenario, params = _ode_scenario(args, "equilibria")
    found = find_equilibria(scenario.model, params, n_starts=args.n_starts)
    if args.json:
        print(json.dumps({"scenario": scenario.name, "parameters": params.as_dict(),
                          "equilibria": [e.as_dict() for e in found]}, indent=2))
        return 0
    names = scenario.model.state_names
    for e in found:
        state = ", ".join(f"{n} = {v:.6g}" for n, v in zip(names, e.state))
        eigs = ", ".join(f"{z.real:.4g}{z.imag:+.4g}i" if z.imag else f"{z.real:.4g}" for z in e.eigenvalues)
        print(f"{state:<40} {e.kind:<15} eigenvalues: {eigs}")
    return 0


def _cmd_sweep(args):
    import numpy as np

    from .core._scenario import _jsonable, write_csv
    from .plotting import plot_sweep

    scenario, params = _prepare(args)
    if not hasattr(scenario, "sweep"):
        raise CLIError(f"{scenario.name} has no sweep; sweeps are available for the dde- scenarios")
    lo, hi = args.range
    if not (hi > lo and args.n >= 2):
        raise CLIError(f"--range needs A < B and --n >= 2, got {lo} {hi} and {args.n}")
    try:
        columns = scenario.sweep(args.param, np.linspace(lo, hi, args.n), params=params, t_end=args.t_end)
    except ValueError as e:
        raise CLIError(f"scenario {scenario.name}: {e}") from None
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "sweep.csv", columns)
    summary = {"scenario": scenario.name, "parameter": args.param, "parameters": params.as_dict(),
               "columns": columns}
    (out / "sweep.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    plot_sweep(columns, args.param, scenario.model.state_names, title=scenario.name, path=out / "sweep.png")
    for f in ("sweep.csv", "sweep.json", "sweep.png"):
        print(f"wrote {out / f}")
    return 0


def _add_param_options(p):
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--params", metavar="FILE.json", help="parameter values from a JSON object (or a summary.json)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tumorjax", description=__doc__, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="scenario names with one-line descriptions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("show", help="a scenario's source, initial state and parameters with units")
    p.add_argument("scenario")
    _add_param_options(p)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("run", help="run a scenario; write timeseries.csv, summary.json, figure.png")
    p.add_argument("scenario")
    p.add_argument("--out", default="out", help="output folder (default: out)")
    _add_param_options(p)
    p.add_argument("--t-end", type=float, help="final time (default: the scenario's horizon)")
    p.add_argument("--x64", action="store_true", help="compute in float64 (default float32)")
    p.add_argument("--no-figure", action="store_true", help="skip figure.png")
    p.add_argument("--replicates", type=int, help="stochastic scenarios: number of replicates")
    p.add_argument("--seed", type=int, help="stochastic scenarios: PRNG seed")
    p.add_argument("--scheme", choices=("reference", "accurate"),
                   help="3D CAR-T scenarios: the author's scheme or the accurate one (grid, dt, T, "
                        "exp_substeps, diff_iters, diff_tol and the initial values go through --set)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("sweep", help="oscillation amplitude and period against one parameter (one vmapped call)")
    p.add_argument("scenario")
    p.add_argument("--param", required=True, help="the parameter to sweep, e.g. tau")
    p.add_argument("--range", nargs=2, type=float, required=True, metavar=("A", "B"))
    p.add_argument("--n", type=int, default=50, help="number of values (default 50)")
    p.add_argument("--out", default="out", help="output folder: sweep.csv, sweep.json, sweep.png")
    _add_param_options(p)
    p.add_argument("--t-end", type=float, help="final time (default: the scenario's horizon)")
    p.add_argument("--x64", action="store_true", help="compute in float64")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("equilibria", help="every equilibrium with eigenvalues and stability (float64)")
    p.add_argument("scenario")
    _add_param_options(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--n-starts", type=int, default=256, help="Newton starting points")
    p.set_defaults(func=_cmd_equilibria)

    p = sub.add_parser("bifurcation", help="equilibrium branches, fold/Hopf/branch points and limit cycles "
                                           "against one parameter (float64)")
    p.add_argument("scenario")
    p.add_argument("--param", required=True, help="the continuation parameter, e.g. zeta")
    p.add_argument("--range", nargs=2, type=float, required=True, metavar=("A", "B"),
                   help="from A (where the branches start) to B")
    p.add_argument("--out", default="out", help="output folder: branches.csv, special_points.json, cycles.csv, "
                                                "bifurcation.png")
    _add_param_options(p)
    p.add_argument("--json", action="store_true", help="print the special points as JSON")
    p.add_argument("--no-cycles", action="store_true", help="skip the limit cycles from Hopf points")
    p.add_argument("--no-figure", action="store_true", help="skip bifurcation.png")
    p.add_argument("--max-steps", type=int, default=2000, help="most points per branch (default 2000)")
    p.set_defaults(func=_cmd_bifurcation)

    p = sub.add_parser("fit", help="fit growth laws to every subject of a data set (float64); "
                                   "fits_<law>.csv, comparison.csv, fit.json, fit_<law>.png")
    p.add_argument("--data", required=True, help="llc | laleh | conte (the shared data sets) or a tidy CSV "
                                                 "(subject,condition,time,value,unit)")
    p.add_argument("--data-dir", help="folder of the shared data sets (default: $TUMORJAX_DATA or ../shared/data)")
    p.add_argument("--model", nargs="+", default=["gompertz"],
                   choices=["exponential", "logistic", "gompertz", "bertalanffy", "power"])
    p.add_argument("--subjects", help="comma-separated subject ids (default: all)")
    p.add_argument("--condition", action="append", help="only these conditions (repeatable)")
    p.add_argument("--noise", default="power", choices=["power", "proportional", "gaussian", "lognormal"],
                   help="error model (default power: sd = sigma*V^0.84, Benzekry 2014)")
    p.add_argument("--v0", type=float, default=1.0, help="initial volume at t0 (default 1, i.e. 1 mm^3)")
    p.add_argument("--fit-v0", action="store_true", help="also fit the initial volume")
    p.add_argument("--starts", type=int, default=8, help="multistart: starts per subject, vmapped (default 8)")
    p.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    p.add_argument("--max-steps", type=int, default=200, help="optimiser iterations per start (default 200)")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="progress bar on stderr")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("optimize", help="optimise a therapy schedule by gradient (float64); "
                                        "schedule.csv, optimize.json, figure.png")
    p.add_argument("problem", help="te-infusion (seed 000: cheapest infusion reaching a threshold) | "
                                   "cart-doses (seed 003: split a CAR-T dose into timed boluses) | "
                                   "ov-injections (seed 004: time virus re-injections into the radial PDE)")
    p.add_argument("--doses", type=int, help="number of doses (boluses) or infusion intervals")
    p.add_argument("--total", type=float, help="total dose the schedule must give")
    p.add_argument("--max-dose", type=float, help="largest single dose (infusions: largest rate)")
    p.add_argument("--min-interval", type=float, help="least time between boluses")
    p.add_argument("--horizon", type=float, help="final time (default: the problem's)")
    p.add_argument("--objective", choices=["final", "auc", "ttp", "dose"],
                   help="final or time-integrated burden, minus a smooth time to progression, or the dose "
                        "(default: the problem's)")
    p.add_argument("--method", default="adam", choices=["adam", "lbfgs"],
                   help="projected Adam (default) or L-BFGS with a penalty")
    p.add_argument("--steps", type=int, default=40, help="optimiser iterations per start (default 40)")
    p.add_argument("--starts", type=int, default=4, help="multistart: starts, vmapped (default 4)")
    p.add_argument("--learning-rate", type=float, default=0.05,
                   help="Adam step in the normalised variables (doses / dose unit, times / horizon; default 0.05)")
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="progress bar on stderr")
    p.set_defaults(func=_cmd_optimize)
    return parser


def _cmd_fit(args):
    from .calibration._cli import run_fit

    try:
        return run_fit(args)
    except (ValueError, TypeError) as e:
        raise CLIError(f"fit: {e}") from None


def _cmd_optimize(args):
    from .therapy._cli import run_optimize
    from .therapy._optimize import NoFiniteObjective

    try:
        return run_optimize(args)
    except (ValueError, TypeError) as e:
        raise CLIError(f"optimize: {e}") from None
    except NoFiniteObjective as e:  # not a usage error: every start failed to solve
        print(f"tumorjax: error: optimize: {e}", file=sys.stderr)
        return 1


def _cmd_bifurcation(args):
    from .analysis import bifurcation_diagram
    from .core._scenario import _jsonable

    if args.max_steps < 1:
        raise CLIError(f"--max-steps must be at least 1, got {args.max_steps}")
    scenario, params = _ode_scenario(args, "bifurcation")
    try:
        diagram = bifurcation_diagram(scenario.model, params, args.param, args.range, cycles=not args.no_cycles,
                                      max_steps=args.max_steps)
    except ValueError as e:
        raise CLIError(f"scenario {scenario.name}: {e}") from None
    paths = diagram.write(args.out, figure=not args.no_figure, title=f"{scenario.name}: {args.param}")
    if args.json:
        print(json.dumps(_jsonable(diagram.summary()), indent=2))
    else:
        for i, b in enumerate(diagram.branches):
            print(f"branch {i}: {b.params.size} points, {b.message}")
            for s in b.points:
                state = ", ".join(f"{n} = {v:.6g}" for n, v in zip(b.state_names, s.state))
                print(f"  {s.kind:<12} {args.param} = {s.param:.10g}  ({state})")
        for c in diagram.cycles:
            print(f"limit cycles: {len(c.cycles)}, {c.message}")
    for path in paths.values():
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")  # figures go to files
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as e:
        print(f"tumorjax: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
