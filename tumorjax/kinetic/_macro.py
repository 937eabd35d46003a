r"""The macroscopic limits of seed 002: linear, cross- and self-diffusion with reactions.

Slides "From kinetic to macroscopic model" and the summary table:

- linear (all operators on one time scale; CC and PC):
  $\partial_t n_i = \nabla\nabla:(\mathbb{D}_i n_i) + R_i[n_1, n_2, n_3]$, $i = 1, 2, 3$;
- cross-diffusion (CC, fast immune switching):
  $\partial_t n_1 = \nabla\nabla:(\mathbb{D}_1 n_1) + R_1[n_1, N]$,
  $\partial_t N = \nabla\nabla:(\mathbb{D}_{eff}[n_1] N)$,
  $\mathbb{D}_{eff}[n_1] = \frac{\mathbb{D}_2 C + \mathbb{D}_3 A n_1}{C + A n_1}$;
- self-diffusion (PC, fast passive cells):
  $\partial_t N = \nabla\nabla:(\mathbb{D}_{eff}[N] N) + R_N[n_1, N]$,
  $\mathbb{D}_{eff}[N] = \frac{\mathbb{D}_2 + \mathbb{D}_3 PN}{1 + PN}$.

The slides write $\mathbb{D}_{eff}$ with $\bar d_{35}n_5$, $\bar d_{21}$ and $\bar\mu_{32}m_{32}$;
in the non-dimensional reductions these are $C$, $A$ and $PC$ (only their ratios enter).
$\mathbb{D}_{eff}N = \mathbb{D}_2 n_2 + \mathbb{D}_3 n_3$ with the fast split of $N$, so every regime
is "myopic" diffusion $\Delta(w)$ of $w = \mathbb{D}n$, discretised by the conservative finite
volumes of `tumorjax.numerics` (zero flux at the walls).

Reactions (the spatial form of the reductions; $R_i = P_i - L_i n_i$ with production
$P_i \ge 0$ and loss rate $L_i \ge 0$):
$R_1 = n_1(1 + Bn_3) - An_2\,n_1$;
CC: $R_2 = Cn_3 - An_1\,n_2 = -R_3$;
PC: $R_2 = Dn_3 + H - (An_1 + G)\,n_2$, $R_3 = En_2n_3 + Fn_2^2 - C\,n_3$;
self: $R_N = Dn_3 + H - \frac{An_1 + G}{1 + PN}N$.

A time step is Lie splitting: diffusion (forward Euler under its stability limit, or linearly
implicit with the coefficients frozen at the old step), then reactions by a Patankar step
$n' = (n + \Delta t P)/(1 + \Delta t L)$, which is first order, unconditionally non-negative,
and for the CC immune exchange is the conservative modified Patankar step (implicit Euler on
$n_2 \rightleftharpoons n_3$ with $n_1$ frozen), so $\int (n_2 + n_3)$ stays $I_0$ to round-off.
"""

import math
import sys
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import is_concrete
from ..core._progress import _draw
from ..numerics._fv import FVGrid, check_explicit_dt, implicit_myopic_step, myopic_laplacian, stable_dt
from ._params import ConservativeParams, ProliferativeParams, SelfParams

REGIMES = ("linear", "cross", "self")
CASES = ("conservative", "proliferative")
SCHEMES = ("explicit", "implicit")


