"""The scenario catalogue: every scenario runs and reports what its description claims."""

import numpy as np
import pytest

from tumorjax.core import ODEScenario, get_scenario, list_scenarios
from tumorjax.dde._scenarios import DDEScenario

NAMES = [s.name for s in list_scenarios()]
# ODE and delay scenarios run at their full defaults in seconds; the spatial and stochastic ones
# (CAR-T 3D, radial/2-D PDE, lattice ABM, kinetic PDEs) take minutes to hours at theirs and are run
# on small grids by their own families' tests (test_cart_cli, test_oncolytic_pde, test_oncolytic_abm,
# test_kinetic_pde).
ODE_NAMES = [s.name for s in list_scenarios() if isinstance(s, (ODEScenario, DDEScenario))]


def test_catalogue_is_complete():
    for name in ["growth-exponential", "growth-logistic", "growth-gompertz", "growth-bertalanffy",
                 "te-invasion", "te-elimination", "te-kuznetsov", "te-therapy", "il2-cytokine"]:
        assert name in NAMES


def test_unknown_scenario_lists_known_ones():
    with pytest.raises(ValueError, match="unknown scenario 'nope'; known scenarios: .*te-kuznetsov"):
        get_scenario("nope")


@pytest.mark.parametrize("name", ODE_NAMES)
def test_every_scenario_runs(name, tmp_path):
    result = get_scenario(name).run()
    assert result.ok, result.message
    paths = result.write(tmp_path, figure=False)
    header = paths["csv"].read_text().splitlines()[0].split(",")
    assert header == ["t", *get_scenario(name).model.state_names]


def test_scenarios_do_what_they_say():
    final = {n: get_scenario(n).run().columns for n in
             ["te-invasion", "te-elimination", "te-kuznetsov", "te-kuznetsov-escape", "te-therapy",
              "te-therapy-stopped", "il2-cytokine"]}
    assert final["te-invasion"]["T"][-1] > 1e8
    assert final["te-elimination"]["T"][-1] < 1.0
    assert 1e6 < final["te-kuznetsov"]["T"][-1] < 2e7  # dormancy near 8.19e6
    np.testing.assert_allclose(final["te-kuznetsov-escape"]["T"][-1], 4.47e8, rtol=1e-3)
    assert final["te-therapy"]["T"][-1] < 1e-2 * final["te-therapy"]["T"][0]
    # it decays at lambda_1 = r - (k/theta)(s + u)/delta of the tumour-free state (-0.038/day)
    p = get_scenario("te-therapy").params
    lam = float(p.r - p.k / p.theta * (p.s + p.u) / p.delta)
    t, T = final["te-therapy"]["t"], final["te-therapy"]["T"]
    assert lam == pytest.approx(-0.038, rel=1e-9)
    assert np.log(T[-1] / T[-11]) / (t[-1] - t[-11]) == pytest.approx(lam, rel=1e-3)
    T = final["te-therapy-stopped"]["T"]
    assert T.min() < 1e3 and T[-1] > 1e8  # controlled during therapy, relapse after
    assert final["il2-cytokine"]["T"][-1] < 1.0 and final["il2-cytokine"]["E"].max() > 1e8


def test_growth_metrics_report_closed_form_error():
    m = get_scenario("growth-logistic").run().metrics
    assert m["max_rel_error_vs_closed_form"] < 1e-6
