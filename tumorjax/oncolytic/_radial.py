r"""The radially symmetric PDE (2.8) of seed 004 on $0 \le r \le L$: finite volumes, explicit or IMEX.

$$\partial_t u = \tfrac{D}{r}\partial_r(r\partial_r u) + pu(1-\tfrac{u+i}{K}) - \tfrac{\beta}{K}ui
  - \tfrac{\zeta}{K}uz,\qquad
  \partial_t i = \tfrac{D}{r}\partial_r(r\partial_r i) + \tfrac{\beta}{K}ui - qi - \tfrac{\zeta}{K}iz,$$
$$\partial_t z = \tfrac{D_z}{r}\partial_r(r\partial_r z)
  - \tfrac{\chi}{\phi^*}\tfrac{1}{r}\partial_r(rz\,\partial_r\phi)
  - q_z z + S,\qquad
  \partial_t\phi = \tfrac{D_\phi}{r}\partial_r(r\partial_r\phi) + (\alpha_\phi i + \gamma_\phi u)(\phi^*-\phi)
  - q_\phi\phi,$$

with $S(t,r) = (S_0 + 2\pi\alpha_z\int_0^R i\,s\,ds)\,1_{[0,R]}(r)$ (2.9) and zero flux at $r = L$.
Cells $[r_{j-1/2}, r_{j+1/2}]$ of width $\Delta r = L/N$, centres $r_j$; fluxes through faces carry the
weight $r_{j+1/2}$ and the cell measure is $r_j\Delta r$, so transport conserves $2\pi\sum_j v_j r_j\Delta r$
to round-off and the face $r = 0$ (weight 0) is the regularity condition. Chemotaxis is upwinded
(Appendix C). (Eq. (2.8) prints the chemoattractant source as $(\phi - \phi^*)$; (2.3) and the code use
$(\phi^* - \phi)$.)

Schemes (static, in `RadialConfig`):

- `scheme="fv"`, `mode="explicit"` (default): forward Euler on the unsplit semi-discretisation; the step is
  chosen automatically below the diffusion and chemotaxis limits (`stable_step`) and a larger `dt` is refused.
- `scheme="fv"`, `mode="imex"`: diffusion and upwind chemotaxis implicit (one tridiagonal solve per species,
  the drift taken from the updated $\phi$, an M-matrix, so transport keeps positivity for any step),
  reactions and the inflow explicit. First order; limited only by the reaction rates.
- `scheme="reference"`: the authors' `pde_immune_dynamics.m`, operation for operation, with its quirks
  (see `../shared/reference/ov/README.md`): $z$-diffusion flux without $r_{j+1/2}$,
  drift $\chi\,\partial_r\phi$
  (i.e. $\chi$ acts as $\chi/\phi^*$), Lie splitting in the order diffusion of u, i, phi; chemotaxis and
  diffusion of z; reactions (logistic term with the pre-diffusion $\rho$, the infected reaction with the
  updated $u$, inflow integral by `trapz` over cell centres). Use it with `REFERENCE_CODE` (q = 9.34e-3).
"""

import dataclasses
import math
import sys
import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import is_concrete
from ..core._progress import _draw
from ..numerics._finite_volume import (
    diffusive_flux, flux_divergence, implicit_transport, transport_tridiagonal, upwind_flux,
)
from ._metrics import front_position, radial_total
from ._params import OncolyticParams
from ._protocols import Protocol, inject

STATE_NAMES = ("u", "i", "z", "phi")
SERIES_NAMES = ("U_total", "I_total", "Z_total", "Phi_total", "u_r0", "i_r0", "z_r0", "phi_r0",
                "front_u", "front_i")


class OVState(NamedTuple):
    """Cell values (..., N) of u, i, z [cells/mm^2] and phi [ug/mm^2]."""

    u: jnp.ndarray
    i: jnp.ndarray
    z: jnp.ndarray
    phi: jnp.ndarray


