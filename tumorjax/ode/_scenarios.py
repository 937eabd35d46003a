"""The seed-000 scenario catalogue."""

import numpy as np

from ..core import ODEScenario, PiecewiseConstant, register
from ._cytokine import CytokineModel
from ._growth import BertalanffyGrowth, TumourGrowth
from ._thresholds import (
    invasion_exponent, minimum_dose, peak_stimulation, tumour_free_effectors, tumour_reproduction_number,
)
from ._tumour_effector import TumourEffector

_SEED = "seed 000"


def _growth_metrics(model, p, sol):
    T = np.asarray(sol["T"])
    exact = np.asarray(model.closed_form(sol.ts, T[0], p))
    return {"T_final": float(T[-1]), "T_exact_final": float(exact[-1]),
            "max_rel_error_vs_closed_form": float(np.max(np.abs(T - exact) / np.abs(exact)))}


def _te_metrics(model, p, sol):
    T = np.asarray(sol["T"])
    out = {
        "tumour_free_E0": float(tumour_free_effectors(p)),
        "invasion_exponent": float(invasion_exponent(model, p)),
        "R_T": float(tumour_reproduction_number(model, p)),
        "u_min": float(minimum_dose(model, p)),
        "T_final": float(T[-1]),
        "T_max": float(np.max(T)),
        "T_min": float(np.min(T)),
        "t_T_below_one_cell": _time_below_one_cell(sol),
    }
    if model.proliferation == "saturating" and float(p.eps) > 0:
        out["T_peak_stimulation"] = float(peak_stimulation(p))
    return out


def _time_below_one_cell(sol):
    """First save time after the peak at which T < 1 cell (None if never)."""
    T, ts = np.asarray(sol["T"]), np.asarray(sol.ts)
    after = np.flatnonzero((np.arange(T.size) > np.argmax(T)) & (T < 1.0))
    return float(ts[after[0]]) if after.size else None


def _cytokine_metrics(model, p, sol):
    return {
        "t_T_below_one_cell": _time_below_one_cell(sol),
        "R_T_without_IL2": float(p.r * p.delta / (p.kappa * p.s)),
        "E_max": float(np.max(np.asarray(sol["E"]))),
        "I_max": float(np.max(np.asarray(sol["I"]))),
        "T_max": float(np.max(np.asarray(sol["T"]))),
    }


def _growth(law, description, t_end, **values):
    model = TumourGrowth(law=law)
    register(ODEScenario(
        name=f"growth-{law}", description=description, source=f"{_SEED}, Modeling Tumor Growth Dynamics",
        model=model, params=model.default_params().replace(**values), y0={"T": 1e6}, t_span=(0.0, t_end),
        metrics=_growth_metrics,
    ))


_growth("exponential", "exponential growth dT/dt = rT", 30.0, r=0.3)
_growth("logistic", "logistic growth dT/dt = rT(1-T/K)", 80.0, r=0.3, K=1e9)
_growth("gompertz", "Gompertz growth dT/dt = rT ln(K/T)", 80.0, r=0.1, K=1e9)

_bert = BertalanffyGrowth()
register(ODEScenario(
    name="growth-bertalanffy", description="von Bertalanffy growth dT/dt = pT^a - qT^b (b = 1)",
    source=f"{_SEED}, Modeling Tumor Growth Dynamics", model=_bert, params=_bert.default_params(),
    y0={"T": 100.0}, t_span=(0.0, 100.0), metrics=_growth_metrics,
))

_simple = TumourEffector(growth="logistic", killing="mass_action", proliferation="mass_action")
_simple_params = _simple.default_params().replace(
    r=0.3, K=1e9, kappa=1e-7, alpha=1e-10, eps=0.0, s=1e4, delta=0.1
)
register(ODEScenario(
    name="te-invasion",
    description="r > kappa*s/delta: a small tumour invades and settles at the coexistence state",
    source=f"{_SEED}, Equilibria and Local Stability Analysis (dT = rT(1-T/K) - kTE, dE = s + aTE - dE)",
    model=_simple, params=_simple_params, y0={"T": 1e3, "E": 1e5}, t_span=(0.0, 150.0), metrics=_te_metrics,
))
register(ODEScenario(
    name="te-elimination",
    description="r < kappa*s/delta: the tumour-free state is stable and a small tumour is eliminated",
    source=f"{_SEED}, The Invasion Threshold",
    model=_simple, params=_simple_params.replace(s=5e5), y0={"T": 1e6, "E": 1e5}, t_span=(0.0, 100.0),
    metrics=_te_metrics,
))

