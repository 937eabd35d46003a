"""In vitro benchmark (issue 9): the Conte 2025 wells, calibrate on replicates Y1 and Y2, predict Y3.

`tumorjax.invitro.CAROV` (logistic growth, CAR-T killing and expansion, infection, lysis, burst)
fitted jointly to replicates Y1, Y2 of all seven monotherapy conditions (the untreated and virus
wells share one growth rate, each CAR-T ratio has its own: `CONTE_GROUPS`), multistart around
`CONTE_START` in one vmapped L-BFGS call, Fisher standard errors. Then replicate Y3 of every
condition is predicted without refitting: RMSE per condition and overall, in cell index and in
cells, against the replicate floor (RMSE of Y3 against the mean of Y1 and Y2).

    .venv/bin/python benchmarks/bench_invitro.py [--starts 6] [--spread 0.3]

Float64. Writes benchmarks/results/invitro.json.
"""

import argparse
import time
from pathlib import Path

import tumorjax as tj

tj.enable_x64()

from _common import record, write_json  # noqa: E402
from tumorjax.data import load_conte  # noqa: E402
from tumorjax.invitro import (  # noqa: E402
    CONTE_GROUPS, CONTE_START, Wells, WellsProblem, fit_wells, replicate_spread,
)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=6)
    ap.add_argument("--spread", type=float, default=0.3)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    data = load_conte(args.data_dir)
    train = Wells.from_dataset(data, replicates=["Y1", "Y2"])
    test = Wells.from_dataset(data, replicates="Y3")
    problem = WellsProblem(conditions=CONTE_GROUPS, per_condition=("alpha",))
    t0 = time.perf_counter()
    fit = fit_wells(problem, train, start=CONTE_START, n_starts=args.starts, spread=args.spread,
                    max_steps=400)
    seconds = time.perf_counter() - t0
    print(fit.summary())
    seen, held, floor = fit.errors(train), fit.errors(test), replicate_spread(data)
    print(f"\n{'condition':<10} {'fit Y1,Y2':>10} {'Y3 model':>9} {'Y3 floor':>9} {'ratio':>6} "
          f"{'Y3 model [cells]':>17} {'Y3 floor [cells]':>17}")
    for c in [*data.conditions, "overall"]:
        h, f = held["cell_index"][c], floor["cell_index"][c]
        print(f"{c:<10} {seen['cell_index'][c]:>10.3f} {h:>9.3f} {f:>9.3f} {h / f:>6.2f} "
              f"{held['cells'][c]:>17.0f} {floor['cells'][c]:>17.0f}")
    print(f"\nfit + Fisher information: {seconds:.1f} s (compilation included)")
    fit_record = {"names": fit.names, "estimate": fit.estimate.tolist(), "se": fit.se.tolist(),
                  "lower": fit.lower.tolist(), "upper": fit.upper.tolist(), "nll": fit.nll, "aic": fit.aic,
                  "n_obs": fit.n_obs, "converged": fit.converged, "starts_nll": fit.starts_nll.tolist(),
                  "seconds": seconds}
    write_json(Path(__file__).parent / "results" / "invitro.json",
               record("invitro", fit=fit_record, rmse_fit_Y1_Y2=seen, rmse_heldout_Y3=held, rmse_floor_Y3=floor))


if __name__ == "__main__":
    main()
