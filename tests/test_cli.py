"""The tumorjax command line, run in-process and as a console script."""

import csv
import json
import subprocess
import sys

import pytest

from tumorjax.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "te-kuznetsov" in out and "growth-logistic" in out


def test_run_writes_csv_json_png(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "te-invasion", "--out", str(out), "--set", "r=0.25", "--t-end", "60", "--x64"]) == 0
    rows = list(csv.reader((out / "timeseries.csv").open()))
    assert rows[0] == ["t", "T", "E"] and float(rows[-1][0]) == 60.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "te-invasion" and summary["status"] == "success"
    assert summary["parameters"]["r"] == 0.25 and summary["units"]["r"] == "1/day"
    assert summary["precision"] == "float64"
    assert summary["metrics"]["invasion_exponent"] == pytest.approx(0.25 - 0.01)
    assert set(summary["final_state"]) == {"T", "E"} and summary["wall_time_s"] > 0
    assert (out / "figure.png").stat().st_size > 10_000


def test_params_file(tmp_path, capsys):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"r": 0.005}))
    assert main(["run", "te-invasion", "--out", str(tmp_path / "o"), "--params", str(f), "--no-figure"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["parameters"]["r"] == 0.005 and summary["metrics"]["R_T"] < 1


def test_equilibria_json(capsys):
    assert main(["equilibria", "te-invasion", "--set", "r=0.005", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (e,) = data["equilibria"]  # below the threshold only the tumour-free state exists
    assert e["state"] == {"T": 0.0, "E": 1e5} and e["stable"] is True
    assert sorted(x[0] for x in e["eigenvalues"]) == pytest.approx([-0.1, 0.005 - 0.01])


@pytest.mark.parametrize("argv, message", [
    (["run", "nope"], "unknown scenario 'nope'; known scenarios: "),
    (["run", "te-invasion", "--set", "foo=1"], "unknown parameter(s) ['foo']"),
    (["run", "te-invasion", "--set", "r=abc"], "is not a number"),
    (["run", "te-invasion", "--set", "r"], "NAME=VALUE"),
    (["run", "te-invasion", "--set", "delta=-1"], "delta"),
    (["equilibria", "nope"], "unknown scenario"),
])
def test_errors_are_one_clear_line(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path)] if argv[0] == "run" else argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_console_script_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tumorjax", "list"], capture_output=True, text=True, check=True)
    assert "il2-cytokine" in proc.stdout


def test_run_refuses_stochastic_options_for_a_deterministic_scenario(tmp_path, capsys):
    assert main(["run", "growth-logistic", "--out", str(tmp_path), "--seed", "3"]) == 2
    assert "does not take --seed" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("{r: 0.2", "is not valid JSON (Expecting property name"),
    ("[1, 2]", "must hold a JSON object of NAME: VALUE, got list"),
    ('{"parameters": [1, 2]}', "must hold a JSON object of NAME: VALUE, got list"),
])
def test_bad_params_file_is_one_line_exit_2(text, message, tmp_path, capsys):
    f = tmp_path / "p.json"
    f.write_text(text)
    assert main(["show", "te-invasion", "--params", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tumorjax: error: --params:") and message in err and "\n" not in err


@pytest.mark.parametrize("argv, message", [
    (["equilibria", "te-invasion", "--n-starts", "0"], "--n-starts must be at least 1, got 0"),
    (["equilibria", "te-invasion", "--n-starts", "-5"], "--n-starts must be at least 1, got -5"),
    (["bifurcation", "te-invasion", "--param", "r", "--range", "0.1", "0.2", "--max-steps", "0"],
     "--max-steps must be at least 1, got 0"),
])
def test_analysis_counts_below_one_exit_2(argv, message, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "bifurcation" else [])) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tumorjax: error: {message}"
