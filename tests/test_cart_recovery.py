"""Synthetic recovery for the CAR-T homogeneous ODE (seed 003): data simulated from the `NORMALISED`
parameters with 10 % log-normal noise (fixed seed) are fitted back, and the truth must lie in the
reported 95 % Wald intervals (float64)."""

import numpy as np
import pytest

import tumorjax as tj
from tumorjax.calibration import LogNormal, Problem, fit
from tumorjax.cart import NORMALISED, CARTHomogeneous

tj.enable_x64()

MODEL = CARTHomogeneous()
#: NORMALISED_INITIAL, well mixed: T_A = 0.5, C = 0.1.
Y0 = {"C": 0.1, "E": 0.0, "TA": 0.5, "TB": 0.0, "S": 0.0, "A": 0.0, "H": 0.0}
#: dense over the first days (CAR-T expansion and the fall of T_A), sparse on the plateau.
TS = np.concatenate([np.linspace(0.25, 4.0, 16), np.linspace(5.0, 40.0, 14)])
FITTED = ("rho_C", "gamma", "r_T")
SIGMA = 0.1


@pytest.fixture(scope="module")
def recovery():
    truth = tj.simulate(MODEL, NORMALISED, Y0, (0.0, 40.0), ts=TS, throw=True)["TA"]
    data = np.asarray(truth) * np.exp(SIGMA * np.random.default_rng(3).standard_normal(TS.size))
    start = NORMALISED.replace(rho_C=0.7, gamma=0.3, r_T=0.17)  # 20-30 % off the truth
    problem = Problem(MODEL, {**{n: "log" for n in FITTED}, "noise.sigma": "log"}, Y0, params=start,
                      noise=LogNormal(0.2), observe="TA")
    return fit(problem, (TS, data), n_starts=2, spread=0.2)


def test_truth_lies_in_the_95_percent_wald_intervals(recovery):
    rep = recovery
    assert rep.converged and rep.identifiable, rep.summary()
    truth = {n: float(getattr(NORMALISED, n)) for n in FITTED} | {"noise.sigma": SIGMA}
    for name, est, se, lo, hi in zip(rep.names, rep.estimate, rep.se, rep.lower, rep.upper):
        assert lo <= truth[name] <= hi, f"{name}: truth {truth[name]} outside [{lo}, {hi}]\n{rep.summary()}"
        assert abs(est - truth[name]) < 3 * se, f"{name}: estimate {est} vs truth {truth[name]} (se {se})"
        assert se < 0.5 * abs(est), f"{name} is poorly determined: se {se} for {est}"