def check_grid(config) -> None:
    """The checks shared by `RadialConfig` and `Grid2D`: N, L, the inflow radius R, dt, save_every, safety."""
    name = type(config).__name__
    if not (isinstance(config.N, (int, np.integer)) and config.N >= 3):
        raise ValueError(f"{name}.N (number of cells) must be an integer >= 3, got {config.N!r}")
    if not config.L > 0:
        raise ValueError(f"{name}.L (domain size, mm) must be > 0, got {config.L}")
    if config.R is not None and not 0 < config.R <= config.L:
        raise ValueError(f"{name}.R (inflow radius, mm) must be in (0, L] = (0, {config.L}], got {config.R}")
    if config.dt is not None and not config.dt > 0:
        raise ValueError(f"{name}.dt must be > 0, got {config.dt}")
    if not config.save_every > 0:
        raise ValueError(f"{name}.save_every must be > 0, got {config.save_every}")
    if not 0 < config.safety <= 1:
        raise ValueError(f"{name}.safety must be in (0, 1], got {config.safety}")


@dataclasses.dataclass(frozen=True)
class RadialConfig:
    """Static choices of a radial solve: grid, geometry, scheme, mode and step (changing them recompiles).

    - `L` [mm], `N` cells ($\\Delta r = L/N$); `R` [mm] radius of the inflow region $\\omega$ (default `L`,
      as in Sec. 4 and the code, where every site receives immune cells).
    - `geometry`: `"radial"` (Eq. 2.8) or `"planar"` (the 1-D model (2.6) on $[0, L]$, reflecting at 0;
      used for the Appendix-B front speeds without curvature).
    - `scheme`: `"fv"` (Eq. 2.8 as printed) or `"reference"` (the authors' code, explicit only).
    - `mode`: `"explicit"` or `"imex"`.
    - `dt` [h]: `None` picks 0.9 x the stable explicit step, or `imex_dt` in IMEX mode; the step is then
      shortened so that `save_every` is a whole number of steps.
    - `save_every` [h]: spacing of the saved totals; `delta` [mm]: lattice step of the front threshold
      $1/\\delta^2$.
    """

    L: float = 10.0
    N: int = 1000
    R: float | None = None
    geometry: str = "radial"
    scheme: str = "fv"
    mode: str = "explicit"
    dt: float | None = None
    save_every: float = 1.0
    delta: float = 0.1
    imex_dt: float = 0.02
    safety: float = 0.9

    def __post_init__(self):
        check_grid(self)
        for name, allowed in (("geometry", ("radial", "planar")), ("scheme", ("fv", "reference")),
                              ("mode", ("explicit", "imex"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"RadialConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.scheme == "reference" and (self.mode != "explicit" or self.geometry != "radial"):
            raise ValueError("scheme='reference' is the authors' explicit radial scheme: use "
                             "mode='explicit', geometry='radial'")
        for name in ("delta", "imex_dt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RadialConfig.{name} must be > 0, got {getattr(self, name)}")

    @property
    def dx(self) -> float:
        return self.L / self.N

    @property
    def r(self) -> np.ndarray:
        """Cell centres $r_j = (j + 1/2)\\Delta r$ (as `dx/2:dx:L-dx/2` in the authors' code)."""
        return self.dx / 2 + self.dx * np.arange(self.N)

    @property
    def faces(self) -> np.ndarray:
        """Interior faces $r_{j+1/2}$, j = 1..N-1."""
        return self.r[:-1] + self.dx / 2

    @property
    def face_weight(self) -> np.ndarray:
        return self.faces if self.geometry == "radial" else np.ones(self.N - 1)

    @property
    def volume(self) -> np.ndarray:
        return self.r if self.geometry == "radial" else np.ones(self.N)

    @property
    def inflow_mask(self) -> np.ndarray:
        """$1_{[0,R]}(r_j)$ at the cell centres."""
        return self.r <= (self.L if self.R is None else self.R)

    @property
    def front_threshold(self) -> float:
        """$1/\\delta^2$ [cells/mm^2]: one cell per lattice site of side `delta` (Appendix C)."""
        return round(1 / self.delta ** 2, 9)

    @property
    def total_rule(self) -> str:
        return "trapz" if self.scheme == "reference" else "midpoint"

    def total(self, v):
        """$2\\pi\\int v\\,r\\,dr$ with this scheme's rule (trapz over centres for the reference scheme)."""
        return radial_total(v, jnp.asarray(self.r), self.dx, self.total_rule, self.geometry == "planar")

    def inflow_integral(self, i):
        r"""$2\pi\int_0^R i\,r\,dr$ as the scheme computes it for the inflow (2.9)."""
        if self.scheme == "reference":  # trapz(x, i.*x')*2*pi over every cell centre
            x = jnp.asarray(self.r)
            return jnp.sum(jnp.diff(x) * ((i * x)[..., :-1] + (i * x)[..., 1:]), axis=-1) / 2 * 2 * jnp.pi
        m = jnp.asarray(self.inflow_mask)
        w = jnp.ones(self.N) if self.geometry == "planar" else 2 * jnp.pi * jnp.asarray(self.r)
        return jnp.sum(jnp.where(m, i * w, 0.0), axis=-1) * self.dx


def initial_condition(config: RadialConfig, K=1e4, R_u=2.6, R_i=1.0) -> OVState:
    r"""Eq. (4.1): $u_0 = 0.9K$ on $r \le R_u$, $i_0 = 0.1K$ on $r \le R_i$ (cell centres),
    $z_0 = \phi_0 = 0$."""
    for name, v in (("R_u", R_u), ("R_i", R_i)):
        if is_concrete(v) and not 0 <= float(v) <= config.L:
            raise ValueError(f"{name} (initial radius, mm) must be in [0, L] = [0, {config.L}], got {v}")
    r = jnp.asarray(config.r)
    zero = jnp.zeros(config.N)
    u = jnp.where(r <= R_u, 0.9 * K, 0.0) + zero
    return OVState(u, jnp.where(r <= R_i, 0.1 * K, 0.0) + zero, zero, zero)


def _chemotactic_coefficient(p, config):
    """Drift per unit $\\partial_r\\phi$: $\\chi/\\phi^*$ (Eq. 2.8) or $\\chi$ (the code, quirk 2)."""
    return p.chi if config.scheme == "reference" else p.chi / p.phi_star


def _z_conductance(p, config):
    """$D_z a_{j+1/2}/\\Delta r$; the reference scheme drops $a_{j+1/2} = r_{j+1/2}$ (quirk 1)."""
    weight = np.ones(config.N - 1) if config.scheme == "reference" else config.face_weight
    return p.D_z * jnp.asarray(weight) / config.dx


def _drift(phi, p, config):
    """Face velocity times face weight, $c\\,(\\phi_{j+1}-\\phi_j)/\\Delta r\\cdot a_{j+1/2}$."""
    slope = jnp.diff(phi, axis=-1) / config.dx
    return _chemotactic_coefficient(p, config) * slope * jnp.asarray(config.face_weight)


def gradient_bound(p):
    r"""A bound on $|\partial_r\phi|$ for the chemotaxis limit: $\phi^*/\ell$ with the screening length
    $\ell = \sqrt{D_\phi/(q_\phi + \alpha_\phi K)}$ of the fastest chemoattractant production.

    Not a theorem (the solver checks the actual CFL number at every step and reports a violation).
    """
    return p.phi_star * np.sqrt((p.q_phi + max(p.alpha_phi, p.gamma_phi) * p.K) / max(p.D_phi, 1e-300))


def stable_step(p: OncolyticParams, config: RadialConfig) -> dict[str, float]:
    r"""Largest explicit steps [h]: `diffusion`, `chemotaxis` and `stable` (both, for every species).

    Forward Euler keeps every value non-negative iff $\Delta t \cdot \max_j(\text{outflow rate of cell } j)
    \le 1$; for diffusion the rate is $D(a_{j-1/2}+a_{j+1/2})/(\Delta r^2 V_j) \le 2D/\Delta r^2$, for the
    upwind drift $|w|(a_{j-1/2}+a_{j+1/2})/(\Delta r V_j)$ with $|w| \le$ coefficient x `gradient_bound`.
    In IMEX mode the transport is implicit and `stable` is the reaction limit $1/(\alpha_\phi K + q_\phi)$.
    """
    p = jax.tree_util.tree_map(lambda x: float(np.asarray(x).max()), p)
    dx, V, a = config.dx, jnp.asarray(config.volume), jnp.asarray(config.face_weight)

    def rate(conductance, w=None):
        lower, diag, upper = transport_tridiagonal(conductance, w, dx, V)
        return float(jnp.max(-diag))

    diff = max(rate(D * a / dx) for D in (p.D, p.D_phi))
    diff = max(diff, rate(_z_conductance(p, config)))
    w = _chemotactic_coefficient(p, config) * gradient_bound(p) * a
    chem = rate(0 * a, w) + rate(0 * a, -w)
    z_total = rate(_z_conductance(p, config), w) + rate(0 * a, -w)
    limits = {"diffusion": 1 / diff, "chemotaxis": 1 / chem if chem > 0 else math.inf}
    if config.mode == "imex":
        limits["stable"] = 1 / (max(p.alpha_phi, p.gamma_phi) * p.K + p.q_phi)
    else:
        limits["stable"] = min(1 / diff, 1 / z_total)
    return limits


def choose_step(p: OncolyticParams, config: RadialConfig) -> tuple[float, int]:
    """(dt, steps per save): the configured or automatic step, refused above the stable limit."""
    limits = stable_step(p, config)
    if config.dt is None:
        target = config.imex_dt if config.mode == "imex" else config.safety * limits["stable"]
        target = min(target, limits["stable"])
    else:
        if config.dt > limits["stable"] * (1 + 1e-12):
            raise ValueError(
                f"dt = {config.dt:g} h is above the stable {config.mode} step of this grid "
                f"(dr = {config.dx:g} mm): diffusion limit {limits['diffusion']:.4g} h, "
                f"chemotaxis limit {limits['chemotaxis']:.4g} h; "
                f"the largest stable dt is {limits['stable']:.4g} h")
        target = config.dt
    n_sub = max(1, math.ceil(config.save_every / target - 1e-9))
    return config.save_every / n_sub, n_sub


def _reaction_rates(y, p, zeta, config):
    """Reaction and inflow terms of (2.8) at one state, with the inflow integral (2.9)."""
    u, i, z, phi = y
    kill = zeta / p.K * z
    inflow = (p.S0 + p.alpha_z * config.inflow_integral(i)[..., None]) * jnp.asarray(config.inflow_mask)
    return OVState(
        p.p * u * (1 - (u + i) / p.K) - p.beta / p.K * u * i - kill * u,
        p.beta / p.K * u * i - p.q * i - kill * i,
        -p.q_z * z + inflow,
        (p.alpha_phi * i + p.gamma_phi * u) * (p.phi_star - phi) - p.q_phi * phi,
    )


def _divergence(F, config):
    return flux_divergence(F) / (config.dx * jnp.asarray(config.volume))


def _transport(y, p, config):
    """The transport part of (2.8) in flux form: diffusion of all four, upwind chemotaxis of z."""
    a = jnp.asarray(config.face_weight)
    u, i, z, phi = y
    Fz = upwind_flux(z, _drift(phi, p, config)) - _z_conductance(p, config) * jnp.diff(z, axis=-1)
    return OVState(*(_divergence(diffusive_flux(v, D, config.dx, a), config) for v, D in
                     ((u, p.D), (i, p.D))), _divergence(Fz, config),
                   _divergence(diffusive_flux(phi, p.D_phi, config.dx, a), config))


def _explicit_step(y, p, zeta, dt, config):
    """Forward Euler on the unsplit semi-discrete (2.8)."""
    T = _transport(y, p, config)
    R = _reaction_rates(y, p, zeta, config)
    return OVState(*(v + dt * (t + r) for v, t, r in zip(y, T, R)))


def _imex_step(y, p, zeta, dt, config):
    """Explicit reactions, then implicit diffusion (u, i, phi) and implicit diffusion + upwind drift (z)."""
    R = _reaction_rates(y, p, zeta, config)
    star = OVState(*(v + dt * r for v, r in zip(y, R)))
    a, V = jnp.asarray(config.face_weight), jnp.asarray(config.volume)
    k = jnp.stack([p.D * a, p.D * a, p.D_phi * a]) / config.dx
    stacked = jnp.stack([star.u, star.i, star.phi], axis=-2)
    solved = implicit_transport(stacked, *transport_tridiagonal(k, None, config.dx, V), dt)
    u, i, phi = jnp.moveaxis(solved, -2, 0)
    z = implicit_transport(star.z, *transport_tridiagonal(_z_conductance(p, config), _drift(phi, p, config),
                                                          config.dx, V), dt)
    return OVState(u, i, z, phi)


def _reference_step(y, p, zeta, dt, config):
    """One step of `pde_immune_dynamics.m`, in its operation order (see the module docstring)."""
    x, dx = jnp.asarray(config.r), config.dx
    xm = jnp.asarray(config.faces)
    u, i, z, c = y
    rho = u + i
    u = u + dt / dx * flux_divergence(diffusive_flux(u, p.D, dx, xm)) / x
    i = i + dt / dx * flux_divergence(diffusive_flux(i, p.D, dx, xm)) / x
    c = c + dt / dx * flux_divergence(diffusive_flux(c, p.D_phi, dx, xm)) / x
    w = p.chi * jnp.diff(c) / dx * xm
    Fz = upwind_flux(z, w) + diffusive_flux(z, p.D_z, dx)
    z = z + dt / dx * flux_divergence(Fz) / x
    i_int = config.inflow_integral(i)
    bK, zK = p.beta / p.K, zeta / p.K
    u = u + dt * (p.p * (1 - rho / p.K) * u - bK * u * i - zK * u * z)
    i = i + dt * (bK * u * i - p.q * i - zK * i * z)
    source = -p.q_z * z + p.alpha_z * i_int + p.S0
    z = z + dt * jnp.where(jnp.asarray(config.inflow_mask), source, -p.q_z * z)
    c = c + dt * ((p.alpha_phi * i + p.gamma_phi * u) * (p.phi_star - c) - p.q_phi * c)
    return OVState(u, i, z, c)


_STEPS = {("fv", "explicit"): _explicit_step, ("fv", "imex"): _imex_step,
          ("reference", "explicit"): _reference_step}


def _cfl_number(y, p, dt, config):
    """Largest explicit outflow fraction of z in one step (must stay <= 1 for positivity)."""
    _, diag, _ = transport_tridiagonal(_z_conductance(p, config), _drift(y.phi, p, config), config.dx,
                                       jnp.asarray(config.volume))
    return jnp.max(-dt * diag)


class Carry(NamedTuple):
    y: OVState
    n: jnp.ndarray          # steps taken
    cfl: jnp.ndarray        # largest CFL number of z seen (explicit modes)
    n_threshold: jnp.ndarray  # threshold-triggered injections so far
    t_first: jnp.ndarray    # time of the first of them (nan if none)
    t_last: jnp.ndarray     # time of the last of them
    vmin: jnp.ndarray       # smallest value of any field at the save times so far


def _series(y, config):
    r = jnp.asarray(config.r)
    thr = config.front_threshold
    return jnp.stack([config.total(y.u), config.total(y.i), config.total(y.z), config.total(y.phi),
                      y.u[0], y.i[0], y.z[0], y.phi[0],
                      front_position(y.u, r, thr), front_position(y.i, r, thr)])


def _make_step(p, protocol, dt, t0, config):
    step_fn = _STEPS[(config.scheme, config.mode)]
    offset = 1 if config.scheme == "reference" else 0

    def index(T):
        return jnp.where(jnp.isfinite(T), jnp.round((T - t0) / dt), jnp.inf) + offset

    n_switch = index(protocol.t_switch)
    n_inject = index(protocol.t_injections)

    def step(c: Carry, _):
        n = c.n + 1
        zeta = p.zeta * jnp.where(n > n_switch, protocol.zeta_factor, 1.0)
        cfl = c.cfl if config.mode == "imex" else jnp.maximum(c.cfl, _cfl_number(c.y, p, dt, config))
        y = step_fn(c.y, p, zeta, dt, config)
        t = t0 + n * dt
        fixed = jnp.any(n == n_inject)
        triggered = (t > protocol.t_threshold_start) & (config.total(y.u) >= protocol.threshold)
        u, i = inject(y.u, y.i, protocol.fraction)
        jump = fixed | triggered
        y = y._replace(u=jnp.where(jump, u, y.u), i=jnp.where(jump, i, y.i))
        first = jnp.where(triggered & (c.n_threshold == 0), t, c.t_first)
        last = jnp.where(triggered, t, c.t_last)
        return Carry(y, n, cfl, c.n_threshold + triggered, first, last, c.vmin), None

    return step


@eqx.filter_jit
def _advance(carry, p, protocol, dt, t0, config, n_sub, every, n_blocks):
    """`n_blocks` x `every` save intervals of `n_sub` steps from `carry` (the step scan is checkpointed).

    Returns the carry, the series after every interval, (n_blocks * every, 10), and the fields at the end of
    each block, (n_blocks, 4, N).

    Reverse mode stores one state per save interval and recomputes the interval. An explicit interval
    has hundreds of cheap steps, so each step is checkpointed too (only its input state is kept: storing
    every intermediate of the interval costs more than recomputing a step); IMEX intervals have few
    expensive steps and keep theirs.
    """
    step = _make_step(p, protocol, dt, t0, config)
    if config.mode == "explicit":
        step = jax.checkpoint(step)

    @jax.checkpoint
    def interval(c, _):
        c, _ = jax.lax.scan(step, c, None, length=n_sub)
        return c._replace(vmin=jnp.minimum(c.vmin, jnp.min(jnp.stack(c.y)))), _series(c.y, config)

    def block(c, _):
        c, out = jax.lax.scan(interval, c, None, length=every)
        return c, (out, jnp.stack(c.y))

    carry, (series, fields) = jax.lax.scan(block, carry, None, length=n_blocks)
    return carry, series.reshape(n_blocks * every, len(SERIES_NAMES)), fields


class RadialSolution(eqx.Module):
    """Saved totals and diagnostics of a radial solve (unbatched or with leading batch axes).

    `series[..., k, :]` holds `SERIES_NAMES` at `ts[k]`; `profiles[..., m, :, :]` (if `profile_every` was
    given) the four fields (u, i, z, phi) at `ts[m * profile_every]`.
    `status`: 0 success, 1 non-finite values, 2 a negative value at a save time or at the end, 3 CFL number
    above 1 (explicit step too large for the gradients that occurred).
    """

    ts: jnp.ndarray
    series: jnp.ndarray
    final: OVState
    profiles: jnp.ndarray | None
    status: jnp.ndarray
    cfl: jnp.ndarray
    n_injections: jnp.ndarray
    t_first_injection: jnp.ndarray
    t_last_injection: jnp.ndarray
    dt: float = eqx.field(static=True)
    config: RadialConfig = eqx.field(static=True)

    def __getitem__(self, name):
        if name not in SERIES_NAMES:
            raise KeyError(f"no series {name!r}; series: {', '.join(SERIES_NAMES)}")
        return self.series[..., SERIES_NAMES.index(name)]

    @property
    def ok(self) -> bool:
        return bool(np.all(np.asarray(self.status) == 0))

    @property
    def message(self) -> str:
        s = int(np.max(np.asarray(self.status)))
        return ("success", "non-finite values (NaN or inf): the step is too large or the model blew up",
                "negative densities: the explicit reaction step is too large for the rates that occurred",
                f"CFL number {float(np.max(np.asarray(self.cfl))):.3g} > 1: the chemotactic drift exceeded "
                "the a-priori gradient bound; give a smaller dt")[s]


_STATUS_OK, _STATUS_NONFINITE, _STATUS_NEGATIVE, _STATUS_CFL = 0, 1, 2, 3


def solve_radial(p: OncolyticParams, config: RadialConfig = RadialConfig(), t_end: float = 1500.0, *,
                 y0: OVState | None = None, R_u=2.6, R_i=1.0, protocol: Protocol = Protocol(),
                 t0: float = 0.0, profile_every: int | None = None, progress: bool = False,
                 chunks: int = 1) -> RadialSolution:
    r"""Solve (2.8) from `y0` (default Eq. 4.1 with `R_u`, `R_i`) on $[t_0, t_{end}]$ [h].

    Saves the totals, centre values and fronts every `config.save_every` hours (`SERIES_NAMES`), and the
    profiles every `profile_every` saves if given. `p` may hold batched leaves under `jax.vmap`, and the
    whole solve is differentiable (checkpointed scan). `chunks` > 1 (or `progress=True`) splits the scan
    into jitted pieces between which a progress bar is drawn; the result is the same.
    """
    if not isinstance(p, OncolyticParams):
        raise ValueError(f"p must be OncolyticParams, got {type(p).__name__}")
    n_total = (t_end - t0) / config.save_every
    if not (n_total >= 1 and abs(n_total - round(n_total)) < 1e-9):
        raise ValueError(f"t_end - t0 = {t_end - t0:g} h must be a positive multiple of save_every = "
                         f"{config.save_every:g} h")
    n_total = int(round(n_total))
    if is_concrete(*jax.tree_util.tree_leaves(p)):
        dt, n_sub = choose_step(p, config)
    elif config.dt is not None:  # traced parameters: the given step, checked at run time (status)
        n_sub = max(1, math.ceil(config.save_every / config.dt - 1e-9))
        dt = config.save_every / n_sub
    else:
        raise ValueError("under jit/grad/vmap tracing, give RadialConfig(dt=...) (the automatic step needs "
                         "concrete parameter values)")
    y = initial_condition(config, p.K, R_u, R_i) if y0 is None else OVState(*(jnp.asarray(v) for v in y0))
    if y.u.shape[-1] != config.N:
        raise ValueError(f"y0 has {y.u.shape[-1]} cells, the grid {config.N}")
    shape = jnp.shape(protocol.threshold)
    carry = Carry(y, jnp.asarray(0), jnp.zeros(jnp.shape(p.zeta)), jnp.zeros(shape, int),
                  jnp.full(shape, jnp.nan), jnp.full(shape, jnp.nan), jnp.min(jnp.stack(y)))
    every = n_total if profile_every is None else int(profile_every)
    series, profiles = [_series(y, config)[None]], [jnp.stack(y)[None]]
    start, done = time.perf_counter(), 0
    for n_blocks in _pieces(n_total, every, max(chunks, 50 if progress else 1)):
        carry, s, fields = _advance(carry, p, protocol, jnp.asarray(dt), jnp.asarray(t0), config, n_sub,
                                    every, n_blocks)
        series.append(s)
        profiles.append(fields)
        done += n_blocks * every
        if progress:
            jax.block_until_ready(s)
            _draw(done / n_total)
    if progress:
        sys.stderr.write(f" {time.perf_counter() - start:.1f} s\n")
    ts = t0 + config.save_every * np.arange(n_total + 1)
    profiles = jnp.concatenate(profiles) if profile_every is not None else None
    final = carry.y
    finite = jnp.all(jnp.isfinite(jnp.stack(final)))
    negative = jnp.minimum(carry.vmin, jnp.min(jnp.stack(final))) < 0
    status = jnp.where(carry.cfl > 1, _STATUS_CFL, _STATUS_OK)
    status = jnp.where(~finite, _STATUS_NONFINITE, jnp.where(negative, _STATUS_NEGATIVE, status))
    return RadialSolution(jnp.asarray(ts), jnp.concatenate(series), final, profiles, status, carry.cfl,
                          carry.n_threshold, carry.t_first, carry.t_last, dt, config)


def _pieces(n_total, every, chunks):
    """Numbers of blocks (of `every` saves) per jitted call: about `chunks` calls in all."""
    if n_total % every:
        raise ValueError(f"profile_every = {every} must divide the number of saves {n_total}")
    blocks = n_total // every
    per = max(1, math.ceil(blocks / chunks))
    out, left = [], blocks
    while left > 0:
        take = min(per, left)
        out.append(take)
        left -= take
    return out
