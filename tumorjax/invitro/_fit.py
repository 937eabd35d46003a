"""A joint fit of shared parameters to many wells, each with its own initial state, and held-out errors."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..calibration import Gaussian, Problem, aic, bic, minimize, spread_starts, wald_intervals
from ..calibration._problem import HESSIAN_ADJOINT
from ..calibration._uncertainty import check_level
from ..core import simulate
from ..data._loaders import CELL_INDEX_SLOPE
from ._model import CAROV
from ._wells import Wells

#: the parameters fitted by default: growth, CAR-T and virus rates, and the noise level (cell index).
#: `delta` is not among them: fitted, it goes to 0 (the CAR-T cells persist over the 72 h).
DEFAULT_FIT = {name: "log" for name in ("alpha", "K", "theta_TC", "mu", "beta", "gamma", "noise.sigma")}

#: Conte 2025 conditions grouped for a per-group growth rate: the untreated and virus wells share
#: one (they rise alike over the first 15 h), each CAR-T E:T ratio has its own (those wells rise
#: faster the more CAR-T cells were added, which one tumour growth rate cannot follow).
CONTE_GROUPS = {"untreated": "no CAR-T", "OV03": "no CAR-T", "OV002": "no CAR-T", "OV0008": "no CAR-T",
                "carT10": "carT10", "carT25": "carT25", "carT50": "carT50"}

#: rounded estimates of the fit to replicates Y1, Y2 of the Conte 2025 wells with [`CONTE_GROUPS`][]
#: (`WellsProblem(conditions=CONTE_GROUPS, per_condition=("alpha",))`): a start that converges in few steps.
CONTE_START = {"alpha[no CAR-T]": 0.048, "alpha[carT10]": 0.36, "alpha[carT25]": 0.22, "alpha[carT50]": 0.14,
               "K": 2.7e4, "theta_TC": 2.8e-4, "mu": 1.2e-6, "beta": 7.5e-6, "gamma": 0.041,
               "noise.sigma": 0.6}


class WellsProblem(eqx.Module):
    r"""Parameters of [`CAROV`][] fitted to several wells at once, shared or one per group of conditions.

    The negative log-likelihood is the sum over wells $w$ of the noise model's NLL of the cell
    index, the model solved from each well's own initial state $y_{0,w}$ (dose and first
    reading, [`Wells`][]) at its first time. Names, transforms, start checks and noise come from
    a [`tumorjax.calibration.Problem`][] (`base`): `fit` takes the same `{name: transform}`
    (model parameters and `noise.<name>`; initial states are data here, not fitted).

    A name in `per_condition` gets one value per group of conditions, named `"<name>[<group>]"`
    (each condition its own group unless `conditions` maps them). Conte et al. fit the growth
    rate `alfa` separately in every condition; in these wells the CAR-T wells rise faster over
    the first 15 h the more CAR-T cells they hold, while the virus wells rise like the untreated
    ones (see [`CONTE_GROUPS`][]).

    **Arguments:**

    - `fit`: `{name: transform}` (default [`DEFAULT_FIT`][]).
    - `conditions`: the condition labels (needed with `per_condition`), or `{condition: group}`.
    - `per_condition`: fitted model parameters with one value per group.
    - `params`: starting and fixed values (default: [`CAROVParams`][] defaults).
    - `noise`: the observation noise on the cell index (default `Gaussian(0.2)`).
    - `rtol`, `atol` (cells), `max_steps`: solver settings.
    """

    base: Problem
    conditions: tuple[str, ...] = eqx.field(static=True)
    groups: tuple[str, ...] = eqx.field(static=True)  # group label of each condition
    per_condition: tuple[str, ...] = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)
    #: `(n_groups, base.n_free)`: where group row k reads each slot of the base problem in z.
    index: tuple[tuple[int, ...], ...] = eqx.field(static=True)

    def __init__(self, fit=None, *, conditions=(), per_condition=(), params=None, noise=None, rtol=1e-6,
                 atol=1e-3, max_steps=2048):
        fit = dict(DEFAULT_FIT if fit is None else fit)
        bad = [n for n in fit if n.startswith("y0.")]
        if bad:
            raise ValueError(f"{bad}: initial states of a well come from its dose and first reading, "
                             "not a fit")
        noise = Gaussian(0.2) if noise is None else noise
        self.base = Problem(CAROV(), fit, np.zeros(4), params=params, noise=noise, rtol=rtol, atol=atol,
                            max_steps=max_steps)
        mapping = dict(conditions) if isinstance(conditions, dict) else {c: c for c in conditions}
        if not isinstance(conditions, dict) and len(mapping) != len(tuple(conditions)):
            raise ValueError(f"duplicate condition labels in {tuple(conditions)}")
        self.conditions = tuple(str(c) for c in mapping)
        self.groups = tuple(str(g) for g in mapping.values())
        self.per_condition = tuple(per_condition)
        not_fitted = [n for n in self.per_condition if n not in fit or n.startswith("noise.")]
        if not_fitted:
            raise ValueError(f"per_condition names {not_fitted} must be fitted model parameters; "
                             f"fitted: {tuple(fit)}")
        if self.per_condition and not self.conditions:
            raise ValueError("per_condition needs the condition labels: conditions=(...)")
        labels = list(dict.fromkeys(self.groups))
        names, index = [], np.zeros((max(len(labels), 1), self.base.n_free), np.int64)
        for i, name in enumerate(self.base.names):
            if name in self.per_condition:
                index[:, i] = len(names) + np.arange(index.shape[0])
                names += [f"{name}[{g}]" for g in labels]
            else:
                index[:, i] = len(names)
                names.append(name)
        self.names, self.index = tuple(names), tuple(map(tuple, index.tolist()))

    @property
    def n_free(self) -> int:
        return len(self.names)

    @property
    def transforms(self):
        """The transform of every entry of z (each group's copy of a per-condition name has its transform)."""
        out = [None] * self.n_free
        for i, tr in enumerate(self.base.transforms):
            for j in np.unique(np.asarray(self.index)[:, i]):
                out[j] = tr
        return tuple(out)

    def z_start(self, start=None):
        """The start in the fitted space, with the natural values of `start` (`{name: value}`) put in.

        Names not in `start` take the base problem's start (every group's copy alike).
        """
        index = np.asarray(self.index)
        z = jnp.zeros(self.n_free).at[index].set(jnp.broadcast_to(self.base.z_start(), index.shape))
        start = {} if start is None else dict(start)
        unknown = sorted(set(start) - set(self.names))
        if unknown:
            raise ValueError(f"start has unknown name(s) {unknown}; fitted: {self.names}")
        for name, value in start.items():
            i = self.names.index(name)
            self.transforms[i].check(name, value)
            z = z.at[i].set(self.transforms[i].forward(jnp.asarray(float(value))))
        return z

    def to_natural(self, z):
        """Natural values from z, shape `(..., n_free)`."""
        z = jnp.asarray(z)
        return jnp.stack([tr.inverse(z[..., i]) for i, tr in enumerate(self.transforms)], axis=-1)

    def condition_index(self, conditions) -> np.ndarray:
        """Each well's row of `index`: its condition's group (0 for all without per-condition parameters)."""
        if not self.per_condition:
            return np.zeros(len(conditions), np.int64)
        unknown = sorted(set(np.asarray(conditions).tolist()) - set(self.conditions))
        if unknown:
            raise ValueError(f"wells of condition(s) {unknown} have no per-condition parameters; the problem "
                             f"has {self.conditions}")
        labels = list(dict.fromkeys(self.groups))
        return np.array([labels.index(self.groups[self.conditions.index(c)]) for c in conditions])

    def unpack(self, z, k=0):
        """`(params, noise values)` of group row `k`."""
        params, _, noise = self.base.unpack(jnp.asarray(z)[jnp.asarray(self.index)[k]])
        return params, noise

    def predict(self, z, time, y0, k=0, adjoint=None):
        """The cell index of one well of group row `k` at `time` (its first entry is the time of `y0`)."""
        params, _ = self.unpack(z, k)
        b = self.base
        t_span = (time[0], jnp.maximum(time[-1], time[0] + 1e-9))
        sol = simulate(b.model, params, y0, t_span, ts=time, rtol=b.rtol, atol=b.atol, max_steps=b.max_steps,
                       adjoint=adjoint)
        return CAROV.cell_index(sol.ys), sol.status

    def nll(self, z, time, value, mask, y0, cond, adjoint=None):
        """Summed NLL over wells: `time`, `value`, `mask` `(S, n)`, `y0` `(S, 4)`, group rows `cond` `(S,)`.

        `inf` if any solve fails.
        """
        def one(t, v, m, y, k):
            f, status = self.predict(z, t, y, k, adjoint)
            out = self.base.noise.nll(v, f, m, self.unpack(z, k)[1])
            return jnp.where((status == 0) & jnp.isfinite(out), out, jnp.inf)
        return jnp.sum(jax.vmap(one)(time, value, mask, y0, cond))


def _arrays(problem: WellsProblem, wells: Wells):
    return (*(jnp.asarray(a) for a in (wells.time, wells.value, wells.mask, wells.y0)),
            jnp.asarray(problem.condition_index(wells.conditions)))


@eqx.filter_jit
def _multistart(problem, starts, time, value, mask, y0, cond, max_steps, gtol):
    def one(z0):
        return minimize(lambda z: problem.nll(z, time, value, mask, y0, cond), z0, max_steps=max_steps,
                        gtol=gtol)
    return jax.vmap(one)(starts)


@eqx.filter_jit
def wells_fisher_information(problem: WellsProblem, z, time, value, mask, y0, cond):
    """Observed Fisher information (Hessian of the summed NLL) in the fitted space, forward over forward."""
    def nll(z):
        return problem.nll(z, time, value, mask, y0, cond, adjoint=HESSIAN_ADJOINT)
    return jax.jacfwd(jax.jacfwd(nll))(z)


@dataclasses.dataclass
class WellsFit:
    """A joint fit to wells: estimates with Fisher standard errors and Wald intervals (natural scale)."""

    problem: WellsProblem
    names: tuple[str, ...]
    estimate: np.ndarray
    z: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    identifiable: bool
    nll: float
    n_obs: int
    converged: bool
    grad_norm: float
    steps: int
    starts_nll: np.ndarray

    @property
    def values(self) -> dict[str, float]:
        return dict(zip(self.names, self.estimate.tolist()))

    @property
    def aic(self) -> float:
        return float(aic(self.nll, len(self.names)))

    @property
    def bic(self) -> float:
        return float(bic(self.nll, len(self.names), self.n_obs))

    @property
    def params(self):
        """The fitted [`CAROVParams`][] (of the first group if some parameters are per group)."""
        return self.problem.unpack(jnp.asarray(self.z))[0]

    def predict(self, wells: Wells) -> np.ndarray:
        """The fitted model's cell index on every well's grid, `(S, n)`, without refitting."""
        time, _, _, y0, cond = _arrays(self.problem, wells)
        f, _ = jax.vmap(lambda t, y, k: self.problem.predict(jnp.asarray(self.z), t, y, k))(time, y0, cond)
        return np.asarray(f)

    def errors(self, wells: Wells) -> dict:
        """RMSE of the prediction on `wells` per condition and overall: see [`rmse_table`][]."""
        return rmse_table(wells, self.predict(wells))

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        rows = [f"CAROV joint fit: {self.n_obs} readings, {len(self.names)} parameters; NLL {self.nll:.6g}, "
                f"AIC {self.aic:.6g}, BIC {self.bic:.6g}",
                f"{'name':>12} {'estimate':>11} {'se':>11} {pct + ' CI':>26}"]
        for n, e, s, lo, hi in zip(self.names, self.estimate, self.se, self.lower, self.upper):
            rows.append(f"{n:>12} {e:>11.4g} {s:>11.3g}   [{lo:>10.4g}, {hi:>10.4g}]")
        finite = np.isfinite(self.starts_nll)
        rows.append(f"L-BFGS {'converged' if self.converged else 'stopped at max_steps'} (|grad| "
                    f"{self.grad_norm:.2e}, {self.steps} steps); best NLL reached by "
                    f"{int(np.sum(self.starts_nll[finite] < self.nll + 1e-2))}/{finite.size} starts")
        if not self.identifiable:
            rows.append("Fisher information not positive definite: some parameters are not identifiable")
        return "\n".join(rows)


def fit_wells(problem: WellsProblem, wells: Wells, *, start=None, n_starts: int = 4, key=0,
              spread: float = 0.5, max_steps: int = 300, gtol: float = 1e-3, level: float = 0.95) -> WellsFit:
    """Maximum-likelihood fit of the parameters to all `wells` (all starts in one vmapped L-BFGS call).

    Starts: `start` (natural values by name, e.g. [`CONTE_START`][]; names not given start
    from the problem's values) and `n_starts - 1` points `start + spread * N(0, 1)` in the
    fitted space. Uncertainty: the observed Fisher information at the best start, its inverse
    as the covariance, Wald intervals at `level` mapped through the transforms
    ([`tumorjax.calibration.wald_intervals`][]). Consecutive readings (every 15 min) are
    correlated, so these intervals are optimistic: they treat every reading as independent.
    Every group of `problem.groups` needs a well (its per-condition parameters are fitted to it).
    """
    level = check_level(level)
    if not isinstance(wells, Wells):
        raise TypeError(f"wells must be a tumorjax.invitro.Wells, got {type(wells).__name__}")
    if wells.n_obs == 0:
        raise ValueError("no readings to fit (every point masked)")
    labels = list(dict.fromkeys(problem.groups)) if problem.per_condition else []
    used = set(problem.condition_index(wells.conditions).tolist())
    empty = [g for k, g in enumerate(labels) if k not in used]
    if empty:
        raise ValueError(f"group(s) {empty} of the problem have no well in `wells` (conditions "
                         f"{sorted(set(wells.conditions.tolist()))}): their per-condition parameters "
                         f"{list(problem.per_condition)} cannot be fitted; leave those groups out of conditions=")
    problem.base.noise.check_data(wells.value[wells.mask])
    args = _arrays(problem, wells)
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    starts = spread_starts(problem.z_start(start), n_starts, key, spread)
    state = _multistart(problem, starts, *args, max_steps, gtol)
    values = np.asarray(state.value)
    k = int(np.argmin(np.where(np.isfinite(values), values, np.inf)))
    z = np.asarray(state.z[k])
    info = wells_fisher_information(problem, jnp.asarray(z), *args)
    ci = wald_intervals(problem, z, info, level)
    return WellsFit(problem=problem, names=problem.names, estimate=np.asarray(problem.to_natural(z)), z=z,
                    se=ci["se"], lower=ci["lower"], upper=ci["upper"], level=level,
                    identifiable=bool(ci["identifiable"]), nll=float(values[k]), n_obs=wells.n_obs,
                    converged=bool(state.converged[k]), grad_norm=float(state.grad_norm[k]),
                    steps=int(state.steps[k]), starts_nll=values)


def rmse_table(wells: Wells, prediction) -> dict:
    """Root-mean-square error of `prediction` `(S, n)` against the wells' cell index, masked points only.

    Returns `{condition: rmse}` for every condition plus `"overall"` (pooled over all
    readings), in cell index, and the same in cells under key `"cells"` (the cell-index line is
    affine, so RMSE in cells is RMSE in cell index / 1.946e-4).
    """
    prediction = np.asarray(prediction, float)
    if prediction.shape != wells.value.shape:
        raise ValueError(f"prediction has shape {prediction.shape}, the wells {wells.value.shape}")
    sq = np.where(wells.mask, (prediction - wells.value) ** 2, 0.0)
    out = {}
    for c in dict.fromkeys(wells.conditions.tolist()):
        rows = wells.conditions == c
        out[c] = float(np.sqrt(sq[rows].sum() / wells.mask[rows].sum()))
    out["overall"] = float(np.sqrt(sq.sum() / wells.mask.sum()))
    return {"cell_index": out, "cells": {k: v / CELL_INDEX_SLOPE for k, v in out.items()}}


def replicate_spread(dataset, held_out: str = "Y3", train=("Y1", "Y2")) -> dict:
    """The model-free floor: RMSE of the held-out wells against the mean of the training replicates.

    For each condition the training wells' mean at the same readings (a condition's wells share
    one time grid) predicts the held-out well; no model fitted to those replicates can be
    expected to do much better. Same masking and layout as [`rmse_table`][].
    """
    test = Wells.from_dataset(dataset, replicates=held_out)
    ref = Wells.from_dataset(dataset, replicates=list(train))
    mean = np.empty_like(test.value)
    for i, c in enumerate(test.conditions):
        rows = ref.conditions == c
        if not np.allclose(ref.time[rows], test.time[i]):
            raise ValueError(f"condition {c}: replicates are on different time grids")
        mean[i] = ref.value[rows].mean(axis=0)
    return rmse_table(test, mean)
