"""Uncertainty from the observed Fisher information and the profile likelihood."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri

from ._optimize import minimize
from ._problem import HESSIAN_ADJOINT, Problem


def check_level(level: float) -> float:
    """`level` as a float after checking it is a confidence level in (0, 1) (0.95, not 95)."""
    if not 0 < float(level) < 1:
        raise ValueError(f"level must be a confidence level in (0, 1) such as 0.95, got {level!r}")
    return float(level)


def normal_quantile(level: float) -> float:
    """$z$ with $P(|N(0, 1)| \\le z) = $ `level`: the half-width, in standard errors, of a Wald interval."""
    return float(ndtri((1 + check_level(level)) / 2))


def chi2_1_quantile(level: float) -> float:
    """The `level` quantile of the chi-square distribution with one degree of freedom."""
    return normal_quantile(level) ** 2


def covariance(information):
    """The inverse of a Fisher information matrix, or None if it is not (numerically) positive definite."""
    info = np.asarray(information, float)
    eig = np.linalg.eigvalsh(0.5 * (info + info.T)) if np.all(np.isfinite(info)) else np.array([-1.0])
    if eig.min() <= 1e-12 * max(abs(eig.max()), 1e-300):
        return None
    return np.linalg.inv(info)


@eqx.filter_jit
def fisher_information(problem: Problem, z, time, value, mask):
    r"""Observed Fisher information $I(\hat z) = \nabla^2_z \mathrm{NLL}(\hat z)$ in the fitted (transformed) space.

    Autodiff Hessian, forward over forward (`jax.jacfwd` twice, the solve in diffrax's
    `ForwardMode`): exact to solver tolerance, and cheaper to compile than reverse-mode
    Hessians through a checkpointed adjoint. Batched `time`/`value`/`mask` of shape `(S, n)` sum the
    subjects' likelihoods.
    """
    def nll(z):
        if time.ndim == 1:
            return problem.nll(z, time, value, mask, adjoint=HESSIAN_ADJOINT)
        return jnp.sum(jax.vmap(lambda t, v, m: problem.nll(z, t, v, m, adjoint=HESSIAN_ADJOINT))(time, value, mask))
    return jax.jacfwd(jax.jacfwd(nll))(z)


def wald_intervals(problem: Problem, z, information, level: float = 0.95):
    r"""Standard errors and Wald confidence intervals from the Fisher information.

    $\mathrm{Cov}(\hat z) = I^{-1}$; the interval $\hat z_i \pm q\,\mathrm{se}(z_i)$ is mapped
    to the natural scale through the (monotone) transform, so a log-scale parameter gets an
    asymmetric interval. The natural-scale standard error is the delta method
    $|dx/dz|\,\mathrm{se}(z)$. If $I$ is not positive definite (a non-identifiable direction)
    every entry is NaN and `identifiable` is False.

    Returns a dict with `se`, `lower`, `upper` (natural scale), `se_z`, `covariance_z`,
    `identifiable`.
    """
    z = np.asarray(z, float)
    q = normal_quantile(level)
    cov = covariance(information)
    if cov is None:
        nan = np.full(z.shape, np.nan)
        return {"se": nan, "lower": nan, "upper": nan, "se_z": nan,
                "covariance_z": np.full(np.shape(information), np.nan), "identifiable": False}
    se_z = np.sqrt(np.diag(cov))
    lo, hi = (np.asarray(problem.to_natural(z + s * q * se_z)) for s in (-1, 1))
    jac = np.array([float(jax.grad(tr.inverse)(jnp.asarray(zi))) for tr, zi in zip(problem.transforms, z)])
    return {"se": np.abs(jac) * se_z, "lower": np.minimum(lo, hi), "upper": np.maximum(lo, hi), "se_z": se_z,
            "covariance_z": cov, "identifiable": True}


@dataclasses.dataclass
class Profile:
    """A profile likelihood: `nll[j]` is the NLL minimised over the other parameters with `name` = `values[j]`."""

    name: str
    values: np.ndarray
    nll: np.ndarray
    nll_min: float
    threshold: float
    level: float
    lower: float
    upper: float

    def as_dict(self):
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}

    def plot(self, path=None, ax=None):
        from ._plots import plot_profile

        return plot_profile(self, path=path, ax=ax)


@eqx.filter_jit
def _profile_values(problem, z_hat, i, zs, time, value, mask, max_steps):
    rest = jnp.delete(z_hat, i, assume_unique_indices=True)

    def one(zi):
        def f(w):
            return problem.nll(jnp.insert(w, i, zi), time, value, mask)
        if rest.shape[0] == 0:
            return f(rest)
        return minimize(f, rest, max_steps=max_steps).value
    return jax.vmap(one)(zs)


def _crossing(values, nll, threshold, j_min, side):
    """Linear interpolation of where the profile crosses `threshold` left/right of the minimum (nan if not)."""
    idx = range(j_min, -1, -1) if side < 0 else range(j_min, len(values))
    prev = j_min
    for j in idx:
        if nll[j] > threshold:
            a, b = nll[prev], nll[j]
            w = (threshold - a) / (b - a) if np.isfinite(b) else 0.0
            return values[prev] + w * (values[j] - values[prev])
        prev = j
    return np.nan


def profile_likelihood(report, name: str, values=None, *, n: int = 21, width: float = 3.0,
                       level: float = 0.95, max_steps: int = 100) -> Profile:
    r"""Profile likelihood of one fitted parameter around a fit (all grid points in one vmapped call).

    The grid (natural scale) defaults to `n` points spanning $\hat z \pm$ `width`
    $\cdot\,\mathrm{se}(z)$ in the fitted space (or $\pm 1$ if the standard error is unknown).
    The profile confidence interval is where
    $\mathrm{NLL}_p(x) \le \mathrm{NLL}_{min} + \chi^2_{1,\text{level}}/2$ (1.92 at 95 %), by
    linear interpolation; NaN on a side where the profile never crosses (practically
    non-identifiable there).
    """
    problem = report.problem
    if name not in problem.names:
        raise ValueError(f"{name!r} is not a fitted name; fitted: {problem.names}")
    half_width = chi2_1_quantile(level) / 2
    i = problem.names.index(name)
    z_hat = jnp.asarray(report.z)
    if values is None:
        half = width * (report.se_z[i] if np.isfinite(report.se_z[i]) else 1.0)
        zs = float(z_hat[i]) + np.linspace(-half, half, n)
        values = np.asarray(problem.transforms[i].inverse(jnp.asarray(zs)))
    else:
        values = np.sort(np.asarray(values, float).ravel())
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"values must be a non-empty grid of finite numbers, got {values}")
        for x in values:
            problem.transforms[i].check(name, x)
        zs = np.asarray(problem.transforms[i].forward(jnp.asarray(values)))
    time, value, mask = (jnp.asarray(a) for a in report.data)
    nll = np.asarray(_profile_values(problem, z_hat, i, jnp.asarray(zs), time, value, mask, max_steps))
    nll_min = min(float(report.nll), float(np.nanmin(nll)))
    threshold = nll_min + half_width
    j_min = int(np.nanargmin(nll))
    return Profile(name=name, values=values, nll=nll, nll_min=nll_min, threshold=threshold, level=level,
                   lower=float(_crossing(values, nll, threshold, j_min, -1)),
                   upper=float(_crossing(values, nll, threshold, j_min, +1)))