class MacroscopicModel(eqx.Module):
    """A macroscopic tumour-immune model of seed 002 on a finite-volume grid.

    **Arguments:**

    - `regime`: `"linear"`, `"cross"` (conservative case only) or `"self"` (proliferative only).
    - `case`: `"conservative"` or `"proliferative"` (implied by `cross`/`self`).
    - `grid`: a [`tumorjax.numerics.FVGrid`][] (1D, 2D or 3D box, zero-flux walls).
    - `motility`: optional positive profile $m(x)$ of shape `grid.shape`; the diffusion tensors
      are $\\mathbb{D}_i(x) = D_i m(x)\\,\\mathrm{Id}$ (a turning kernel $T(x, v)$ that varies in
      space; then the myopic form matters: the steady state of $\\Delta(\\mathbb{D}n) = 0$ is
      $n \\propto 1/m$, not a constant).
    - `reactions`: `False` switches every reaction off (pure diffusion, for conservation checks).

    States: `("n1", "n2", "n3")` (linear) or `("n1", "N")` (cross, self), stacked on axis 0
    of an array of shape `(n_states, *grid.shape)`.
    """

    regime: str = eqx.field(static=True)
    grid: FVGrid = eqx.field(static=True)
    case: str = eqx.field(default="", static=True)
    motility: jax.Array | None = None
    reactions: bool = eqx.field(default=True, static=True)

    def __post_init__(self):
        implied = {"cross": "conservative", "self": "proliferative"}.get(self.regime)
        if not self.case and implied:
            self.case = implied

    def __check_init__(self):
        if self.regime not in REGIMES:
            raise ValueError(f"unknown regime {self.regime!r}; choose from {REGIMES}")
        if self.case not in CASES:
            raise ValueError(f"unknown case {self.case!r}; choose from {CASES}")
        if self.regime == "cross" and self.case != "conservative":
            raise ValueError("cross-diffusion is the conservative case's limit (case='conservative')")
        if self.regime == "self" and self.case != "proliferative":
            raise ValueError("self-diffusion is the proliferative case's limit (case='proliferative')")
        if self.motility is not None and is_concrete(self.motility):
            m = np.asarray(self.motility)
            if m.shape != self.grid.shape:
                raise ValueError(f"motility must have the grid shape {self.grid.shape}, got {m.shape}")
            if not (np.all(np.isfinite(m)) and np.all(m > 0)):
                raise ValueError("motility must be positive and finite everywhere (it scales the diffusion "
                                 f"coefficients); its minimum is {m.min():.3g}")

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("n1", "n2", "n3") if self.regime == "linear" else ("n1", "N")

    @property
    def params_class(self):
        if self.regime == "self":
            return SelfParams
        return ConservativeParams if self.case == "conservative" else ProliferativeParams

    def default_params(self):
        return self.params_class()

    def _check_params(self, p):
        if not isinstance(p, self.params_class):
            raise ValueError(f"the {self.regime}-diffusion {self.case} model takes "
                             f"{self.params_class.__name__}, "
                             f"got {type(p).__name__}")

    def _m(self):
        return 1.0 if self.motility is None else self.motility

    def populations(self, n, p):
        r"""$(n_1, n_2, n_3)$ from the state: the identity (linear) or the fast split of $N$."""
        if self.regime == "linear":
            return n[0], n[1], n[2]
        n1, N = n[0], n[1]
        if self.regime == "cross":
            n2 = p.C * N / (p.C + p.A * n1)
            return n1, n2, N - n2
        n2 = N / (1 + p.P * N)
        return n1, n2, N - n2

    def diffusion(self, n, p):
        r"""The diffusion coefficient of each state in each cell, `n.shape` ($\mathbb{D}_{eff}$ for N)."""
        m = self._m()
        if self.regime == "linear":
            return jnp.stack([p.D1 * m * jnp.ones_like(n[0]), p.D2 * m * jnp.ones_like(n[0]),
                              p.D3 * m * jnp.ones_like(n[0])])
        n1, N = n[0], n[1]
        if self.regime == "cross":
            d_eff = (p.D2 * p.C + p.D3 * p.A * n1) / (p.C + p.A * n1)
        else:
            d_eff = (p.D2 + p.D3 * p.P * N) / (1 + p.P * N)
        return jnp.stack([p.D1 * m * jnp.ones_like(n1), d_eff * m])

    def d_max(self, p):
        """An upper bound of every diffusion coefficient ($\\mathbb{D}_{eff}$ lies between D2 and D3)."""
        m = 1.0 if self.motility is None else jnp.max(self.motility)
        return jnp.maximum(p.D1, jnp.maximum(p.D2, p.D3)) * m

    def production_loss(self, n, p):
        """$(P, L)$ with $R = P - L\\,n$, $P, L \\ge 0$, each of shape `n.shape`."""
        n1, n2, n3 = self.populations(n, p)
        P1, L1 = n1 * (1 + p.B * n3), p.A * n2
        if self.regime == "cross":
            return jnp.stack([P1, jnp.zeros_like(n1)]), jnp.stack([L1, jnp.zeros_like(n1)])
        if self.regime == "self":
            return jnp.stack([P1, p.D * n3 + p.H]), jnp.stack([L1, (p.A * n1 + p.G) / (1 + p.P * n[1])])
        if self.case == "conservative":
            return (jnp.stack([P1, p.C * n3, p.A * n1 * n2]),
                    jnp.stack([L1, p.A * n1, p.C * jnp.ones_like(n1)]))
        return (jnp.stack([P1, p.D * n3 + p.H, p.E * n2 * n3 + p.F * n2**2]),
                jnp.stack([L1, p.A * n1 + p.G, p.C * jnp.ones_like(n1)]))

    def reaction(self, n, p):
        """$R(n)$, the reaction terms of the state equations (zero if `reactions=False`)."""
        P, L = self.production_loss(n, p)
        return (P - L * n) if self.reactions else jnp.zeros_like(n)

    def react(self, n, dt, p):
        """One first-order, non-negative reaction step of length `dt` (see the module docstring)."""
        if not self.reactions:
            return n
        P, L = self.production_loss(n, p)
        out = (n + dt * P) / (1 + dt * L)
        if self.regime == "linear" and self.case == "conservative":
            a, c = p.A * n[0], p.C  # n2 -> n3 at rate a, n3 -> n2 at rate c (implicit Euler, conservative)
            det = 1 + dt * (a + c)
            n2 = ((1 + dt * c) * n[1] + dt * c * n[2]) / det
            n3 = (dt * a * n[1] + (1 + dt * a) * n[2]) / det
            out = jnp.stack([out[0], n2, n3])
        return out

    def diffuse(self, n, dt, p, scheme: str = "explicit"):
        """One diffusion step (coefficients frozen at `n`)."""
        d = self.diffusion(n, p)
        if scheme == "explicit":
            return n + dt * myopic_laplacian(d * n, self.grid)
        return jnp.stack([implicit_myopic_step(n[i], d[i], dt, self.grid) for i in range(n.shape[0])])

    def step(self, n, dt, p, scheme: str = "explicit"):
        """Diffusion then reactions (Lie splitting), first order in `dt`."""
        return self.react(self.diffuse(n, dt, p, scheme), dt, p)

    def stable_dt(self, p):
        """The largest stable forward-Euler step of the diffusion part."""
        return stable_dt(self.d_max(p), self.grid)


