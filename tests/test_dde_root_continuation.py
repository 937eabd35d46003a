"""Characteristic roots followed in the delay: the crossing is the delay Hopf point (float64)."""

import jax.numpy as jnp
import numpy as np

from tumorjax.dde import (
    DelayedTumourEffector, characteristic_function, characteristic_roots, continue_roots,
    delay_equilibrium, delay_jacobians, hopf_closed_form, hopf_from_roots,
)


def _te():
    model = DelayedTumourEffector()
    p = model.default_params()
    return delay_jacobians(model, p, delay_equilibrium(model, p, jnp.array([0.5, 0.5])))


def test_followed_roots_cross_at_the_delay_hopf_point():
    """Seed 000 delayed tumour-effector: tau* = 2.6476 d (Cooke-Grossman closed form)."""
    A0, A1 = _te()
    taus = jnp.linspace(0.2, 5.0, 241)
    roots = continue_roots(A0, A1, taus, n_roots=4)
    assert roots.shape == (taus.size, 4)
    # every followed value is a root at its delay
    res = np.abs(np.asarray(characteristic_function(A0, A1, roots, taus[:, None])))
    assert np.nanmax(res) < 1e-10
    h = hopf_from_roots(A0, A1, taus, roots)
    ref = hopf_closed_form(A0, A1)
    assert bool(h.exists) and float(h.direction) > 0
    assert abs(float(h.tau) - float(ref.tau)) < 1e-8 and abs(float(h.omega) - float(ref.omega)) < 1e-8
    # at the last delay the rightmost followed root is the rightmost root of a fresh search
    fresh = complex(characteristic_roots(A0, A1, taus[-1:], n_roots=1)[0, 0])
    last = np.asarray(roots[-1])
    followed = last[np.nanargmax(np.where(last.imag >= 0, last.real, np.nan))]
    assert abs(complex(followed) - fresh) < 1e-8 and fresh.real > 0


def test_no_crossing_is_flagged():
    # two decoupled x' = -a x + b x(t - tau) with 0 < b < a: stable for every delay
    A0, A1 = jnp.diag(jnp.array([-2.0, -3.0])), jnp.diag(jnp.array([1.0, 0.5]))
    taus = jnp.linspace(0.2, 5.0, 241)
    h = hopf_from_roots(A0, A1, taus, continue_roots(A0, A1, taus, n_roots=4))
    assert not bool(h.exists) and np.isnan(float(h.tau))
