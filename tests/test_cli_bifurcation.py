"""`tumorjax bifurcation`: branches, special points, cycles and a figure from a scenario (float64)."""

import csv
import json

import numpy as np
import pytest

from tumorjax.cli import main


def test_bifurcation_kuznetsov_fold(tmp_path, capsys):
    out = tmp_path / "bif"
    args = ["bifurcation", "te-kuznetsov", "--param", "s", "--range", "1000", "60000", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "fold" in text and "wrote" in text
    rows = list(csv.reader((out / "branches.csv").open()))
    assert rows[0] == ["branch", "s", "T", "E", "stable", "n_unstable"]
    data = np.array(rows[1:], dtype=float)
    assert data[:, 1].min() == pytest.approx(1000) and data[:, 1].max() == pytest.approx(60000)
    summary = json.loads((out / "special_points.json").read_text())
    folds = [s for b in summary["branches"] for s in b["special_points"] if s["kind"] == "fold"]
    assert len(folds) == 1 and 2e4 < folds[0]["param"] < 2.3e4 and folds[0]["located"] is True
    assert (out / "bifurcation.png").stat().st_size > 10_000
    assert not (out / "cycles.csv").exists()  # no Hopf point, no cycles


def test_bifurcation_oncolytic_hopf_json_and_cycles(tmp_path, capsys):
    out = tmp_path / "ov"
    args = ["bifurcation", "ov-ode-weak", "--param", "zeta", "--range", "0.3", "0.45", "--out", str(out), "--json",
            "--no-figure"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    hopf = [s for b in summary["branches"] for s in b["special_points"] if s["kind"] == "hopf"]
    assert len(hopf) == 1 and hopf[0]["param"] == pytest.approx(0.38698, abs=1e-5)
    assert hopf[0]["period"] == pytest.approx(2 * np.pi / hopf[0]["omega"])
    rows = list(csv.reader((out / "cycles.csv").open()))
    assert rows[0][:3] == ["hopf_branch", "zeta", "period"] and len(rows) > 5
    assert not (out / "bifurcation.png").exists()


@pytest.mark.parametrize("args, message", [
    (["te-kuznetsov", "--param", "sigma", "--range", "0", "1"], "has no parameter 'sigma'; parameters: r, K,"),
    (["te-kuznetsov", "--param", "s", "--range", "-5", "100"], "leaves its admissible domain: s"),
    (["dde-hutchinson-cycle", "--param", "r", "--range", "0.5", "1"], "needs an ODE scenario"),
    (["no-such-scenario", "--param", "r", "--range", "0.5", "1"], "unknown scenario"),
])
def test_bifurcation_errors(args, message, tmp_path, capsys):
    assert main(["bifurcation", *args, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
