"""Delay scenarios and `tumorjax sweep` (float64)."""

import csv
import json

import numpy as np
import pytest

from tumorjax import get_scenario
from tumorjax.cli import main


def test_hutchinson_scenarios_damp_and_cycle():
    damped = get_scenario("dde-hutchinson-damped").run()
    cycle = get_scenario("dde-hutchinson-cycle").run()
    assert damped.ok and cycle.ok
    # r*tau = 1.2: the rightmost roots have Re < 0, so the envelope shrinks over the window
    assert damped.metrics["growth_N"] < 0.1 and abs(damped.columns["N"][-1] - 1.0) < 1e-3
    assert cycle.metrics["amplitude_N"] > 1.0 and abs(cycle.metrics["growth_N"] - 1.0) < 1e-3
    # r*tau = 2: the period exceeds the onset value 4*tau (it grows with amplitude)
    assert 4.0 < cycle.metrics["period_N"] / 2.0 < 5.0


def test_sweep_columns_and_onset():
    cols = get_scenario("dde-hutchinson-cycle").sweep("tau", np.linspace(1.0, 2.0, 11))
    assert set(cols) == {"tau", "amplitude_N", "period_N", "growth_N", "final_N", "status"}
    assert np.all(cols["status"] == 0)
    amp = cols["amplitude_N"]
    assert np.all(amp[cols["tau"] < 1.4] < 0.05) and np.all(amp[cols["tau"] > 1.7] > 0.5)


def test_sweep_order_does_not_matter():
    # the horizon (n_intervals) comes from the smallest delay of the sweep, wherever it is listed
    scenario = get_scenario("dde-hutchinson-cycle")
    up, down = scenario.sweep("tau", [1.0, 2.0], t_end=40.0), scenario.sweep("tau", [2.0, 1.0], t_end=40.0)
    for k in up:
        np.testing.assert_allclose(down[k][::-1], up[k], rtol=1e-12, atol=1e-15, err_msg=k)
    assert np.all(up["status"] == 0)
    # r*tau = 1 < pi/2: the run settles at N = K = 1
    assert abs(up["final_N"][0] - 1.0) < 1e-2


def test_cli_run_and_sweep(tmp_path, capsys):
    assert main(["run", "dde-hutchinson-cycle", "--set", "tau=1.8", "--out", str(tmp_path / "r"), "--x64"]) == 0
    rows = list(csv.reader((tmp_path / "r" / "timeseries.csv").open()))
    assert rows[0] == ["t", "N"]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["parameters"]["tau"] == 1.8 and summary["metrics"]["amplitude_N"] > 0.5
    out = tmp_path / "s"
    assert main(["sweep", "dde-hutchinson-cycle", "--param", "tau", "--range", "1", "2", "--n", "6",
                 "--out", str(out), "--x64"]) == 0
    header = (out / "sweep.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "tau" and "period_N" in header and (out / "sweep.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["sweep", "te-kuznetsov", "--param", "r", "--range", "0", "1"], "has no sweep"),
    (["sweep", "dde-hutchinson-cycle", "--param", "foo", "--range", "0", "1"], "unknown parameter(s) ['foo']"),
    (["sweep", "dde-hutchinson-cycle", "--param", "tau", "--range", "-1", "1"], "must be > 0"),
    (["sweep", "dde-hutchinson-cycle", "--param", "tau", "--range", "2", "1"], "A < B"),
    (["run", "dde-hutchinson-cycle", "--set", "tau=0"], "tau"),
    (["run", "dde-hutchinson-cycle", "--set", "tau=500"], "exceeds the horizon"),
])
def test_cli_errors(argv, message, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_tumour_immune_scenarios_either_side_of_the_hopf_point():
    damped = get_scenario("dde-tumour-immune-damped").run()
    cycle = get_scenario("dde-tumour-immune").run()
    for r in (damped, cycle):
        assert r.ok
        np.testing.assert_allclose(r.metrics["tau_star"], 2.647597975575304, rtol=1e-10)
        np.testing.assert_allclose([r.metrics["equilibrium"]["T"], r.metrics["equilibrium"]["E"]], [0.3, 0.35],
                                   rtol=1e-10)
    assert damped.metrics["growth_T"] < 0.1 and abs(damped.columns["T"][-1] - 0.3) < 1e-3
    assert cycle.metrics["amplitude_T"] > 0.1 and abs(cycle.metrics["growth_T"] - 1.0) < 1e-3
    # above onset the period is longer than 2*pi/omega* = 21.07 d (it lengthens with tau)
    assert cycle.metrics["period_T"] > cycle.metrics["period_at_onset"]


def test_oscillation_growth_of_a_flat_signal_is_zero():
    import jax.numpy as jnp

    from tumorjax.analysis import oscillation_metrics

    ts = jnp.linspace(0.0, 10.0, 101)
    flat = oscillation_metrics(ts, 1.0 + 1e-17 * jnp.sin(7 * ts), 0.0)
    assert float(flat["growth"]) == 0.0
    decaying = oscillation_metrics(ts, jnp.exp(-0.2 * ts) * jnp.sin(2 * jnp.pi * ts), 0.0)
    np.testing.assert_allclose(float(decaying["period"]), 1.0, rtol=1e-2)
    assert 0.2 < float(decaying["growth"]) < 0.5  # about exp(-0.2 * 5)
