"""In vitro CAR-T / virus wells (Conte et al. 2025): model, wells, joint fit, held-out replicate (float64).

The pipeline test fits replicates Y1 and Y2 of the seven monotherapy conditions and predicts
replicate Y3 without refitting. Its threshold comes from the replicate-to-replicate spread: the
mean of Y1 and Y2 predicts Y3 with an overall RMSE of 0.385 cell index (the model-free floor,
`replicate_spread`); the fitted model must stay within twice that.
"""

import jax
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.data import cell_index_to_cells, load_conte
from tumorjax.invitro import (
    CAROV, CONTE_GROUPS, CONTE_START, CAROVParams, Wells, WellsProblem, fit_wells, replicate_spread,
    rmse_table, well_initial_state,
)
from tumorjax.invitro._fit import _arrays

tj.enable_x64()

#: the held-out RMSE may be at most this multiple of the replicate floor (measured ratio: see README).
FLOOR_FACTOR = 2.0


@pytest.fixture(scope="module")
def conte():
    from conftest import SHARED

    if not (SHARED / "data" / "conte2025-car-ov-monotherapy").is_dir():
        pytest.skip("../shared/data/conte2025-car-ov-monotherapy is not beside the repository")
    return load_conte(SHARED / "data")


def problem():
    return WellsProblem(conditions=CONTE_GROUPS, per_condition=("alpha",))


def test_untreated_well_is_logistic():
    p = CAROVParams(alpha=0.05, K=2e4)
    ts = np.linspace(0.0, 72.0, 13)
    sol = tj.simulate(CAROV(), p, {"T": 5e3, "I": 0.0, "V": 0.0, "C": 0.0}, (0.0, 72.0), ts=ts)
    e = np.exp(0.05 * ts)
    np.testing.assert_allclose(sol["T"], 2e4 * 5e3 * e / (2e4 + 5e3 * (e - 1)), rtol=1e-6)
    assert np.allclose(np.asarray(sol.ys)[:, 1:], 0.0)
    assert np.isclose(CAROV.cell_index(np.array([1e4, 2e3, 7.0, 9.0])), 1.946e-4 * 1.2e4 + 0.1602)


def test_initial_states_from_dose_and_first_reading():
    T0 = float(cell_index_to_cells(1.5))
    np.testing.assert_allclose(well_initial_state(1.5, "CAR T, E:T", 0.1), [T0, 0, 0, 0.1 * T0])
    np.testing.assert_allclose(well_initial_state(1.5, "virus, MOI", 0.03), [T0, 0, 0.03 * T0, 0])
    np.testing.assert_allclose(well_initial_state(1.5, "none", 0.0), [T0, 0, 0, 0])
    with pytest.raises(ValueError, match="unknown treatment 'drug'"):
        well_initial_state(1.5, "drug", 1.0)
    with pytest.raises(ValueError, match="dose .* must be finite and >= 0"):
        well_initial_state(1.5, "virus, MOI", -0.1)
    with pytest.raises(ValueError, match="at or below the zero-cell baseline"):
        well_initial_state(0.1, "none", 0.0)


