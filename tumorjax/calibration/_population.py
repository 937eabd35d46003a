"""Population fit: some parameters shared by every subject, the others individual, fitted jointly."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..data import Dataset
from ._criteria import aic, bic
from ._fit import _best
from ._optimize import _check, forward_gradient, minimize, spread_starts
from ._problem import FORWARD_UP_TO, HESSIAN_ADJOINT, Problem
from ._uncertainty import check_level, covariance, normal_quantile


def _layout(problem: Problem, shared, individual):
    shared, individual = list(shared), list(individual)
    both = sorted(set(shared) & set(individual))
    missing = [n for n in problem.names if n not in shared and n not in individual]
    extra = [n for n in shared + individual if n not in problem.names]
    if both or missing or extra:
        raise ValueError(f"shared and individual must split the fitted names {problem.names} exactly: "
                         f"in both {both}, in neither {missing}, not fitted {extra}")
    return [problem.names.index(n) for n in shared], [problem.names.index(n) for n in individual]


def _assemble(w, i_sh, i_in, n_subjects, d):
    """Per-subject z `(S, d)` from the joint vector `w = [shared (k_s), individual (S*k_i)]`."""
    k_s = len(i_sh)
    z = jnp.zeros((n_subjects, d), w.dtype)
    z = z.at[:, jnp.asarray(i_sh, int)].set(jnp.broadcast_to(w[:k_s], (n_subjects, k_s))) if k_s else z
    return z.at[:, jnp.asarray(i_in, int)].set(w[k_s:].reshape(n_subjects, len(i_in))) if i_in else z


def _total_nll(problem, w, i_sh, i_in, time, value, mask, adjoint=None):
    z = _assemble(w, i_sh, i_in, time.shape[0], problem.n_free)
    return jnp.sum(jax.vmap(lambda z, t, v, m: problem.nll(z, t, v, m, adjoint=adjoint))(z, time, value, mask))


@eqx.filter_jit
def _population_multistart(problem, starts, i_sh, i_in, time, value, mask, max_steps, gtol):
    """Every start in one vmapped L-BFGS call, with the problem's `gradient` rule over the joint vector."""
    n = starts.shape[-1]
    if problem.gradient == "forward" or (problem.gradient == "auto" and n <= FORWARD_UP_TO):
        f = forward_gradient(lambda w: _total_nll(problem, w, i_sh, i_in, time, value, mask, HESSIAN_ADJOINT))
    else:
        f = lambda w: _total_nll(problem, w, i_sh, i_in, time, value, mask)  # noqa: E731
    return jax.vmap(lambda w0: minimize(f, w0, max_steps=max_steps, gtol=gtol))(starts)


@eqx.filter_jit
def _population_hessian(problem, w, i_sh, i_in, time, value, mask):
    f = lambda w: _total_nll(problem, w, i_sh, i_in, time, value, mask, HESSIAN_ADJOINT)  # noqa: E731
    return jax.jacfwd(jax.jacfwd(f))(w)


@dataclasses.dataclass
class PopulationFit:
    """Shared estimates (with standard errors and Wald intervals) and per-subject individual estimates.

    `identifiable` is False (and every standard error and interval NaN) if the Hessian of the joint
    NLL is not positive definite, as in [`wald_intervals`][].
    """

    problem: Problem
    subjects: list[str]
    shared: dict[str, dict[str, float]]
    individual: dict[str, np.ndarray]
    individual_se: dict[str, np.ndarray]
    nll: float
    n_obs: int
    n_params: int
    aic: float
    bic: float
    converged: bool
    starts_nll: np.ndarray
    level: float
    identifiable: bool

    def summary(self) -> str:
        lines = [f"{type(self.problem.model).__name__} population fit: {len(self.subjects)} subjects, "
                 f"{self.n_obs} observations, {self.n_params} parameters; NLL {self.nll:.6g}, AIC {self.aic:.6g}, "
                 f"BIC {self.bic:.6g}, {'converged' if self.converged else 'NOT converged'}"]
        for name, s in self.shared.items():
            lines.append(f"  shared {name:>12} = {s['estimate']:.5g} (se {s['se']:.3g}, "
                         f"{100 * self.level:g}% CI [{s['lower']:.5g}, {s['upper']:.5g}])")
        for name, v in self.individual.items():
            lines.append(f"  individual {name:>8}: median {np.median(v):.5g}, range [{v.min():.5g}, {v.max():.5g}]")
        if not self.identifiable:
            lines.append("Hessian not positive definite: some parameters are not identifiable")
        return "\n".join(lines)

    def as_dict(self):
        return {"subjects": self.subjects, "shared": self.shared,
                "individual": {k: v.tolist() for k, v in self.individual.items()},
                "individual_se": {k: v.tolist() for k, v in self.individual_se.items()}, "nll": self.nll,
                "n_obs": self.n_obs, "n_params": self.n_params, "aic": self.aic, "bic": self.bic,
                "converged": self.converged, "level": self.level, "identifiable": self.identifiable}


