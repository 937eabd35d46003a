"""Worked problem (b), seed 003: timing and splitting a CAR-T dose beats a grid search with fewer simulations."""

import numpy as np

import tumorjax as tj
from tumorjax import therapy as th

tj.enable_x64()


def test_cart_split_dose_beats_grid():
    """(b) seed 003: a CAR-T dose of 0.1 K_T split into 2 boluses, final T_A + T_B at day 30."""
    problem = th.cart_split_dose(n_doses=2, horizon=30.0, rtol=1e-6, atol=1e-8)
    grid = th.grid_search(problem, n_times=6, n_levels=4)  # 75 schedules
    opt = th.optimize_schedule(problem, steps=12, starts=2, learning_rate=0.1)  # 25 simulations
    assert opt.n_simulations < grid.n_simulations / 2
    assert opt.value < grid.value
    assert max(opt.residuals.values()) < 1e-12
    assert 15.0 < float(opt.schedule.times.max()) < 30.0  # an interior optimum: a late second dose
    np.testing.assert_allclose(float(opt.schedule.total), 0.1, rtol=1e-12)
