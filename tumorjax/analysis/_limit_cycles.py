r"""Limit cycles by single shooting: from a Hopf point along the cycle branch, and at fixed parameters.

A $T$-periodic orbit through $x_0$ solves $\varphi_T(x_0) - x_0 = 0$, where $\varphi_T$ is
the flow over time $T$ (diffrax, Dopri8 at tight tolerances, on the rescaled time
$\tau = t/T \in [0, 1]$ and states $\xi = x/x_s$). The $n$ equations leave the phase free,
so one more condition fixes it.

**From a Hopf point** $(x_H, p_H, \pm i\omega)$ with $f_x q = i\omega q$,
$f_x^T w = -i\omega w$, $\bar w^T q = 1$: near the Hopf point a cycle is
$x(t) \approx x_H + 2\operatorname{Re}(z(t)q)$ with $z(t) = \bar w^T(x(t) - x_H)$ turning at rate
$\omega$ (Kuznetsov 2004, Sec. 3.5). The cycles are parametrised by their amplitude
$\varepsilon$: unknowns $(x_0, T, p)$, equations

$$\varphi_T(x_0; p) - x_0 = 0,\qquad \operatorname{Im}\bar w^T(x_0 - x_H) = 0,\qquad
  \operatorname{Re}\bar w^T(x_0 - x_H) = \varepsilon,$$

a regular system for small $\varepsilon > 0$; the first two cycles ($\varepsilon$, $2\varepsilon$)
come from it. Then the amplitude measured from $x_H$ stops being a good parameter (the
equilibrium moves with $p$), and the branch is followed by pseudo-arclength continuation in
$(x_0, T, p)$ with the Poincaré condition $f(x_{\rm prev})\cdot(x_0 - x_{\rm prev}) = 0$ at
the previous cycle (which can pass folds of cycles; none occur in the examples here).
Newton's method with the Jacobian by forward-mode autodiff through the solver; the step
adapts. For each cycle: the period, the minimum and maximum of every state over one period
(801 samples), and the Floquet multipliers (eigenvalues of the monodromy matrix
$\partial\varphi_T/\partial x_0$; one is 1; the cycle is stable if the others lie inside the
unit circle).

**At fixed parameters** [`periodic_orbit`][tumorjax.analysis.periodic_orbit] uses the
Poincaré condition $f(x_{\rm ref})\cdot(x_0 - x_{\rm ref}) = 0$ at the guess.
"""

import dataclasses

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ..core._simulate import checked_params
from ._bifurcation_points import parameter_field, require_parameter
from ._continuation import check_parameter, newton_until
from ._stability import jacobian

_N_SAMPLES = 801


@dataclasses.dataclass(frozen=True)
class LimitCycle:
    """One periodic orbit: parameter value, period, a point on it, per-state min and max, Floquet multipliers."""

    param: float
    period: float
    state0: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    multipliers: np.ndarray

    @property
    def stable(self) -> bool:
        """All multipliers but the trivial one (nearest 1) inside the unit circle."""
        mu = self.multipliers
        rest = np.delete(mu, np.argmin(np.abs(mu - 1.0)))
        return bool(np.all(np.abs(rest) < 1.0))


@dataclasses.dataclass(frozen=True)
class CycleBranch:
    """Limit cycles along a parameter: `params` `(k,)`, `periods` `(k,)`, `minimum`/`maximum` `(k, n)`."""

    param_name: str
    state_names: tuple[str, ...]
    cycles: tuple[LimitCycle, ...]
    message: str

    @property
    def params(self) -> np.ndarray:
        return np.array([c.param for c in self.cycles])

    @property
    def periods(self) -> np.ndarray:
        return np.array([c.period for c in self.cycles])

    @property
    def minimum(self) -> np.ndarray:
        return np.array([c.minimum for c in self.cycles]).reshape(-1, len(self.state_names))

    @property
    def maximum(self) -> np.ndarray:
        return np.array([c.maximum for c in self.cycles]).reshape(-1, len(self.state_names))

    @property
    def stable(self) -> np.ndarray:
        return np.array([c.stable for c in self.cycles], dtype=bool)

    def columns(self) -> dict[str, np.ndarray]:
        """Columns for a CSV file: parameter, period, min and max of every state, stable (1/0)."""
        cols = {self.param_name: self.params, "period": self.periods}
        for i, n in enumerate(self.state_names):
            cols[f"{n}_min"], cols[f"{n}_max"] = self.minimum[:, i], self.maximum[:, i]
        cols["stable"] = self.stable.astype(int)
        return cols


