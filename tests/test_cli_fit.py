"""`tumorjax fit`: outputs and errors (float64; runs the CLI in-process so the compiled fit is shared)."""

import json

import numpy as np
import pytest

from conftest import SHARED
from tumorjax import data as tjd
from tumorjax.calibration._cli import start_warnings
from tumorjax.cli import main

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside the repository")


def test_fit_llc_writes_csv_json_png(tmp_path, capsys):
    out = tmp_path / "fit"
    code = main(["fit", "--data", "llc", "--data-dir", str(SHARED / "data"), "--model", "gompertz",
                 "--subjects", "mouse0,mouse1,mouse2", "--starts", "4", "--out", str(out), "--progress"])
    assert code == 0
    captured = capsys.readouterr()
    assert "gompertz" in captured.out and "wrote" in captured.out and "100.0%" in captured.err
    for name in ("fits_gompertz.csv", "comparison.csv", "fit.json", "fit_gompertz.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "fit.json").read_text())
    assert summary["warnings"] == [] and "warning" not in captured.err
    assert summary["subjects"] == ["mouse0", "mouse1", "mouse2"] and summary["ranking_by_sum_aic"] == ["gompertz"]
    table = np.genfromtxt(out / "fits_gompertz.csv", delimiter=",", names=True)
    assert table.shape == (3,) and np.all(table["converged"] == 1) and np.all(table["r"] > 0)


def test_fit_errors_are_one_line(tmp_path, capsys):
    assert main(["fit", "--data", "llc", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "data folder" in capsys.readouterr().err
    assert main(["fit", "--data", "llc", "--data-dir", str(SHARED / "data"), "--subjects", "mouse99",
                 "--out", str(tmp_path)]) == 2
    assert "no subject ['mouse99']" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("subject,time,value\na,0,1\na,1,nan\n")
    assert main(["fit", "--data", str(bad), "--out", str(tmp_path)]) == 2
    assert "NaN" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", "--data", "llc", "--model", "richards"])


def test_a_fixed_start_that_does_not_suit_the_data_is_warned_about():
    """Laleh 2022: diameters in mm from day -48; a fixed V0 = 1 mm^3 at t0 = -48 suits neither."""
    laleh = tjd.load_laleh(SHARED / "data")
    t0 = min(0.0, float(laleh.time.min()))
    first, second = start_warnings(laleh, t0, 1.0, False)
    assert f"fixed at t0 = {t0:g} day" in first and "values are in mm," in second
    assert start_warnings(laleh, t0, 1.0, True) == []
    assert start_warnings(tjd.load_llc(SHARED / "data"), 0.0, 1.0, False) == []
