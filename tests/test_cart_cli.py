"""`tumorjax run cart-...`: scheme option, --set for numerics and initial values, reference params JSON."""

import csv
import json

import pytest

from tumorjax.cli import main


def test_reference_params_json_and_sets(shared, tmp_path, capsys):
    out = tmp_path / "ref"
    params = shared / "reference/cart/small_overlap_params.json"
    assert main(["run", "cart-reference-small", "--params", str(params), "--set", "nx=5", "--set", "ny=5",
                 "--set", "nz=5", "--set", "T=0.03", "--set", "diff_iters=20", "--set", "tumor_value=2e7",
                 "--x64", "--no-figure", "--out", str(out)]) == 0
    rows = list(csv.reader((out / "timeseries.csv").open()))
    header = rows[0]
    assert header[:15] == ["t"] + [f"{k}_{f}" for k in ("mean", "max") for f in ("C", "E", "TA", "TB", "S", "A", "H")]
    assert len(rows) == 1 + 4 and float(rows[-1][0]) == pytest.approx(0.03)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scheme"] == "reference" and summary["numerics"]["diff_iters"] == 20
    assert summary["parameters"]["lambda_S"] == 0.46 and summary["parameters"]["cart_layer"] == 0.4
    assert summary["parameters"]["tumor_value"] == 2e7 and summary["numerics"]["nx"] == 5
    assert (out / "profiles_x.csv").is_file() and (out / "slices_z.npz").is_file()


def test_accurate_scheme_with_figure(tmp_path, capsys):
    out = tmp_path / "acc"
    assert main(["run", "cart-3.2-infiltration", "--scheme", "accurate", "--set", "nx=5", "--set", "ny=5",
                 "--set", "nz=5", "--set", "dt=0.05", "--t-end", "0.2", "--set", "save_every=2", "--x64",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scheme"] == "accurate" and summary["status"] == "success"
    assert summary["parameters"]["mu_0"] == 0.0 and summary["final_state"]["mean_TB"] == 0.0
    assert (out / "figure.png").stat().st_size > 10_000


@pytest.mark.parametrize("argv, message", [
    (["run", "cart-reference-small", "--set", "nx=2"], "at least 3 nodes"),
    (["run", "cart-reference-small", "--set", "foo=1"], "unknown parameter(s) ['foo']"),
    (["run", "cart-reference-small", "--set", "D_H=-1"], "D_H"),
    (["run", "cart-reference-small", "--set", "exp_substeps=1.5"], "must be an integer"),
    (["run", "cart-3.1-homogeneous", "--scheme", "accurate"], "does not take --scheme"),
])
def test_errors(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_partial_regression_preset(tmp_path):
    """Sec. 3.2 (T_B = 0) with gamma = 1: the antigen-positive tumour grows while the CAR-T cells
    infiltrate, then regresses by a large fraction and relapses (12^3 grid, reference scheme, T 24)."""
    out = tmp_path / "reg"
    assert main(["run", "cart-3.2-regression", "--set", "nx=12", "--set", "ny=12", "--set", "nz=12",
                 "--set", "save_every=100", "--t-end", "24", "--x64", "--no-figure", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "timeseries.csv").open()))
    t = [float(r["t"]) for r in rows]
    ta = [float(r["mean_TA"]) for r in rows]
    k = ta.index(max(ta))
    j = k + ta[k:].index(min(ta[k:]))
    assert 1.0 <= t[k] <= 6.0 and 8.0 <= t[j] <= 20.0  # peak while C arrives, trough after
    assert ta[j] < 0.7 * ta[k]  # a regression of more than 30 % (43 % measured)
    assert ta[-1] > 1.2 * ta[j]  # relapse: not eradicated
    assert all(float(r["mean_TB"]) == 0.0 for r in rows)