def _flow(model, params, index, t, xs, xi0, T, p, ts=None):
    """xi(1) (or xi at the rescaled times `ts`) of d xi/d tau = T f(xs xi, p)/xs, xi(0) = xi0."""
    f = parameter_field(model, params, index, t)
    term = diffrax.ODETerm(lambda tau, xi, args: args[0] * f(xs * xi, args[1]) / xs)
    saveat = diffrax.SaveAt(t1=True) if ts is None else diffrax.SaveAt(ts=ts)
    sol = diffrax.diffeqsolve(term, diffrax.Dopri8(), 0.0, 1.0, 0.01, xi0, (T, p), saveat=saveat,
                              stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12),
                              max_steps=20_000, adjoint=diffrax.ForwardMode(), throw=False)
    return sol.ys[-1] if ts is None else sol.ys


def _newton(G, v, n_iter, tol):
    v, k, size = newton_until(G, v, n_iter, tol)
    return v, k, (size <= tol) & jnp.all(jnp.isfinite(v))


@eqx.filter_jit
def _shoot(model, params, index, t, xs, T_h, p_h, ps, C, d, v0, n_iter, tol):
    """Newton on (flow - xi0, C v - d) in v = (xi0, T/T_h, (p - p_h)/ps), and the monodromy matrix.

    Every shooting problem here is this one with two linear conditions `C v = d`: phase and
    amplitude at a Hopf point, Poincaré and arclength along the branch, Poincaré and a fixed
    parameter for one orbit. One compilation per model serves them all (`n_iter` is traced).
    """
    n = xs.shape[0]

    def flow(xi0, v):
        return _flow(model, params, index, t, xs, xi0, T_h * v[n], p_h + ps * v[n + 1])

    def G(v):
        return jnp.concatenate([flow(v[:n], v) - v[:n], C @ v - d])

    v, k, ok = _newton(G, v0, n_iter, tol)
    return v, k, ok, jax.jacfwd(lambda x: flow(x, v))(v[:n])


def _conditions(rows, values):
    """`C`, `d` of the linear conditions `C v = d` of `_shoot`."""
    return jnp.stack(rows), jnp.stack(values)


def params_value(params, index):
    """The value of the parameter at position `index` (traced) of `params.names()`."""
    leaves = jnp.stack([jnp.asarray(getattr(params, n), jnp.result_type(float)) for n in params.names()])
    return leaves[index]


@eqx.filter_jit
def _extrema(model, params, index, t, xs, xi0, T, p):
    ys = _flow(model, params, index, t, xs, xi0, T, p, ts=jnp.linspace(0.0, 1.0, _N_SAMPLES))
    return jnp.min(ys, 0) * xs, jnp.max(ys, 0) * xs


def _cycle(model, params, index, t, xs, v, M, p, label):
    """The LimitCycle of a converged shooting solution `v`, with parameter `index` at value `p`."""
    n = xs.shape[0]
    lo, hi = _extrema(model, params, index, t, xs, v[:n], v[n], jnp.asarray(p, xs.dtype))
    return LimitCycle(float(label), float(v[n]), np.asarray(v[:n] * xs), np.asarray(lo), np.asarray(hi),
                      np.linalg.eigvals(np.asarray(M)))