_kuz = TumourEffector()
register(ODEScenario(
    name="te-kuznetsov",
    description="exhaustion and saturating stimulation (Kuznetsov 1994): damped oscillations to tumour dormancy",
    source=f"{_SEED}, The Biphasic Effect of Antigen Load; parameters of Kuznetsov et al. 1994",
    model=_kuz, params=_kuz.default_params(), y0={"T": 1e6, "E": 3.2e5}, t_span=(0.0, 600.0),
    n_save=601, metrics=_te_metrics,
))
register(ODEScenario(
    name="te-kuznetsov-escape",
    description="the same bistable model from a large tumour: immune collapse and escape to T near K",
    source=f"{_SEED}, The Biphasic Effect of Antigen Load; parameters of Kuznetsov et al. 1994",
    model=_kuz, params=_kuz.default_params(), y0={"T": 3e8, "E": 3.2e5}, t_span=(0.0, 600.0),
    n_save=601, metrics=_te_metrics,
))
register(ODEScenario(
    name="te-hill",
    description="sigmoidal (Hill, m = 2) killing: small tumours escape immune control",
    source=f"{_SEED}, Cytotoxic Functional Responses (Holling III)",
    model=TumourEffector(killing="hill"), params=_kuz.default_params(),
    y0={"T": 1e6, "E": 3.2e5}, t_span=(0.0, 600.0), n_save=601, metrics=_te_metrics,
))

_mm = TumourEffector(killing="michaelis_menten", proliferation="saturating")
_mm_params = _mm.default_params().replace(r=0.2, K=1e9, k=1.0, theta=1e7, alpha=0.0, eps=0.0, s=1e4, delta=0.1)
_u_min = float(minimum_dose(_mm, _mm_params))
_lam = float(invasion_exponent(_mm, _mm_params.replace(u=1.2 * _u_min)))
register(ODEScenario(
    name="te-therapy",
    description=f"Michaelis-Menten killing, infusion u = 1.2 u_min (u_min = {_u_min:.4g} cells/day): "
    f"the tumour-free state is locally stable and a small tumour, after a transient peak, decays towards it "
    f"at the rate lambda_1 = {_lam:.3g}/day",
    source=f"{_SEED}, The Invasion Threshold and Therapeutic Implications",
    model=_mm, params=_mm_params.replace(u=1.2 * _u_min), y0={"T": 1e5, "E": 1e5}, t_span=(0.0, 200.0),
    metrics=_te_metrics,
))
register(ODEScenario(
    name="te-therapy-stopped",
    description="infusion of 2 u_min for 60 days, then stopped: the tumour relapses",
    source=f"{_SEED}, The Invasion Threshold and Therapeutic Implications",
    model=TumourEffector(killing="michaelis_menten", infusion=PiecewiseConstant([0.0, 60.0], [2 * _u_min, 0.0])),
    params=_mm_params, y0={"T": 1e6, "E": 1e5}, t_span=(0.0, 300.0), n_save=601, metrics=_te_metrics,
))

_il2 = CytokineModel()
register(ODEScenario(
    name="il2-cytokine",
    description="IL-2 feedback: a growing tumour triggers a cytokine burst that drives it below one cell",
    source=f"{_SEED}, Extending the Model: The Role of Cytokines",
    model=_il2, params=_il2.default_params(), y0={"T": 1e6, "E": 1e5, "I": 0.0}, t_span=(0.0, 300.0),
    n_save=601, metrics=_cytokine_metrics,
))
