r"""Pseudo-arclength continuation of equilibria in one parameter, with fold, branch and Hopf points.

The branch $\{(x, p): f(x, p) = 0\}$ of an [`tumorjax.ODEModel`][] is followed in scaled
coordinates $u = (x/x_s,\ (p - p_0)/p_s)$ ($x_s$ = `model.state_scale`, $p_s$ = the width
of the range). Each step predicts $u + \Delta s\,\tau$ along the unit tangent $\tau$ and
corrects by Newton's method on

$$f(u) = 0,\qquad \tau\cdot(u - u_{\rm pred}) = 0$$

(Keller 1977; Kuznetsov 2004, *Elements of Applied Bifurcation Theory*, Sec. 10.1) with
autodiff Jacobians; the new tangent solves $[f_u;\ \tau^T]\,\tau' = e_{n+1}$, which keeps
the orientation through folds. The step grows after fast corrections and halves after a
failed one or a turn of more than `max_turn` radians. Test functions along the branch:

- **fold**: the parameter component of the tangent, $\tau_p$, changes sign;
- **branch point**: $\det[f_u;\ \tau^T]$ changes sign;
- **Hopf**: $\det(2f_x\odot I)$ changes sign and the located point has eigenvalues
  $\pm i\omega$, $\omega > 0$ (otherwise it is a neutral saddle and is not reported).

Each sign change is then located by Newton's method on the augmented systems of
[`tumorjax.analysis.locate_bifurcation`][]. Stability along the branch comes from the
eigenvalues of $f_x$ at every point, on the host (NumPy; `jnp.linalg.eig` has no GPU
kernel). The corrector is one jitted call per step, with the model and parameters as
traced pytrees, so a new parameter value never recompiles.

[`continue_fixed`][tumorjax.analysis.continue_fixed] is the same predictor-corrector with a
fixed step in one `lax.scan`: pure JAX, so `vmap` gives branches for many values of a
second parameter in one call, with Routh-Hurwitz stability ([`tumorjax.analysis.is_stable`][]).
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ..core._params import is_concrete
from ..core._simulate import checked_params, initial_state
from ._bifurcation_points import KINDS, hopf_test_function, locate, parameter_field, require_parameter
from ._stability import eigenvalues, is_stable, jacobian


@dataclasses.dataclass(frozen=True)
class SpecialPoint:
    """A bifurcation point found along a branch.

    `kind` is `"fold"`, `"hopf"` or `"branch_point"`; `index`: it lies between branch
    points `index - 1` and `index`; `located`: Newton on the augmented system converged
    (otherwise `param`, `state` are the secant estimate); `omega`: the Hopf frequency
    (period at onset $2\\pi/\\omega$), NaN for the other kinds.
    """

    kind: str
    param: float
    state: np.ndarray
    eigenvalues: np.ndarray
    index: int
    located: bool
    omega: float = float("nan")

    def as_dict(self, state_names) -> dict:
        d = {"kind": self.kind, "param": self.param, "state": dict(zip(state_names, self.state.tolist())),
             "eigenvalues": [[float(e.real), float(e.imag)] for e in self.eigenvalues],
             "located": bool(self.located)}
        if self.kind == "hopf":
            d.update(omega=float(self.omega), period=2 * np.pi / float(self.omega))
        return d


@dataclasses.dataclass(frozen=True)
class Branch:
    """A branch of equilibria: parameter values `(k,)`, states `(k, n)`, eigenvalues `(k, n)`, stability `(k,)`."""

    param_name: str
    state_names: tuple[str, ...]
    params: np.ndarray
    states: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    points: tuple[SpecialPoint, ...]
    message: str

    @property
    def n_unstable(self) -> np.ndarray:
        """Number of eigenvalues with positive real part at each point."""
        return np.sum(self.eigenvalues.real > 0, axis=1)

    def special(self, kind: str) -> list[SpecialPoint]:
        """The special points of one kind, in branch order."""
        return [s for s in self.points if s.kind == kind]

    def columns(self) -> dict[str, np.ndarray]:
        """Columns for a CSV file: the parameter, every state, `stable` (1/0) and `n_unstable`."""
        cols = {self.param_name: self.params}
        cols.update({n: self.states[:, i] for i, n in enumerate(self.state_names)})
        cols.update(stable=self.stable.astype(int), n_unstable=self.n_unstable)
        return cols

    def as_dict(self) -> dict:
        return {"parameter": self.param_name, "n_points": int(self.params.size), "message": self.message,
                "range_covered": [float(self.params.min()), float(self.params.max())],
                "special_points": [s.as_dict(self.state_names) for s in self.points]}


def check_parameter(params, name: str, p_range) -> tuple[float, float]:
    """`p_range` as floats after checking `name` is a parameter and the range is admissible.

    Raises a `ValueError` for an unknown name (listing the parameters), an empty range, or a
    range that leaves the parameter's domain (its `lower` bound in [`tumorjax.param`][]).
    """
    require_parameter(params, name)
    try:
        a, b = (float(v) for v in p_range)
    except (TypeError, ValueError):
        raise ValueError(f"the range of {name} must be two numbers (start, end), got {p_range!r}") from None
    if not (np.isfinite(a) and np.isfinite(b)) or a == b:
        raise ValueError(f"the range of {name} must be two different finite numbers, got {p_range!r}")
    meta = params.info()[name]
    lower, strict = meta.get("lower"), meta.get("strict")
    if lower is not None and (min(a, b) <= lower if strict else min(a, b) < lower):
        op = ">" if strict else ">="
        raise ValueError(f"the range [{min(a, b)}, {max(a, b)}] of {name} leaves its admissible domain: {name} "
                         f"({meta.get('doc', '')}) must be {op} {lower} [{meta.get('units', '')}]")
    if np.ndim(getattr(params, name)) != 0:
        raise ValueError(f"{name} must be a scalar parameter to continue in it, "
                         f"got shape {np.shape(getattr(params, name))}")
    return a, b


def _guess(model, y0, dtype):
    """The equilibrium guess `y0` (an array or a dict by state name) as an array, checked for shape."""
    names = model.state_names
    if isinstance(y0, dict):
        y0 = initial_state(model, y0, dtype, what="y0")
    y0 = jnp.asarray(y0, dtype)
    if y0.shape != (len(names),):
        raise ValueError(f"y0 must have shape ({len(names)},) for the states {names}, got {y0.shape}")
    return y0


def _scaled_field(model, params, name, t, xs, p0, ps):
    f = parameter_field(model, params, name, t)

    def F(u):
        return f(u[:-1] * xs, p0 + ps * u[-1]) / xs

    return F


def newton_until(G, v, n_iter, tol):
    """Newton on G (autodiff Jacobian) from `v` until the largest step is below `tol`, at most `n_iter` steps.

    Returns the iterate, the number of steps and the size of the last one (inf if non-finite).
    """

    def cond(c):
        _, k, size = c
        return (k < n_iter) & (size > tol)

    def body(c):
        v, k, _ = c
        s = jnp.linalg.solve(jax.jacfwd(G)(v), -G(v))
        size = jnp.where(jnp.all(jnp.isfinite(s)), jnp.max(jnp.abs(s)), jnp.inf)
        return jnp.where(jnp.isfinite(size), v + s, v), k + 1, size

    return jax.lax.while_loop(cond, body, (v, 0, jnp.asarray(jnp.inf, v.dtype)))


def _correct(F, u_pred, tau, n_iter, tol):
    """Newton on (F(u), tau.(u - u_pred)) from u_pred; the new tangent and the test functions there."""

    def H(u):
        return jnp.concatenate([F(u), (tau @ (u - u_pred))[None]])

    u, k, size = newton_until(H, u_pred, n_iter, tol)
    Fu = jax.jacfwd(F)(u)
    bordered = jnp.concatenate([Fu, tau[None]])
    t_new = jnp.linalg.solve(bordered, jnp.zeros_like(u).at[-1].set(1.0))
    t_new = t_new / jnp.linalg.norm(t_new)
    residual = jnp.max(jnp.abs(F(u)))
    ok = (size <= tol) & (residual <= 1e3 * tol) & jnp.all(jnp.isfinite(t_new))
    aug = jnp.linalg.det(jnp.concatenate([Fu, t_new[None]]))
    return u, t_new, ok, k, aug, residual


def _tests(F, u):
    """(the Jacobian f_x in scaled units, the Hopf test det(2 f_x . I))."""
    Fx = jax.jacfwd(F)(u)[:, :-1]
    hopf = hopf_test_function(Fx) if Fx.shape[0] > 1 else jnp.ones((), u.dtype)
    return Fx, hopf


@eqx.debug.assert_max_traces(max_traces=None)  # counts traces; tests read eqx.debug.get_num_traces
def _step_impl(model, params, index, t, xs, p0, ps, u, tau, ds, n_iter, tol):
    """One predictor-corrector step from `u` along `tau`; with `tau` = e_p and `ds` = 0, Newton at fixed p.

    The only compiled kernel of `continuation` (the start and the end of the range use it too):
    `index` (the parameter's position) and `n_iter` are traced, so one compilation per model.
    """
    F = _scaled_field(model, params, index, t, xs, p0, ps)
    u_new, t_new, ok, k, aug, residual = _correct(F, u + ds * tau, tau, n_iter, tol)
    Fx, hopf = _tests(F, u_new)
    return u_new, t_new, ok, k, aug, hopf, Fx, residual


_step = eqx.filter_jit(_step_impl)


def _hopf_frequency(eigs, tol=1e-6):
    """omega of the eigenvalue pair nearest the imaginary axis if it is complex (a Hopf point), else NaN."""
    scale = max(float(np.max(np.abs(eigs))), 1e-300)
    lam = eigs[np.argsort(np.abs(eigs.real))]
    if abs(lam[0].real) > tol * scale or abs(lam[0].imag) <= tol * scale:
        return float("nan")
    return float(abs(lam[0].imag))


def continuation(
    model,
    params,
    name: str,
    y0,
    p_range,
    *,
    ds: float = 0.01,
    ds_min: float = 1e-7,
    ds_max: float = 0.02,
    max_steps: int = 2000,
    max_turn: float = 0.3,
    tol: float | None = None,
    n_newton: int = 8,
    t: float = 0.0,
    detect: tuple[str, ...] = ("fold", "branch_point", "hopf"),
) -> Branch:
    r"""Follow a branch of equilibria of `model` in parameter `name` from `p_range[0]` towards `p_range[1]`.

    **Arguments:**

    - `model`, `params`: any [`tumorjax.ODEModel`][] and its [`tumorjax.Parameters`][];
      `params.<name>` is replaced along the branch.
    - `name`: the continuation parameter; an unknown name raises a `ValueError` listing the
      model's parameters.
    - `y0`: `(n_states,)` or a dict by state name: a guess of the equilibrium at
      `p = p_range[0]`; Newton (at most 50 steps) refines it, and a `ValueError` says so if it does not
      converge (give a better guess, e.g. from [`tumorjax.analysis.find_equilibria`][]).
    - `p_range`: `(start, end)`; may decrease. Both ends must be in the parameter's domain.
    - `ds`, `ds_min`, `ds_max`: initial, smallest and largest arclength step in the scaled
      coordinates (the parameter range has length 1).
    - `max_steps`: at most this many points; `max_turn`: largest angle (radians) between
      successive tangents before the step is halved.
    - `tol`: Newton tolerance on the scaled step (default 1e-10 in float64, 1e-5 in float32).
    - `detect`: which special points to detect and locate.

    Returns a [`Branch`][tumorjax.analysis.Branch]. The branch ends at the far end of the
    range (a last point exactly there), when it leaves the range through the start, after
    `max_steps` points, or when the step falls below `ds_min` (its `message` says which).
    """
    params = checked_params(model, params, ODEModel)
    a, b = check_parameter(params, name, p_range)
    unknown = sorted(set(detect) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown special point kind(s) {unknown} in detect; choose from {KINDS}")
    dtype = jnp.result_type(float)
    tol = (1e-10 if dtype == jnp.float64 else 1e-5) if tol is None else tol
    names = model.state_names
    y0 = _guess(model, y0, dtype)
    xs = jnp.abs(jnp.asarray(model.state_scale(params), dtype))
    p0, ps = jnp.asarray(a, dtype), jnp.asarray(b - a, dtype)
    tt = jnp.asarray(t, dtype)
    index = jnp.asarray(params.names().index(name))  # traced: one compilation for every parameter
    e_p = jnp.zeros(len(names) + 1, dtype).at[-1].set(1.0)
    zero = jnp.asarray(0.0, dtype)
    # Newton at p = A from y0 (the corrector with tangent e_p and no step); the tangent then points to larger p
    u, tau, ok, last, aug, hopf, Fx, residual = _step(model, params, index, tt, xs, p0, ps,
                                                      jnp.concatenate([y0 / xs, zero[None]]), e_p, zero,
                                                      jnp.asarray(50), tol)
    if not bool(ok):
        raise ValueError(
            f"Newton's method from y0 = {dict(zip(names, np.asarray(y0).tolist()))} did not converge to an "
            f"equilibrium of {type(model).__name__} at {name} = {a} (scaled residual {float(residual):.3g} after "
            f"{int(last)} steps): start nearer an equilibrium, e.g. one from "
            "tumorjax.analysis.find_equilibria")
    xs_np, a_np, w_np = np.asarray(xs), a, b - a

    def unscale(u):
        u = np.asarray(u)
        return u[:-1] * xs_np, a_np + w_np * u[-1]

    # Fx is D^-1 f_x D with D = diag(xs): the eigenvalues of f_x itself
    us, eigs, points = [np.asarray(u)], [eigenvalues(Fx)], []
    prev = dict(tp=float(tau[-1]), aug=float(aug), hopf=float(hopf))
    message = f"reached {name} = {b}"
    step = ds
    n_iter = jnp.asarray(n_newton)
    while True:
        if len(us) >= max_steps:
            message = f"stopped after max_steps = {max_steps} points"
            break
        u_new, t_new, ok, k, aug, hopf, Fx, _ = _step(model, params, index, tt, xs, p0, ps, u, tau,
                                                     jnp.asarray(step, dtype), n_iter, tol)
        turn = float(jnp.arccos(jnp.clip(t_new @ tau, -1.0, 1.0)))
        if not bool(ok) or turn > max_turn:
            step /= 2
            if step < ds_min:
                message = f"step fell below ds_min = {ds_min} at {name} = {unscale(u)[1]:.6g} (Newton failed)"
                break
            continue
        u_old, tau = u, t_new
        u = u_new
        cur = dict(tp=float(t_new[-1]), aug=float(aug), hopf=float(hopf))
        ev = eigenvalues(Fx)
        found = _detect(prev, cur, detect)
        for kind in found:
            points.append(_locate_between(model, params, name, kind, unscale(u_old), unscale(u), prev, cur,
                                          len(us), xs, abs(b - a), t, tol))
        # a sign change of det(2 f_x . I) with real eigenvalues +-lambda is a neutral saddle, not a Hopf point
        points = [s for s in points if s.kind != "hopf" or np.isfinite(s.omega) or not s.located]
        us.append(np.asarray(u))
        eigs.append(ev)
        prev = cur
        s = float(u[-1])
        if s >= 1.0 or s < 0.0:
            end = b if s >= 1.0 else a
            # the last point exactly at the end: Newton at fixed p from the interpolated guess
            s_end, u_prev = (1.0 if s >= 1.0 else 0.0), us[-2]
            guess = u_prev + (s_end - u_prev[-1]) / (us[-1][-1] - u_prev[-1]) * (us[-1] - u_prev)
            guess[-1] = s_end
            u_end, _, ok_end, _, _, _, Fx_end, _ = _step(model, params, index, tt, xs, p0, ps, jnp.asarray(guess),
                                                         e_p, zero, n_iter, tol)
            if bool(ok_end):
                us[-1], eigs[-1] = np.asarray(u_end), eigenvalues(Fx_end)
            message = (f"reached {name} = {end}" if s >= 1.0
                       else f"the branch turned back and left the range at {name} = {a}")
            break
        if int(k) <= 3:
            step = min(step * 1.5, ds_max)
    U = np.stack(us)
    E = np.stack(eigs)
    states, pvals = U[:, :-1] * xs_np, a_np + w_np * U[:, -1]
    stable = np.all(E.real < 0, axis=1)
    return Branch(name, tuple(names), pvals, states, E, stable, tuple(points), message)


def _detect(prev, cur, detect) -> list[str]:
    out = []
    if "fold" in detect and np.sign(prev["tp"]) * np.sign(cur["tp"]) < 0:
        out.append("fold")
    if "branch_point" in detect and np.sign(prev["aug"]) * np.sign(cur["aug"]) < 0:
        out.append("branch_point")
    if "hopf" in detect and np.sign(prev["hopf"]) * np.sign(cur["hopf"]) < 0:
        out.append("hopf")
    return out


_TEST_KEY = {"fold": "tp", "branch_point": "aug", "hopf": "hopf"}


def _locate_between(model, params, name, kind, old, new, prev, cur, index, xs, width, t, tol) -> SpecialPoint:
    """Secant guess between two branch points from the test function, then Newton on the augmented system."""
    key = _TEST_KEY[kind]
    w = prev[key] / (prev[key] - cur[key])
    x_guess, p_guess = old[0] + w * (new[0] - old[0]), old[1] + w * (new[1] - old[1])
    bp = locate(model, params, name, kind, x_guess, p_guess, scale=xs, p_scale=width, t=t, tol=max(tol, 1e-12))
    x, p = np.asarray(bp.state), float(bp.param)
    slack = 1e-3 * width  # the located point must lie in the bracket
    located = bool(bp.converged) and min(old[1], new[1]) - slack <= p <= max(old[1], new[1]) + slack
    if not located:
        x, p = x_guess, float(p_guess)
    ev = eigenvalues(jacobian(model, params.replace(**{name: p}), x, t))
    omega = _hopf_frequency(ev) if kind == "hopf" else float("nan")
    return SpecialPoint(kind, p, x, ev, index, located, omega)


class FixedBranch(eqx.Module):
    """A fixed-step branch from [`continue_fixed`][tumorjax.analysis.continue_fixed] (leading axes: any vmap).

    `params` `(k,)`, `states` `(k, n)`, `stable` `(k,)` (Routh-Hurwitz, n <= 3), `hopf_test`
    `(k,)` ($\\det(2f_x\\odot I)$ in scaled units), `converged` `(k,)`.
    """

    params: jax.Array
    states: jax.Array
    stable: jax.Array
    hopf_test: jax.Array
    converged: jax.Array


def continue_fixed(model, params, name: str, y0, p_start, p_scale, n_steps: int, *, ds: float = 0.01,
                   t: float = 0.0, n_newton: int = 8, tol: float | None = None) -> FixedBranch:
    r"""Pseudo-arclength continuation with a fixed step `ds` in one `lax.scan`: pure JAX, vmappable.

    Starts from a Newton solve at `p_start` (guess `y0`) and takes `n_steps` steps of length
    `ds` in the scaled coordinates $(x/x_s, (p - p_{\rm start})/p_{\rm scale})$, in the
    direction of increasing $p$ if `p_scale` > 0. No step control and no location of special
    points (use [`continuation`][tumorjax.analysis.continuation] for those): meant for
    families of branches, e.g.
    `jax.vmap(lambda b: continue_fixed(m, p.replace(beta=b), "zeta", y0, 0.1, 2.0, 200))(betas)`.
    Folds are passed; `converged` flags points where the corrector did not converge.
    Stability by [`tumorjax.analysis.is_stable`][] (models with up to 3 states).
    """
    params = checked_params(model, params, ODEModel)
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 1):
        raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
    if is_concrete(p_start, p_scale):
        if not np.isfinite(float(p_scale)) or float(p_scale) == 0:
            raise ValueError(f"p_scale must be a finite non-zero number, got {p_scale!r}")
        # the domain has only a lower bound: this range is admissible iff p_start is
        check_parameter(params, name, (p_start, float(p_start) + abs(float(p_scale))))
    else:
        require_parameter(params, name)
    if model.n_states > 3:
        raise ValueError("continue_fixed reports Routh-Hurwitz stability for up to 3 states; use continuation()")
    dtype = jnp.result_type(float)
    tol = (1e-10 if dtype == jnp.float64 else 1e-5) if tol is None else tol
    xs = jnp.abs(jnp.asarray(model.state_scale(params), dtype))
    p0, ps = jnp.asarray(p_start, dtype), jnp.asarray(p_scale, dtype)
    F = _scaled_field(model, params, name, t, xs, p0, ps)
    # Newton at p_start (tangent e_p, no step); the first tangent then points towards increasing p
    u0 = jnp.concatenate([_guess(model, y0, dtype) / xs, jnp.zeros((1,), dtype)])
    u, tau, ok0, _, _, _ = _correct(F, u0, jnp.zeros_like(u0).at[-1].set(1.0), 50, tol)

    def record(u, ok):
        Fx, hopf = _tests(F, u)
        return (p0 + ps * u[-1], u[:-1] * xs, is_stable(Fx), hopf, ok)

    def body(carry, _):
        u, tau = carry
        u_new, t_new, ok, _, _, _ = _correct(F, u + ds * tau, tau, n_newton, tol)
        return (u_new, t_new), record(u_new, ok)

    _, out = jax.lax.scan(body, (u, tau), None, length=n_steps)
    first = record(u, ok0)
    out = jax.tree_util.tree_map(lambda a0, rest: jnp.concatenate([a0[None], rest]), first, out)
    return FixedBranch(*out)