def cycles_from_hopf(model, params, name: str, hopf, p_range, *, amplitude: float = 1e-3, max_cycles: int = 60,
                     min_step: float = 1e-6, max_step: float = 0.05, t: float = 0.0, n_newton: int = 12,
                     tol: float = 1e-9) -> CycleBranch:
    r"""The branch of limit cycles born at a Hopf point, until the parameter leaves `p_range`.

    **Arguments:**

    - `model`, `params`, `name`: the model, its parameters and the continuation parameter.
    - `hopf`: a Hopf [`SpecialPoint`][tumorjax.analysis.SpecialPoint] from
      [`continuation`][tumorjax.analysis.continuation] (anything with `param`, `state`).
    - `p_range`: `(lo, hi)`; the branch stops when the parameter leaves it (checked against
      the parameter's domain like `continuation`).
    - `amplitude`: the amplitude $\varepsilon$ of the first two cycles ($\varepsilon$ and
      $2\varepsilon$), in units of `model.state_scale`.
    - `max_step`, `min_step`: bounds of the arclength step in the scaled unknowns
      $(x_0/x_s, T/T_H, (p - p_H)/\text{width})$; it grows by 1.5 after fast Newton solves
      and halves after failures.
    - `max_cycles`: at most this many cycles; `tol`: Newton tolerance on the scaled step.

    The first two cycles come from the amplitude-parametrised system of the module docstring;
    from there the branch is followed by pseudo-arclength continuation in
    $(x_0, T, p)$ with the Poincaré phase condition at the previous cycle (the amplitude
    relative to the Hopf equilibrium stops being a good parameter once the equilibrium has
    moved). Returns a [`CycleBranch`][tumorjax.analysis.CycleBranch] (its `message` says why
    it ended). Each Newton solve is one jitted call; the shooting Jacobian comes from
    forward-mode autodiff through diffrax.
    """
    params = checked_params(model, params, ODEModel)
    lo, hi = sorted(check_parameter(params, name, p_range))
    dtype = jnp.result_type(float)
    index = jnp.asarray(params.names().index(name))
    tt = jnp.asarray(t, dtype)
    xs = jnp.abs(jnp.asarray(model.state_scale(params), dtype))
    p_h = float(hopf.param)
    ph = params.replace(**{name: p_h})
    x_s = np.asarray(xs)
    Js = np.asarray(jacobian(model, ph, jnp.asarray(hopf.state, dtype), t)) * x_s[None, :] / x_s[:, None]
    lam, Q = np.linalg.eig(Js)
    k = int(np.argmax(np.where(lam.imag > 0, -np.abs(lam.real), -np.inf)))
    omega, q = float(lam[k].imag), Q[:, k]
    if not omega > 0 or abs(lam[k].real) > 1e-6 * np.max(np.abs(lam)):
        raise ValueError(f"{name} = {p_h} is not a Hopf point: no eigenvalue pair +-i omega of the Jacobian")
    lam_t, W = np.linalg.eig(Js.T)
    w = W[:, int(np.argmin(np.abs(lam_t + 1j * omega)))]
    w = w / np.conj(np.vdot(w, q))  # conj(w) . q = 1
    xi_h = jnp.asarray(hopf.state, dtype) / xs
    T_h, p_hj, ps = jnp.asarray(2 * np.pi / omega, dtype), jnp.asarray(p_h, dtype), jnp.asarray(hi - lo, dtype)
    n = model.n_states
    cycles, solutions, message = [], [], f"reached max_cycles = {max_cycles}"

    def accept(sol, M):
        p = p_h + float(ps) * float(sol[n + 1])
        if not lo <= p <= hi:
            return f"{name} left [{lo}, {hi}] at {p:.6g}"
        cycles.append(_cycle(model, params, index, tt, xs, sol.at[n].multiply(T_h), M, p, p))
        solutions.append(sol)
        return None

    n_iter = jnp.asarray(n_newton)
    pad = jnp.zeros(2, dtype)
    w_re, w_im = jnp.asarray(np.real(w), dtype), jnp.asarray(np.imag(w), dtype)
    eps, eps_ok = amplitude, None  # eps_ok: the amplitude of the cycle found first
    while len(solutions) < 2:
        # conj(w).(xi0 - xi_h) = eps: imaginary part (phase) and real part (amplitude)
        C, d = _conditions([jnp.concatenate([w_im, pad]), jnp.concatenate([w_re, pad])],
                           [w_im @ xi_h, w_re @ xi_h + eps])
        v0 = jnp.concatenate([xi_h + 2 * eps * jnp.asarray(np.real(q)), jnp.array([1.0, 0.0], dtype)])
        sol, _, ok, M = _shoot(model, params, index, tt, xs, T_h, p_hj, ps, C, d,
                               v0 if not solutions else solutions[-1], n_iter, tol)
        if not bool(ok):
            if eps_ok is None and eps < 1e-3 * amplitude:
                return CycleBranch(name, tuple(model.state_names), tuple(cycles),
                                   f"no cycle found near the Hopf point (amplitude down to {eps:.3g})")
            if eps_ok is not None and eps - eps_ok < 1e-3 * eps_ok:
                return CycleBranch(name, tuple(model.state_names), tuple(cycles),
                                   f"no second cycle found beyond amplitude {eps_ok:.3g} near the Hopf point")
            # halve the amplitude, or once a cycle is found the increment past it (never back to that cycle)
            eps = eps / 2 if eps_ok is None else (eps_ok + eps) / 2
            continue
        stop = accept(sol, M)
        if stop:
            return CycleBranch(name, tuple(model.state_names), tuple(cycles), stop)
        eps_ok, eps = eps, 2 * eps
    step = float(jnp.linalg.norm(solutions[1] - solutions[0]))
    tau = (solutions[1] - solutions[0]) / step
    while len(cycles) < max_cycles:
        v = solutions[-1]
        xi_ref = v[:n]
        f_ref = parameter_field(model, params, index, tt)(xs * xi_ref, p_hj + ps * v[n + 1]) / xs
        f_ref = jnp.concatenate([f_ref / jnp.linalg.norm(f_ref), pad])
        v_pred = v + step * tau
        C, d = _conditions([f_ref, tau], [f_ref @ v, tau @ v_pred])  # Poincaré section, arclength
        sol, k_it, ok, M = _shoot(model, params, index, tt, xs, T_h, p_hj, ps, C, d, v_pred, n_iter, tol)
        if not bool(ok):
            step /= 2
            if step < min_step:
                p_last = p_h + float(ps) * float(v[n + 1])
                message = f"Newton failed at {name} = {p_last:.6g} (step below {min_step})"
                break
            continue
        stop = accept(sol, M)
        if stop:
            message = stop
            break
        d = sol - v
        tau = d / jnp.linalg.norm(d)
        if int(k_it) <= 4:
            step = min(1.5 * step, max_step)
    return CycleBranch(name, tuple(model.state_names), tuple(cycles), message)


