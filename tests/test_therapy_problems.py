"""Worked problem (a), seed 000: the optimiser beats a grid search with fewer simulations; the CLI."""

import json

import numpy as np
import pytest

import tumorjax as tj
from tumorjax import therapy as th
from tumorjax.cli import main

tj.enable_x64()


def test_infusion_control_beats_grid_and_constant_dose():
    """(a) seed 000: cheapest 4-interval infusion with T(60) <= T(0) = 1e5 cells."""
    problem = th.infusion_control(n_doses=4)
    grid = th.grid_search(problem, n_levels=4)  # 5^4 = 625 schedules
    opt = th.optimize_schedule(problem, steps=40, starts=8, learning_rate=0.1)
    assert opt.n_simulations < grid.n_simulations / 1.5
    assert opt.value < grid.value
    assert opt.terms["target_excess"] < 1e-3 and opt.terms["ok"]  # at the threshold: final burden <= 1.001 T_c
    assert max(opt.residuals.values()) < 1e-12  # projected Adam: every constraint exactly
    base = th.constant_infusion_baseline(problem)
    assert base["target_met"] and base["constant_final_burden"] <= problem.target
    assert base["u_min_final_burden"] > problem.target  # u_min is a local threshold: it does not control this tumour
    assert float(opt.schedule.total) < base["constant_total"]  # cheaper than the cheapest constant infusion


def test_cli_optimize_writes_its_files(tmp_path, capsys):
    out = tmp_path / "opt"
    rc = main(["optimize", "te-infusion", "--doses", "3", "--horizon", "30", "--steps", "5", "--starts", "2",
               "--out", str(out)])
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"schedule.csv", "optimize.json", "figure.png"}
    summary = json.loads((out / "optimize.json").read_text())
    assert summary["report"]["n_simulations"] == 2 * 5 + 1
    assert summary["constant_dose_baseline"]["u_min"] == pytest.approx(1.9e5)
    rows = np.loadtxt(out / "schedule.csv", delimiter=",", skiprows=1)
    assert rows.shape == (3, 3) and np.all(rows[:, 2] >= 0)


@pytest.mark.parametrize("argv, message", [
    (["optimize", "nope"], "unknown problem 'nope'"),
    (["optimize", "cart-doses", "--doses", "3", "--total", "1", "--max-dose", "0.2"], "n_doses * max_dose"),
    (["optimize", "cart-doses", "--doses", "4", "--min-interval", "20"], "(n_doses - 1) * min_interval"),
    (["optimize", "te-infusion", "--min-interval", "2"], "min_interval applies to bolus"),
    (["optimize", "te-infusion", "--steps", "0"], "steps must be"),
    (["optimize", "te-infusion", "--starts", "-1"], "starts must be an integer >= 1, got -1"),
    (["optimize", "te-infusion", "--learning-rate", "0"], "learning_rate must be a finite number > 0, got 0.0"),
    (["optimize", "te-infusion", "--learning-rate", "nan"], "learning_rate must be a finite number > 0, got nan"),
    (["optimize", "ov-injections", "--steps", "0"], "steps must be an integer >= 1, got 0"),  # before the sweep
])
def test_cli_optimize_bad_input_exits_2(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("tumorjax: error: optimize:") and "\n" not in err


def test_constant_baseline_flags_a_max_dose_that_misses_the_target():
    """A rate cap of 1e4 cells/day (u_min / 19) cannot hold the tumour at 1e5 cells: no constant rate meets it."""
    problem = th.infusion_control(n_doses=2, horizon=30.0, max_dose=1e4)
    base = th.constant_infusion_baseline(problem)
    assert not base["target_met"] and base["constant_rate"] is None and base["constant_total"] is None
    assert base["constant_final_burden"] > 2 * problem.target and base["n_simulations"] == 2


def test_cli_optimize_exits_1_when_the_best_schedule_failed(tmp_path, capsys, monkeypatch):
    from tumorjax.therapy import _cli

    def failed(*args, **kwargs):
        report = th.optimize_schedule(*args, **kwargs)
        report.terms["ok"] = False
        return report

    monkeypatch.setattr(_cli, "optimize_schedule", failed)
    out = tmp_path / "opt"
    assert main(["optimize", "te-infusion", "--doses", "3", "--horizon", "30", "--steps", "5", "--starts", "2",
                 "--out", str(out)]) == 1  # as test_cli_optimize_writes_its_files: its compilations are reused
    assert "simulation failed" in capsys.readouterr().out and (out / "optimize.json").is_file()