class FieldSolution(eqx.Module):
    """Saved fields of a spatial solve.

    `ts`: `(n_save,)`; `ys`: `(n_save, n_states, *grid.shape)`; `dt`: the step used;
    `n_steps`: the number of steps.
    """

    ts: jax.Array
    ys: jax.Array
    dt: jax.Array
    n_steps: int = eqx.field(static=True)
    state_names: tuple[str, ...] = eqx.field(static=True)
    grid: FVGrid = eqx.field(static=True)

    def __getitem__(self, name: str):
        return self.ys[:, self.state_names.index(name)]

    def masses(self):
        """$\\int_\\Omega n_i\\,dx$ of every state at every save time, shape `(n_save, n_states)`."""
        return self.grid.integrate(self.ys)


def _steps(t_end, n_save, dt_target):
    """Steps per save interval so that the actual step t_end/(n_save-1)/k is at most `dt_target`."""
    interval = t_end / (n_save - 1)
    return max(1, math.ceil(interval / dt_target * (1 - 1e-12)))


def _check_state(model, n0):
    shape = (len(model.state_names), *model.grid.shape)
    if tuple(jnp.shape(n0)) != shape:
        raise ValueError(f"initial state must have shape {shape} (states {model.state_names} on grid "
                         f"{model.grid.shape}), got {tuple(jnp.shape(n0))}")
    if is_concrete(n0) and not np.all(np.asarray(n0) >= 0):
        raise ValueError("initial densities must be non-negative")