def periodic_orbit(model, params, x0, period, *, name: str | None = None, t: float = 0.0, n_newton: int = 20,
                   tol: float = 1e-9) -> LimitCycle:
    """The periodic orbit near the point `x0` `(n_states,)` with a period near `period`, by shooting.

    `name` only labels the result: its `param` is `params.<name>` (NaN without a name). The
    guess can come from a nearby cycle of [`cycles_from_hopf`][tumorjax.analysis.cycles_from_hopf]
    or from a simulation. Raises a `ValueError` if Newton does not converge.
    """
    params = checked_params(model, params, ODEModel)
    dtype = jnp.result_type(float)
    x0 = jnp.asarray(x0, dtype)
    if x0.shape != (model.n_states,):
        raise ValueError(f"x0 must have shape ({model.n_states},) for the states {model.state_names}, "
                         f"got {x0.shape}")
    xs = jnp.abs(jnp.asarray(model.state_scale(params), dtype))
    if name is not None:
        require_parameter(params, name)
    label = float("nan") if name is None else float(getattr(params, name))
    index = jnp.asarray(0)
    p0 = params_value(params, index)
    xi = x0 / xs
    f_ref = jnp.concatenate([model.vector_field(t, x0, params) / xs, jnp.zeros(2, dtype)])
    e_p = jnp.zeros(model.n_states + 2, dtype).at[-1].set(1.0)
    v0 = jnp.concatenate([xi, jnp.array([1.0, 0.0], dtype)])
    C, d = _conditions([f_ref, e_p], [f_ref @ v0, jnp.zeros((), dtype)])  # Poincaré section, p fixed
    T_guess = jnp.asarray(period, dtype)
    v, _, ok, M = _shoot(model, params, index, jnp.asarray(t, dtype), xs, T_guess, p0, jnp.ones((), dtype), C, d,
                         v0, jnp.asarray(n_newton), tol)
    if not bool(ok):
        start = dict(zip(model.state_names, np.asarray(x0).tolist()))
        raise ValueError(f"no periodic orbit found near x0 = {start} with period ~{period}: Newton did not "
                         "converge (start on or nearer the cycle)")
    return _cycle(model, params, index, jnp.asarray(t, dtype), xs, v.at[-2].multiply(T_guess), M, p0, label)
