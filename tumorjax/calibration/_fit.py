"""Fits: one series (multistart in one vmapped call), every subject at once, and a population."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..data import Dataset
from ._criteria import aic, aicc, bic
from ._optimize import _check, minimize, spread_starts
from ._problem import Problem, series_from
from ._report import FitReport, SubjectFits
from ._uncertainty import check_level, fisher_information, wald_intervals


@eqx.debug.assert_max_traces(max_traces=None)  # counts traces; tests read eqx.debug.get_num_traces
def _multistart_impl(problem, starts, time, value, mask, optimizer, max_steps, gtol, learning_rate):
    """Every start of every series in one call: `starts` `(S, n_starts, d)`, data `(S, n)`."""
    def one_series(starts_s, t, v, m):
        def one_start(z0):
            return minimize(problem.loss(t, v, m), z0, optimizer=optimizer, max_steps=max_steps, gtol=gtol,
                            learning_rate=learning_rate)
        return jax.vmap(one_start)(starts_s)
    return jax.vmap(one_series)(starts, time, value, mask)


_multistart = eqx.filter_jit(_multistart_impl)


def _starts(problem: Problem, n_series: int, n_starts: int, key, spread, starts):
    if starts is not None:
        natural = np.asarray(starts, float)
        if natural.ndim != 2 or natural.shape[0] < 1 or natural.shape[1] != problem.n_free:
            raise ValueError(f"starts must have shape (n_starts, {problem.n_free}) for {problem.names}, "
                             f"got {natural.shape}")
        if not np.all(np.isfinite(natural)):
            raise ValueError(f"starts must be finite, got {natural.tolist()}")
        for row in natural:
            problem.check_natural(row)
        z = problem.to_z(natural)
        return jnp.broadcast_to(z, (n_series, *z.shape))
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    keys = jax.random.split(key, n_series)
    return jax.vmap(lambda k: spread_starts(problem.z_start(), n_starts, k, spread))(keys)


def _report(problem, state, k_best, data, info, optimizer, level, subject, n_params=None):
    z = np.asarray(state.z[k_best])
    nll = float(state.value[k_best])
    n_obs = int(np.sum(data[2]))
    k = problem.n_free if n_params is None else n_params
    ci = wald_intervals(problem, z, info, level) if info is not None else {
        key: np.full(z.shape, np.nan) for key in ("se", "lower", "upper", "se_z")} | {"identifiable": None}
    return FitReport(
        problem=problem, names=problem.names, estimate=np.asarray(problem.to_natural(z)), z=z, se=ci["se"],
        se_z=ci["se_z"], lower=ci["lower"], upper=ci["upper"], level=level,
        identifiable=None if ci["identifiable"] is None else bool(ci["identifiable"]),
        nll=nll, n_obs=n_obs, aic=float(aic(nll, k)), aicc=float(aicc(nll, k, n_obs)), bic=float(bic(nll, k, n_obs)),
        converged=bool(state.converged[k_best]), grad_norm=float(state.grad_norm[k_best]),
        steps=int(state.steps[k_best]), starts_nll=np.asarray(state.value), optimizer=optimizer, data=data,
        subject=subject,
    )


def _best(values) -> int:
    v = np.where(np.isfinite(values), values, np.inf)
    return int(np.argmin(v))


def fit(problem: Problem, data, *, subject=None, n_starts: int = 8, key=0, starts=None, spread: float = 1.0,
        optimizer: str = "lbfgs", max_steps: int = 200, gtol: float = 1e-6, learning_rate: float = 0.05,
        uncertainty: bool = True, level: float = 0.95) -> FitReport:
    """Fit `problem` to one series by maximum likelihood with multistart; return a [`FitReport`][].

    **Arguments:**

    - `data`: a [`tumorjax.data.Dataset`][] (with `subject=` if it has several) or
      `(time, value)` / `(time, value, mask)` arrays.
    - `n_starts`, `key`, `spread`: the problem's start plus `n_starts - 1` random starts
      `z_start + spread * N(0, 1)` in the fitted space; or `starts` (natural scale,
      `(n_starts, n_free)`). All starts run in ONE vmapped, jitted call.
    - `optimizer`, `max_steps`, `gtol`, `learning_rate`: see [`minimize`][].
    - `uncertainty`: compute the Fisher information, standard errors and `level` Wald intervals
      (without it they are NaN and `identifiable` is None).
    """
    _check(optimizer, max_steps, learning_rate)
    level = check_level(level)
    time, value, mask = problem.check_series(*series_from(data, subject))
    if time.ndim != 1:
        raise ValueError("fit takes one series; use fit_subjects for a batch")
    z0 = _starts(problem, 1, n_starts, key, spread, starts)
    args = (jnp.asarray(time)[None], jnp.asarray(value)[None], jnp.asarray(mask)[None])
    state = _multistart(problem, z0, *args, optimizer, max_steps, gtol, learning_rate)
    state = jax.tree_util.tree_map(lambda x: x[0], state)
    k = _best(np.asarray(state.value))
    info = fisher_information(problem, state.z[k], *(a[0] for a in args)) if uncertainty else None
    label = subject or (data.subjects[0] if isinstance(data, Dataset) else "")
    return _report(problem, state, k, (time, value, mask), info, optimizer, level, label)


@eqx.filter_jit
def _batched_fisher(problem, z, time, value, mask):
    return jax.vmap(lambda z, t, v, m: fisher_information(problem, z, t, v, m))(z, time, value, mask)


def fit_subjects(problem: Problem, dataset: Dataset, *, subjects=None, n_starts: int = 8, key=0, starts=None,
                 spread: float = 1.0, optimizer: str = "lbfgs", max_steps: int = 200, gtol: float = 1e-6,
                 learning_rate: float = 0.05, uncertainty: bool = True, level: float = 0.95) -> SubjectFits:
    """Independent fits of `problem` to every subject, all subjects and starts in ONE vmapped call.

    Series of different lengths are padded and masked ([`tumorjax.data.Dataset.padded`][]).
    Arguments as in [`fit`][].
    """
    _check(optimizer, max_steps, learning_rate)
    level = check_level(level)
    if not isinstance(dataset, Dataset):
        raise TypeError("fit_subjects takes a tumorjax.data.Dataset")
    pad = dataset.padded(subjects)
    time, value, mask = problem.check_series(pad["time"], pad["value"], pad["mask"])
    z0 = _starts(problem, time.shape[0], n_starts, key, spread, starts)
    state = _multistart(problem, z0, jnp.asarray(time), jnp.asarray(value), jnp.asarray(mask), optimizer,
                        max_steps, gtol, learning_rate)
    best = [_best(np.asarray(v)) for v in state.value]
    z_best = jnp.stack([state.z[s, k] for s, k in enumerate(best)])
    info = np.asarray(_batched_fisher(problem, z_best, jnp.asarray(time), jnp.asarray(value), jnp.asarray(mask))) \
        if uncertainty else [None] * len(best)
    reports = []
    for s, k in enumerate(best):
        state_s = jax.tree_util.tree_map(lambda x: x[s], state)
        reports.append(_report(problem, state_s, k, (time[s], value[s], mask[s]), info[s], optimizer, level,
                               str(pad["subjects"][s])))
    return SubjectFits(reports)