@eqx.filter_jit
def _integrate(model, p, n0, dt, n_chunk, steps_per_save, scheme):
    """`n_chunk` save intervals of `steps_per_save` steps each; returns the states after each."""
    if scheme == "explicit":
        dt = eqx.error_if(dt, dt > model.stable_dt(p) * (1 + 1e-12),
                          "explicit step above the diffusion stability limit 1/(2 max(D) sum 1/h^2)")

    @jax.checkpoint
    def one_step(n, _):
        return model.step(n, dt, p, scheme), None

    def one_save(n, _):
        n, _ = jax.lax.scan(one_step, n, None, length=steps_per_save)
        return n, n

    return jax.lax.scan(one_save, n0, None, length=n_chunk)


def solve_macroscopic(model: MacroscopicModel, params, n0, t_end: float, *, dt: float | None = None,
                      scheme: str = "explicit", n_save: int = 51, safety: float = 0.9,
                      progress: bool = False) -> FieldSolution:
    r"""Integrate a [`MacroscopicModel`][] from `n0` over $[0, t_{end}]$ with a fixed step.

    **Arguments:**

    - `params`: the model's parameter class (traced: vmap/grad over it without recompiling).
    - `n0`: initial densities, shape `(n_states, *grid.shape)`, non-negative.
    - `t_end`: horizon (a Python number; it fixes the number of steps).
    - `dt`: the largest step to use (it is reduced so that a whole number of steps fits each save
      interval). Default: `safety` times the explicit stability limit (explicit), or ten times it
      (implicit). An explicit `dt` above the limit raises a `ValueError` that says the limit and
      the largest stable step; with traced parameters the same check runs at run time.
    - `scheme`: `"explicit"` (forward Euler diffusion) or `"implicit"` (linearly implicit).
    - `n_save`: number of save times, including $t = 0$.
    - `progress`: draw a progress bar on stderr (runs in up to 20 jitted chunks).

    Reactions use a non-negative Patankar step, so the only step limit is the diffusive one.
    One `lax.scan` (with `jax.checkpoint` on the step) runs the steps; the grid, scheme and step
    count are static.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose from {SCHEMES}")
    if not (t_end > 0 and n_save >= 2):
        raise ValueError(f"need t_end > 0 and n_save >= 2, got {t_end} and {n_save}")
    model._check_params(params)
    n0 = jnp.asarray(n0)
    _check_state(model, n0)
    concrete = is_concrete(*jax.tree_util.tree_leaves(params), model.motility)
    if dt is None:
        if not concrete:
            raise ValueError("pass dt when the parameters are traced (vmap/grad): "
                             "the automatic step needs values")
        limit = float(model.stable_dt(params))
        dt = safety * limit if scheme == "explicit" else 10 * limit
    elif not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    elif scheme == "explicit" and concrete:
        check_explicit_dt(dt, model.d_max(params), model.grid, f"{model.regime}-diffusion model")
    k = _steps(t_end, n_save, dt)
    step = t_end / ((n_save - 1) * k)
    dt_arr = jnp.asarray(step, n0.dtype)
    if not progress:
        _, ys = _integrate(model, params, n0, dt_arr, n_save - 1, k, scheme)
    else:
        chunks = np.diff(np.linspace(0, n_save - 1, min(20, n_save - 1) + 1).round().astype(int))
        parts, n, done = [], n0, 0
        _draw(0.0)
        for c in chunks:
            n, part = _integrate(model, params, n, dt_arr, int(c), k, scheme)
            parts.append(part)
            done += int(c)
            _draw(done / (n_save - 1))
        _draw(1.0)
        sys.stderr.write("\n")
        ys = jnp.concatenate(parts)
    ys = jnp.concatenate([n0[None], ys])
    ts = jnp.linspace(0.0, t_end, n_save, dtype=n0.dtype)
    return FieldSolution(ts=ts, ys=ys, dt=dt_arr, n_steps=(n_save - 1) * k, state_names=model.state_names,
                         grid=model.grid)