def fit_population(problem: Problem, dataset: Dataset, *, shared, individual, subjects=None, n_starts: int = 4,
                   key=0, spread: float = 0.5, max_steps: int = 300, gtol: float = 1e-6,
                   level: float = 0.95) -> PopulationFit:
    r"""Joint maximum-likelihood fit with `shared` parameters common to all subjects and `individual` ones per subject.

    The joint vector is $w = (z_{shared}, z_{individual,1}, \dots, z_{individual,S})$; the
    objective is $\sum_s \mathrm{NLL}_s$, each subject solved on its own (padded, masked) time
    grid in one vmapped call, and all starts are vmapped too (L-BFGS, with the problem's `gradient` rule
    counted over the joint vector: forward mode up to 6 entries with `"auto"`). Standard errors come
    from the autodiff Hessian of the joint NLL. This is a fixed-effects population model
    (no distribution on the individual parameters); AIC/BIC count every shared and individual
    parameter.
    """
    _check("lbfgs", max_steps, 1.0)
    level = check_level(level)
    i_sh, i_in = _layout(problem, shared, individual)
    pad = dataset.padded(subjects)
    time, value, mask = (jnp.asarray(a) for a in problem.check_series(pad["time"], pad["value"], pad["mask"]))
    n_subj = time.shape[0]
    z0 = problem.z_start()
    w0 = jnp.concatenate([z0[jnp.asarray(i_sh, int)], jnp.tile(z0[jnp.asarray(i_in, int)], n_subj)])
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    starts = spread_starts(w0, n_starts, key, spread)
    state = _population_multistart(problem, starts, tuple(i_sh), tuple(i_in), time, value, mask, max_steps, gtol)
    k = _best(np.asarray(state.value))
    w = state.z[k]
    H = np.asarray(_population_hessian(problem, w, tuple(i_sh), tuple(i_in), time, value, mask))
    cov = covariance(H)
    se_w = np.full(w.shape, np.nan) if cov is None else np.sqrt(np.diag(cov))
    q = normal_quantile(level)
    z_subj = np.asarray(_assemble(w, i_sh, i_in, n_subj, problem.n_free))
    x_subj = np.asarray(problem.to_natural(z_subj))
    shared_out = {}
    for j, i in enumerate(i_sh):
        tr = problem.transforms[i]
        lo, hi = (float(tr.inverse(w[j] + s * q * se_w[j])) for s in (-1, 1))
        shared_out[problem.names[i]] = {"estimate": float(x_subj[0, i]),
                                        "se": float(abs(jax.grad(tr.inverse)(w[j])) * se_w[j]),
                                        "lower": min(lo, hi), "upper": max(lo, hi)}
    k_s = len(i_sh)
    se_ind = se_w[k_s:].reshape(n_subj, len(i_in))
    individual, individual_se = {}, {}
    for j, i in enumerate(i_in):
        tr = problem.transforms[i]
        individual[problem.names[i]] = x_subj[:, i]
        jac = np.asarray(jax.vmap(jax.grad(tr.inverse))(z_subj[:, i]))
        individual_se[problem.names[i]] = np.abs(jac) * se_ind[:, j]
    nll = float(state.value[k])
    n_obs = int(np.sum(mask))
    n_params = int(w.shape[0])
    return PopulationFit(problem=problem, subjects=[str(s) for s in pad["subjects"]], shared=shared_out,
                         individual=individual, individual_se=individual_se, nll=nll, n_obs=n_obs,
                         n_params=n_params, aic=float(aic(nll, n_params)), bic=float(bic(nll, n_params, n_obs)),
                         converged=bool(state.converged[k]), starts_nll=np.asarray(state.value), level=level,
                         identifiable=cov is not None)