def test_bad_problem_and_wells_are_rejected(conte):
    with pytest.raises(ValueError, match="initial states of a well come from its dose"):
        WellsProblem({"y0.T": "log"})
    with pytest.raises(ValueError, match="per_condition needs the condition labels"):
        WellsProblem(per_condition=("alpha",))
    with pytest.raises(ValueError, match="must be fitted model parameters"):
        WellsProblem(conditions=CONTE_GROUPS, per_condition=("delta",))
    with pytest.raises(ValueError, match="duplicate condition labels"):
        WellsProblem(conditions=["a", "a"], per_condition=("alpha",))
    with pytest.raises(ValueError, match="unknown parameter name"):
        WellsProblem({"rho": "log"})
    with pytest.raises(ValueError, match="start has unknown name"):
        problem().z_start({"alpha": 0.1})
    with pytest.raises(ValueError, match=r"no well of replicate\(s\) \['Y4'\]"):
        Wells.from_dataset(conte, replicates="Y4")
    with pytest.raises(ValueError, match="no 'doses'"):
        Wells.from_dataset(tj.data.Dataset(["a"], ["c"], [0.0], [1.0], unit="cell index"))
    with pytest.raises(ValueError, match=r"condition\(s\) \['untreated'\] have no per-condition parameters"):
        WellsProblem(conditions=["carT10"], per_condition=("alpha",)).condition_index(["untreated"])
    wells = Wells.from_dataset(conte, replicates="Y1")
    with pytest.raises(ValueError, match="prediction has shape"):
        rmse_table(wells, wells.value[:, :5])
    with pytest.raises(ValueError, match=r"level must be a confidence level in \(0, 1\) such as 0.95, got 95"):
        fit_wells(problem(), wells, level=95)
    two = Wells.from_dataset(conte, replicates="Y1", conditions=["untreated", "carT10"])
    with pytest.raises(ValueError, match=r"group\(s\) \['carT25', 'carT50'\] of the problem have no well"):
        fit_wells(problem(), two)


def test_wells_of_the_conte_data(conte):
    wells = Wells.from_dataset(conte, replicates=["Y1", "Y2"])
    assert wells.time.shape == (14, 274) and wells.y0.shape == (14, 4)
    assert not wells.mask[:, 0].any()  # the first reading is the initial state
    assert wells.n_obs == sum(int(np.sum(conte.subject == s)) - 1 for s in wells.subjects)
    i = list(wells.subjects).index("carT25_Y2")
    T0 = float(cell_index_to_cells(wells.value[i, 0]))
    np.testing.assert_allclose(wells.y0[i], [T0, 0, 0, T0 / 25])
    floor = replicate_spread(conte)["cell_index"]
    assert floor["overall"] == pytest.approx(0.3854, abs=1e-3)  # the number quoted in the module docstring
    assert replicate_spread(conte)["cells"]["overall"] == pytest.approx(floor["overall"] / 1.946e-4)


def test_nll_gradient_matches_central_differences(conte):
    prob = problem()
    wells = Wells.from_dataset(conte.select(subjects=["untreated_Y1", "carT10_Y1", "OV03_Y1"]))
    args = _arrays(prob, wells)
    value_and_grad = jax.jit(jax.value_and_grad(lambda z: prob.nll(z, *args)))  # one compilation for both
    z = prob.z_start(CONTE_START)
    g = np.asarray(value_and_grad(z)[1])
    h = 1e-6
    fd = np.array([(value_and_grad(z.at[i].add(h))[0] - value_and_grad(z.at[i].add(-h))[0]) / (2 * h)
                   for i in range(z.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())
    assert g[prob.names.index("alpha[carT25]")] == 0.0  # no carT25 well: its growth rate has no say


@pytest.fixture(scope="module")
def heldout(conte):
    train = Wells.from_dataset(conte, replicates=["Y1", "Y2"])
    test = Wells.from_dataset(conte, replicates="Y3")
    fit = fit_wells(problem(), train, start=CONTE_START, n_starts=2, spread=0.1)
    return fit, fit.errors(test), replicate_spread(conte)


def test_fit_on_y1_y2_predicts_y3_within_twice_the_replicate_spread(heldout):
    fit, errors, floor = heldout
    assert fit.identifiable and np.all(np.isfinite(fit.se)), fit.summary()
    assert np.all(fit.lower < fit.estimate) and np.all(fit.estimate < fit.upper)
    held, ref = errors["cell_index"], floor["cell_index"]
    assert held["overall"] < FLOOR_FACTOR * ref["overall"], (held, ref)
    assert held["untreated"] < 0.5  # the untreated wells are the easiest: logistic growth
    assert errors["cells"]["overall"] == pytest.approx(held["overall"] / 1.946e-4)
