"""tumorjax.therapy: L-BFGS on the penalised objective (a separate file: its line search compiles slowly)."""

import tumorjax as tj
from tumorjax import therapy as th

from test_therapy import _kuznetsov_boluses

tj.enable_x64()


def test_lbfgs_with_penalty_improves_and_reports_residuals():
    p = _kuznetsov_boluses("auc")
    even = float(p.loss(p.even_schedule()))
    rep = th.optimize_schedule(p, method="lbfgs", steps=4, starts=1)
    assert rep.value < even
    assert rep.n_simulations >= 5  # the first evaluation and at least one per iteration (line-search trials count)
    assert set(rep.residuals) == {"negative_dose", "max_dose", "total", "times_in_horizon", "min_interval"}
    assert max(rep.residuals.values()) < 1e-2  # a penalty: nearly, not exactly, feasible
