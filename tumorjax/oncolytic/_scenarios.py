"""The seed-004 ODE scenarios (Fig. 3). PDE and lattice scenarios register from their own modules."""

import numpy as np

from ..analysis import oscillation_metrics
from ..core import ODEScenario, register
from ._ode import OncolyticODE, hopf_test, ode_equilibria
from ._params import OncolyticODEParams

_FIG3 = "seed 004, Eq. (3.1) and Fig. 3"


def _ode_metrics(model, p, sol):
    eq = {k: np.asarray(v).tolist() for k, v in ode_equilibria(p).items()}
    u = np.asarray(sol["u"])
    osc = oscillation_metrics(np.asarray(sol.ts), u, t_min=0.5 * float(sol.ts[-1]))
    return {"equilibria": eq, "hopf_test": float(hopf_test(p)),
            "coexistence_stable": bool(hopf_test(p) > 0 and eq["coexistence"][1] > 0),
            "u_oscillation_second_half": osc}


for _name, _zeta, _words in (("weak", 0.5, "weak"), ("strong", 5.0, "strong")):
    register(ODEScenario(
        name=f"ov-ode-{_name}",
        description=f"oncolytic ODE (3.1), {_words} immune response zeta = {_zeta} /h: oscillations towards a limit cycle",
        source=_FIG3, model=OncolyticODE(), params=OncolyticODEParams(zeta=_zeta),
        y0={"u": 9000.0, "i": 1000.0, "z": 0.0}, t_span=(0.0, 3000.0), n_save=3001, log_scale=False,
        metrics=_ode_metrics,
    ))
