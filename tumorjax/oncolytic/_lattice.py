r"""The stochastic 2D lattice model of seed 004 (Sec. 2.1, Remark 2.1, Appendix C).

Integer counts $U, I, Z$ of uninfected, infected and immune cells on every site of a square
lattice over $[-L, L]^2$ (spacing $\delta$, time step $\tau$), plus the deterministic
chemoattractant $\phi$. One step follows `helpers/agents_immune_dynamics.m` of the authors'
code, in its order:

1. $P = U + I$ (before moving: the logistic term uses it);
2. random walk of $U$ and $I$: stay with $1-\theta$, each neighbour with $\theta/4$,
   $\theta = 4D\tau/\delta^2$; zero flux (no move out of the lattice);
3. chemotactic walk of $Z$ (2.5): neighbour $k$ with
   $\theta_z/4 + \nu(\phi_k - \phi_j)_+/(4\phi^*)$, $\theta_z = 4D_z\tau/\delta^2$;
4. births of $U$ with $\tau G(\rho)_+$, deaths with $\tau G(\rho)_-$, $G = p(1 - P/(K\delta^2))$ (2.2);
   deaths of $I$ with $\tau q$ and of $Z$ with $\tau q_z$;
5. inflow: one immune cell on each site of $\omega$ with probability
   $\tau\delta^2 (S_0 + \alpha_z\sum_h I_h)$ (2.4; in 2D the site area is $\delta^2$);
6. infection: $\mathrm{Bin}(U, \min(1, \tau\beta i/K))$ move from $U$ to $I$, $i = I/\delta^2$;
7. immune killing of $U$, then of $I$, each with $\min(1, \tau\zeta z/K)$;
8. the chemoattractant update (2.3) in 2D with Neumann ghost points.

Two exact samplers give these laws (`LatticeConfig.sampler`). The default draws only the
events, a few thousand per step, with geometric gaps between them (`_lattice_events`). The
`"dense"` sampler draws over the whole lattice: a multinomial move is four conditional
binomials, and every binomial is one uniform per site inverted exactly (`binomial`).
The sampled counts are not differentiable; the parameters stay traced array leaves so a
parameter sweep does not recompile and `vmap` over parameters works.
"""

import dataclasses
import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ..core._params import is_concrete
from ..core._precision import resolve_dtype
from ._lattice_events import for_each_event, padded_length, scatter_add
from ._params import OncolyticParams

_MEAN_INVERSION = 30.0  # `binomial` splits n into chunks with n*min(p, 1-p) at most this, drawn by inversion


# ----------------------------------------------------------------------------------------------
# Configuration: lattice and initial lattice (static), protocol (values)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatticeConfig:
    r"""Static numerics of the lattice model: they set array shapes and probabilities' validity.

    - `L` [mm]: half-width of the domain $[-L, L]^2$ (Sec. 4: 10 mm).
    - `delta` [mm], `tau` [h]: lattice spacing and time step (Appendix C: 0.1 mm, 0.02 h).
    - `R_u`, `R_i` [mm]: initial radii of uninfected and infected cells (4.1); `R_i = 0` means
      no infection. Sites with $|x| < R$ (strict, as the code) get
      $\lfloor 0.9K\delta^2\rfloor$ uninfected and $\lfloor 0.1K\delta^2\rfloor$ infected cells.
    - `omega_radius` [mm]: immune inflow on sites with $|x| <$ this (2.7; default `L`).
    - `chemotaxis`: `"code"` uses the code's $\nu = 4\chi\tau\phi^*/\delta^2$, i.e. a drift
      $\chi\nabla\phi$ (README quirk 2, what the reference data contain); `"paper"` uses
      $\chi = \nu\tilde D$, i.e. $\nu = 4\chi\tau/\delta^2$ and drift $(\chi/\phi^*)\nabla\phi$ (2.8).
    - `strict_chemotaxis`: refuse $\theta_z + \nu \ge 1$, the paper's sufficient condition for
      (2.5) to be probabilities for every $0 \le \phi \le \phi^*$. Table 2 violates it
      ($\nu = 3.86$ or 1.32), so by default the move probabilities are checked at run time.
    - `save_every` [h]: spacing of the saved totals; `profile_every` [h]: of the saved
      mid-row and radial profiles. Both must be whole multiples of `tau`.
    - `dtype`: floating type of probabilities and $\phi$ (counts are int32).
    - `sampler`: `"events"` draws only the cells that move, divide, die, get infected or killed
      (`_lattice_events`; 14 times faster on a CPU, where uniform draws dominate the dense form);
      `"dense"` draws one binomial per site and rule (`binomial`), the reference code's form.
      Both are exact and give the same laws, not the same numbers.
    """

    L: float = 10.0
    delta: float = 0.1
    tau: float = 0.02
    R_u: float = 2.6
    R_i: float = 1.0
    omega_radius: float | None = None
    chemotaxis: str = "code"
    strict_chemotaxis: bool = False
    save_every: float = 1.0
    profile_every: float = 50.0
    dtype: str = "float32"
    sampler: str = "events"

    def __post_init__(self):
        for name in ("L", "delta", "tau", "save_every", "profile_every"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LatticeConfig.{name} must be positive, got {getattr(self, name)}")
        if self.R_u < 0 or self.R_i < 0:
            raise ValueError(f"initial radii must be >= 0, got R_u = {self.R_u}, R_i = {self.R_i}")
        if self.chemotaxis not in ("code", "paper"):
            raise ValueError(f"chemotaxis must be 'code' or 'paper', got {self.chemotaxis!r}")
        if self.sampler not in ("events", "dense"):
            raise ValueError(f"sampler must be 'events' or 'dense', got {self.sampler!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        ratio = self.L / self.delta
        if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio):
            raise ValueError(f"L / delta must be a whole number (sites at -L + k*delta up to L), got L = {self.L}, "
                             f"delta = {self.delta}: {ratio:.6g}")
        _ = self.steps_per_save, self.saves_per_profile
        if self.n_sites < 3:
            raise ValueError(f"the lattice needs at least 3 x 3 sites, got {self.n_sites}")

    @property
    def n_sites(self) -> int:
        """Sites per side, $2L/\\delta + 1$ (201 for the paper)."""
        return 2 * int(round(self.L / self.delta)) + 1

    @property
    def steps_per_save(self) -> int:
        return _whole(self.save_every / self.tau, "save_every / tau")

    @property
    def saves_per_profile(self) -> int:
        return _whole(self.profile_every / self.save_every, "profile_every / save_every")

    def x(self) -> np.ndarray:
        """Site coordinates [mm], `-L + k*delta` (reproduces the code's 2115 and 307 initial sites)."""
        return -self.L + self.delta * np.arange(self.n_sites)

    def radius(self) -> np.ndarray:
        xx, yy = np.meshgrid(self.x(), self.x())
        return np.sqrt(xx**2 + yy**2)

    def n_rings(self) -> int:
        """Rings of width delta used for radial averages (up to the corner of the domain)."""
        return int(np.floor(self.radius().max() / self.delta + 0.5)) + 1

    def coefficients(self, params: OncolyticParams) -> dict:
        r"""Dimensionless probabilities: $\theta = 4D\tau/\delta^2$, $\theta_z$, $\nu$ (2.5, Remark 2.1)."""
        d2 = self.delta**2
        nu = 4 * params.chi * self.tau / d2
        if self.chemotaxis == "code":
            nu = nu * params.phi_star
        return {"theta": 4 * params.D * self.tau / d2, "theta_z": 4 * params.D_z * self.tau / d2, "nu": nu}

    def check(self, params: OncolyticParams) -> None:
        """Refuse (ValueError) parameters for which a state-independent probability exceeds 1.

        Each message states the limit and the largest time step that satisfies it. Traced
        parameters are not checked (call this before `jit`/`vmap`).
        """
        leaves = jax.tree_util.tree_leaves(params)
        if any(isinstance(v, jax.core.Tracer) for v in leaves):
            return
        P = {k: np.asarray(getattr(params, k), dtype=float) for k in params.names()}
        tau, d2 = self.tau, self.delta**2
        limits = [  # (name, value per unit tau, the bound it must respect, what it is)
            ("theta = 4 D tau / delta^2", 4 * P["D"] / d2, 1.0, "move probability of cancer cells"),
            ("theta_z = 4 D_z tau / delta^2", 4 * P["D_z"] / d2, 1.0, "random move probability of immune cells"),
            ("tau * p", P["p"], 1.0, "largest birth probability tau G(rho)+"),
            ("tau * q", P["q"], 1.0, "death probability of infected cells"),
            ("tau * q_z", P["q_z"], 1.0, "death probability of immune cells"),
            ("tau * delta^2 * S0", P["S0"] * d2, 1.0, "immune inflow probability without infection"),
            ("4 D_phi tau / delta^2 + tau q_phi", 4 * P["D_phi"] / d2 + P["q_phi"], 1.0,
             "explicit chemoattractant update (2.3): weight of the old value must stay >= 0"),
        ]
        for name, rate, bound, what in limits:
            worst = float(np.max(rate)) * tau
            if worst > bound:
                raise ValueError(
                    f"{name} = {worst:.6g} exceeds {bound} ({what}); with delta = {self.delta} mm the "
                    f"largest valid tau is {bound / float(np.max(rate)):.6g} h, got tau = {tau} h")
        if self.strict_chemotaxis:
            c = self.coefficients(params)
            total = float(np.max(np.asarray(c["theta_z"]) + np.asarray(c["nu"])))
            if total >= 1:
                per_tau = total / tau
                raise ValueError(
                    f"theta_z + nu = {total:.6g} must be < 1 for the chemotactic probabilities (2.5) to lie in "
                    f"[0, 1] for every 0 <= phi <= phi*; the largest valid tau is {1 / per_tau:.6g} h, got {tau} h")


def _whole(x: float, what: str) -> int:
    n = int(round(x))
    if n < 1 or abs(x - n) > 1e-9 * max(1.0, x):
        raise ValueError(f"{what} must be a whole number >= 1, got {x}")
    return n


_NEVER = 2**30  # a step index no run reaches: the event is off


class LatticeEvents(NamedTuple):
    """A protocol as values of the scan (so every protocol shares one compiled scan).

    Step indices are int32 (`_NEVER` for an event that is off); see `LatticeProtocol.events`.
    """

    n_enhance: jax.Array
    enhance_factor: jax.Array
    n_reinject: jax.Array
    reinject_fraction: jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class LatticeProtocol:
    """Treatment events inside the scan (Sec. 4.3-4.4), at times [h] on step labels.

    - `enhance_time`, `enhance_factor`: $\\zeta \\to$ factor $\\cdot\\zeta$ for every step after
      the one labelled `enhance_time` (as `main.m`: after step `enhance_time/tau + 1`). Fig. 8c-d: 200 h, x10.
    - `reinject_time`, `reinject_fraction`: after the step labelled `reinject_time`, each site's
      uninfected cells become infected independently with probability `reinject_fraction`
      (one binomial draw per site; `main.m`'s commented lines use floor/ceil of 30%). Fig. 11: 900 h, 0.3.
    """

    enhance_time: float | None = None
    enhance_factor: float = 10.0
    reinject_time: float | None = None
    reinject_fraction: float = 0.3

    def __post_init__(self):
        if not 0 <= self.reinject_fraction <= 1:
            raise ValueError(f"reinject_fraction must be in [0, 1], got {self.reinject_fraction}")
        if self.enhance_factor < 0:
            raise ValueError(f"enhance_factor must be >= 0, got {self.enhance_factor}")
        for name in ("enhance_time", "reinject_time"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")

    def step_index(self, time: float | None, tau: float) -> int:
        """The last step before the event: the step labelled `time` is step time/tau + 1."""
        return -1 if time is None else _whole(time / tau + 1, "event time / tau + 1")

    def events(self, config: "LatticeConfig") -> LatticeEvents:
        """The protocol as scan values: event step indices and sizes.

        Event times must fall on step labels (multiples of `config.tau`); others raise `ValueError`.
        """

        def index(time):
            n = self.step_index(time, config.tau)
            return jnp.asarray(_NEVER if n < 0 else n, jnp.int32)

        return LatticeEvents(index(self.enhance_time), jnp.asarray(self.enhance_factor, float),
                             index(self.reinject_time), jnp.asarray(self.reinject_fraction, float))


# ----------------------------------------------------------------------------------------------
# State and sampling
# ----------------------------------------------------------------------------------------------


class LatticeState(eqx.Module):
    """Counts per site (int32, shape (N, N)), the chemoattractant [ug/mm^2] and a status.

    `p_max` is the largest probability any rule asked for so far, before the code's caps
    (`min(1, .)` for infection and killing); a value above 1 means the run left the model's
    range (the stay probability of a move went negative, or a cap was hit).
    """

    U: jax.Array
    I: jax.Array
    Z: jax.Array
    phi: jax.Array
    p_max: jax.Array


def initial_state(params: OncolyticParams, config: LatticeConfig = LatticeConfig()) -> LatticeState:
    """The initial lattice of Eq. (4.1) as the code builds it (`agents_immune_initial.m`)."""
    K_site = float(np.asarray(params.K)) * config.delta**2
    r = config.radius()
    U = math.floor(0.9 * K_site) * (r < config.R_u)
    I = math.floor(0.1 * K_site) * (r < config.R_i)
    zeros = np.zeros_like(r)
    return LatticeState(U=jnp.asarray(U, jnp.int32), I=jnp.asarray(I, jnp.int32), Z=jnp.zeros(r.shape, jnp.int32),
                        phi=jnp.asarray(zeros, config.dtype), p_max=jnp.asarray(0.0, config.dtype))


def binomial(key: jax.Array, n: jax.Array, p: jax.Array, dtype=jnp.float32) -> jax.Array:
    r"""Exact $\mathrm{Bin}(n, p)$ draws, one per element, for integer `n >= 0` and `p` in [0, 1].

    Sequential inversion of one uniform per element (using symmetry for $p > 1/2$): the
    inner loop runs as many times as the largest draw, which is small for the rare events of
    this model. So that $(1-p)^n$ never underflows, $n$ is split into chunks with mean at most
    30 and the chunks' draws are added ($\mathrm{Bin}(a+b, p) = \mathrm{Bin}(a, p) + \mathrm{Bin}(b, p)$);
    the outer loop makes one pass unless some element has $n\min(p, 1-p) > 30$.
    """
    nf = n.astype(dtype)
    p = jnp.broadcast_to(jnp.asarray(p, dtype), n.shape)
    flip = p > 0.5
    pp = jnp.where(flip, 1 - p, p)
    cap = jnp.where(pp > 0, jnp.floor(_MEAN_INVERSION / jnp.maximum(pp, 1e-30)), nf)
    log_q = jnp.log1p(-pp)
    ratio = pp / (1 - pp)

    def one_pass(c):
        i, rest, total = c
        m = jnp.minimum(rest, jnp.maximum(cap, 1))
        u = jax.random.uniform(jax.random.fold_in(key, i), n.shape, dtype)
        f = jnp.exp(m * log_q)

        def body(c):
            k, f, F, active = c
            f_next = f * (m - k) / (k + 1) * ratio
            k = jnp.where(active, k + 1, k)
            F = jnp.where(active, F + f_next, F)
            f = jnp.where(active, f_next, f)
            return k, f, F, active & (u >= F) & (k < m)

        k = lax.while_loop(lambda c: jnp.any(c[3]), body, (jnp.zeros_like(m), f, f, (u >= f) & (m > 0)))[0]
        return i + 1, rest - m, total + k

    total = lax.while_loop(lambda c: (c[0] == 0) | jnp.any(c[1] > 0), one_pass, (0, nf, jnp.zeros_like(nf)))[2]
    return jnp.where(flip, nf - total, total).astype(n.dtype)


def _run_if(pred, fn, default):
    """`fn()` if `pred` else `default`, as a while loop that runs at most once.

    Unlike `lax.cond`, it stays lazy under `vmap` with a batched `pred`: the body runs only
    when some batch element needs it.
    """
    return lax.while_loop(lambda c: c[0], lambda c: (jnp.zeros_like(c[0]), fn()), (pred, default))[1]


def _shift_in(b_up, b_down, b_left, b_right):
    """Counts arriving on each site from the four outgoing move arrays (..., rows = y, columns = x)."""
    z_row = jnp.zeros_like(b_up[..., :1, :])
    z_col = jnp.zeros_like(b_up[..., :1])
    return (jnp.concatenate([b_up[..., 1:, :], z_row], -2) + jnp.concatenate([z_row, b_down[..., :-1, :]], -2)
            + jnp.concatenate([b_left[..., 1:], z_col], -1) + jnp.concatenate([z_col, b_right[..., :-1]], -1))


def _multinomial_move(key, n, probs, dtype):
    """Move counts `n` (..., N, N) with neighbour probabilities (up, down, left, right) by conditional binomials."""
    keys = jax.random.split(key, 4)
    rest, mass, out = n, jnp.ones_like(probs[0]), []
    for k, p in zip(keys, probs):
        cond = jnp.where(mass > 0, jnp.clip(p / jnp.where(mass > 0, mass, 1), 0, 1), 0)
        b = binomial(k, rest, cond, dtype)
        out.append(b)
        rest = rest - b
        mass = mass - p
    return rest + _shift_in(*out)


def _boundary_masks(N, dtype):
    """1 where a move in that direction stays on the lattice: up (row-1), down, left, right."""
    ones = jnp.ones((N, N), dtype)
    up = ones.at[0].set(0)
    down = ones.at[-1].set(0)
    left = ones.at[:, 0].set(0)
    right = ones.at[:, -1].set(0)
    return up, down, left, right


def _chemotaxis_probs(phi, theta_z, nu, phi_star, masks):
    """Eq. (2.5) in 2D: theta_z/4 + nu (phi_k - phi_j)_+ / (4 phi*) towards each neighbour k."""
    edge = lambda a: jnp.concatenate([a[:1], a[:-1]], 0)  # noqa: E731
    up_n = edge(phi)
    down_n = jnp.concatenate([phi[1:], phi[-1:]], 0)
    left_n = jnp.concatenate([phi[:, :1], phi[:, :-1]], 1)
    right_n = jnp.concatenate([phi[:, 1:], phi[:, -1:]], 1)
    return tuple(m * (theta_z / 4 + nu * jnp.maximum(nb - phi, 0) / (4 * phi_star))
                 for nb, m in zip((up_n, down_n, left_n, right_n), masks))


def _laplacian_neumann(phi):
    """Five-point sum phi_N + phi_S + phi_W + phi_E - 4 phi with ghost points equal to the boundary."""
    pv = jnp.concatenate([phi[:1], phi, phi[-1:]], 0)
    ph = jnp.concatenate([phi[:, :1], phi, phi[:, -1:]], 1)
    return pv[2:] + pv[:-2] + ph[:, 2:] + ph[:, :-2] - 4 * phi


def _step_constants(params: OncolyticParams, config: LatticeConfig):
    """theta, theta_z, nu (Remark 2.1) and the site capacity K delta^2, in `config.dtype`."""
    dt = jnp.dtype(config.dtype)
    c = config.coefficients(params)
    theta, theta_z, nu = (jnp.asarray(c[k], dt) for k in ("theta", "theta_z", "nu"))
    return theta, theta_z, nu, jnp.asarray(params.K, dt) * config.delta**2


def _largest_probability(p_max, p_move_z, p_death, p_in, p_inf, p_kill, weight_old):
    """The status `LatticeState.p_max`: the largest probability any rule asked for, so far."""
    return jnp.max(jnp.stack([p_max, jnp.max(p_move_z), jnp.max(p_death), p_in, jnp.max(p_inf),
                              jnp.max(p_kill), 1 - jnp.min(weight_old)]))


def lattice_step(state: LatticeState, key: jax.Array, params: OncolyticParams, zeta, config: LatticeConfig,
                 omega: jax.Array) -> LatticeState:
    """One step of the lattice model in the order of `agents_immune_dynamics.m` (see module docstring).

    `zeta` is the killing rate in force at this step (protocols change it); `omega` is the
    inflow indicator (N, N). `config.sampler` chooses how the binomials are drawn.
    """
    step = _event_step if config.sampler == "events" else _dense_step
    return step(state, key, params, zeta, config, omega)


def _dense_step(state: LatticeState, key: jax.Array, params: OncolyticParams, zeta, config: LatticeConfig,
                omega: jax.Array) -> LatticeState:
    """`lattice_step` with one binomial draw per site and rule (`binomial`)."""
    dt = jnp.dtype(config.dtype)
    f = lambda x: jnp.asarray(x, dt)  # noqa: E731
    tau, d2 = config.tau, config.delta**2
    theta, theta_z, nu, K_site = _step_constants(params, config)
    keys = jax.random.split(key, 12)
    U, I, Z, phi = state.U, state.I, state.Z, state.phi
    masks = _boundary_masks(U.shape[0], dt)

    P = (U + I).astype(dt)
    walk = tuple(m * theta / 4 for m in masks)
    chemo = _chemotaxis_probs(phi, theta_z, nu, f(params.phi_star), masks)
    p_move_z = sum(chemo)
    U, I, Z = _multinomial_move(keys[0], jnp.stack([U, I, Z]),
                                tuple(jnp.stack([w, w, c]) for w, c in zip(walk, chemo)), dt)

    g = f(params.p) * tau * (1 - P / K_site)
    p_birth = jnp.where(P < K_site, g, 0)
    p_death = jnp.where(P >= K_site, -g, 0)
    U = U + binomial(keys[3], U, p_birth, dt)
    U = U - _run_if(jnp.any(p_death > 0), lambda: binomial(keys[4], U, jnp.minimum(p_death, 1), dt), jnp.zeros_like(U))
    IZ = jnp.stack([I, Z])
    I, Z = IZ - binomial(keys[5], IZ, jnp.stack([f(params.q) * tau, f(params.q_z) * tau])[:, None, None], dt)

    p_in = tau * d2 * (f(params.S0) + f(params.alpha_z) * jnp.sum(I).astype(dt))
    Z = Z + ((jax.random.uniform(keys[7], Z.shape, dt) < p_in) & omega).astype(Z.dtype)

    p_inf = tau * f(params.beta) / f(params.K) * I.astype(dt) / d2
    A = binomial(keys[8], U, jnp.minimum(p_inf, 1), dt)
    U, I = U - A, I + A

    p_kill = tau * f(zeta) / f(params.K) * Z.astype(dt) / d2
    p_kill_c = jnp.minimum(p_kill, 1)
    UI = jnp.stack([U, I])
    U, I = UI - binomial(keys[9], UI, jnp.broadcast_to(p_kill_c, UI.shape), dt)

    phi, weight_old = _chemoattractant(phi, U, I, params, config)

    p_max = _largest_probability(state.p_max, p_move_z, p_death, p_in, p_inf, p_kill, weight_old)
    return LatticeState(U=U, I=I, Z=Z, phi=phi, p_max=p_max)


def _event_step(state: LatticeState, key: jax.Array, params: OncolyticParams, zeta, config: LatticeConfig,
                omega: jax.Array) -> LatticeState:
    r"""`lattice_step` with the same laws drawn event by event (`_lattice_events`), in three draws.

    Each draw follows every cell through consecutive rules, which is the same law as the
    rules one after the other because a cell's fate in them depends only on its own site:

    1. every cell moves (U, I: theta; Z: the chemotactic probabilities), then, where it lands,
       U is born or dies with $\tau|G(\rho)|$ ($\rho$ from before moving, as the code), I dies
       with $\tau q$ and Z with $\tau q_z$: a cell is an event if it moves or if it stays and is
       born or dies; a mover's birth or death is drawn with a further uniform;
    2. the inflow on $\omega$;
    3. each U cell is killed with $p_k$ (whether or not it was infected first) or else infected
       with $p_i$, i.e. infected and surviving with $p_i(1 - p_k)$; each I cell is killed with $p_k$.
    """
    dt = jnp.dtype(config.dtype)
    f = lambda x: jnp.asarray(x, dt)  # noqa: E731
    tau, d2 = config.tau, config.delta**2
    theta, theta_z, nu, K_site = _step_constants(params, config)
    keys = jax.random.split(key, 3)
    N = state.U.shape[0]
    M = N * N
    masks = _boundary_masks(N, dt)
    allowed = jnp.stack([a.ravel() > 0 for a in masks])  # (4, M): up, down, left, right
    offsets = jnp.asarray([-N, N, -1, 1], jnp.int32)

    P = (state.U + state.I).astype(dt).ravel()
    g = f(params.p) * tau * (1 - P / K_site)  # > 0: birth, < 0: death
    p_death = jnp.where(P >= K_site, -g, 0)
    chemo = jnp.stack([a.ravel() for a in _chemotaxis_probs(state.phi, theta_z, nu, f(params.phi_star), masks)])
    cum_z = jnp.stack([chemo[0], chemo[0] + chemo[1], chemo[0] + chemo[1] + chemo[2], jnp.sum(chemo, 0)])
    p_move_z = jnp.minimum(cum_z[3], 1)
    q, q_z = f(params.q) * tau, f(params.q_z) * tau
    theta_c = jnp.minimum(theta, 1)
    b_u = jnp.minimum(jnp.abs(g), 1)
    m = _flat([theta_c + (1 - theta_c) * b_u, jnp.full((M,), theta_c + (1 - theta_c) * q, dt),
               p_move_z + (1 - p_move_z) * q_z])

    def move_then_grow_or_die(acc, s, event, v, u):
        species, site = s // M, s % M
        walker = species < 2
        d_walk = jnp.minimum((4 * v / jnp.where(theta_c > 0, theta_c, 1)).astype(jnp.int32), 3)
        d_chemo = jnp.minimum(jnp.sum(v[None] >= cum_z[:, site], axis=0, dtype=jnp.int32), 3)
        tries = jnp.where(walker, v < theta_c, v < p_move_z[site])
        d = jnp.where(walker, d_walk, d_chemo)
        moved = event & tries & allowed[d, site]
        final = jnp.where(moved, site + offsets[d], site)
        # U: birth (+1) or death (-1) with |g| where it lands; I, Z: death with q, q_z
        p_after = jnp.select([species == 0, species == 1], [b_u[final], jnp.full_like(v, q)], jnp.full_like(v, q_z))
        happens = event & jnp.where(tries, u < p_after, True)
        sign = jnp.where((species == 0) & (g[final] > 0), 1, -1)
        acc = scatter_add(acc, s, -moved.astype(jnp.int32))
        return scatter_add(acc, species * M + final, moved.astype(jnp.int32) + jnp.where(happens, sign, 0))

    UIZ = _flat([state.U.ravel(), state.I.ravel(), state.Z.ravel()])
    UIZ = for_each_event(keys[0], UIZ, m, move_then_grow_or_die, UIZ, chunk=1024)
    U, I, Z = UIZ[:M], UIZ[M:2 * M], UIZ[2 * M:3 * M]

    p_in = tau * d2 * (f(params.S0) + f(params.alpha_z) * jnp.sum(I).astype(dt))
    Z = for_each_event(keys[1], _flat([omega.ravel().astype(jnp.int32)]), jnp.minimum(p_in, 1),
                       lambda acc, s, event, v, u: scatter_add(acc, s, event), Z, chunk=32)

    p_inf = tau * f(params.beta) / f(params.K) * I.astype(dt) / d2
    p_kill = tau * f(zeta) / f(params.K) * Z.astype(dt) / d2
    p_i, p_k = jnp.minimum(p_inf, 1), jnp.minimum(p_kill, 1)

    def infect_or_kill(acc, s, event, v, u):
        infected = event & (s < M) & (v >= p_k[s % M])  # v uniform on [0, m): below p_k means killed
        acc = scatter_add(acc, s, -event.astype(jnp.int32))
        return scatter_add(acc, jnp.where(infected, s + M, 2 * M), infected)

    UI = _flat([U, I])
    UI = for_each_event(keys[2], UI, _flat([p_i + p_k - p_i * p_k, p_k]), infect_or_kill, UI, chunk=256)
    U, I = UI[:M].reshape(N, N), UI[M:2 * M].reshape(N, N)

    phi, weight_old = _chemoattractant(state.phi, U, I, params, config)
    p_max = _largest_probability(state.p_max, cum_z[3], p_death, p_in, p_inf, p_kill, weight_old)
    return LatticeState(U=U, I=I, Z=Z.reshape(N, N), phi=phi, p_max=p_max)


def _flat(parts):
    """Concatenate flat arrays and pad with zeros to whole blocks of `for_each_event`."""
    size = sum(a.shape[0] for a in parts)
    return jnp.concatenate([*parts, jnp.zeros((padded_length(size) - size,), parts[0].dtype)])


def _chemoattractant(phi, U, I, params, config):
    """The explicit update (2.3) and the weight of the old value (>= 0 keeps 0 <= phi <= phi*)."""
    dt = phi.dtype
    f = lambda x: jnp.asarray(x, dt)  # noqa: E731
    tau, d2 = config.tau, config.delta**2
    d_phi = f(params.D_phi) * tau / d2
    secretion = tau * (f(params.alpha_phi) * I.astype(dt) + f(params.gamma_phi) * U.astype(dt)) / d2
    phi = phi + d_phi * _laplacian_neumann(phi) + secretion * (f(params.phi_star) - phi) - f(params.q_phi) * tau * phi
    return phi, 1 - 4 * d_phi - secretion - f(params.q_phi) * tau


def _reinject(state: LatticeState, key, fraction, dtype) -> LatticeState:
    moved = binomial(key, state.U, jnp.asarray(fraction, dtype), dtype)
    return dataclasses.replace(state, U=state.U - moved, I=state.I + moved)


# ----------------------------------------------------------------------------------------------
# Time loop
# ----------------------------------------------------------------------------------------------


class LatticeRun(NamedTuple):
    """One realisation. Times are the code's labels: the state labelled t is after step t/tau + 1.

    - `t` (T,): labels of the totals [h]; `totals` (T, 4): sums of U, I, Z [cells] and
      $\\delta^2\\sum\\phi$ [ug].
    - `t_profile` (P,): labels of the profiles; `midrow` (P, 4, N): U, I, Z [cells per site] and
      phi along y = 0; `radial` (P, 4, R): u, i, z [cells/mm^2] and phi averaged over rings
      of width delta ($|x| \\in [(k - 1/2)\\delta, (k + 1/2)\\delta)$).
    - `final`: the last state; `p_max`: largest probability asked for (status; must be <= 1).
    """

    t: jax.Array
    totals: jax.Array
    t_profile: jax.Array
    midrow: jax.Array
    radial: jax.Array
    final: LatticeState
    p_max: jax.Array


def _observe_totals(s: LatticeState, d2):
    return jnp.stack([jnp.sum(s.U).astype(s.phi.dtype), jnp.sum(s.I).astype(s.phi.dtype),
                      jnp.sum(s.Z).astype(s.phi.dtype), jnp.sum(s.phi) * d2])


def _observe_profiles(s: LatticeState, rings, counts, d2):
    fields = jnp.stack([s.U.astype(s.phi.dtype), s.I.astype(s.phi.dtype), s.Z.astype(s.phi.dtype), s.phi])
    mid = fields[:, fields.shape[1] // 2, :]
    sums = jax.vmap(lambda a: jax.ops.segment_sum(a.ravel(), rings, num_segments=counts.shape[0]))(fields)
    scale = jnp.asarray([1 / d2, 1 / d2, 1 / d2, 1.0], s.phi.dtype)[:, None]
    return mid, sums / jnp.maximum(counts, 1) * scale


def simulate_lattice(params: OncolyticParams, key: jax.Array, t_end: float, config: LatticeConfig = LatticeConfig(),
                     protocol: LatticeProtocol = LatticeProtocol(), state: LatticeState | None = None) -> LatticeRun:
    """One realisation from the initial lattice (4.1) (or `state`) up to the label `t_end` [h].

    `t_end` must be 0 or a whole multiple of `config.save_every`; `state` replaces the initial
    lattice (the state before step 1). Parameters and `state` are checked before tracing
    (`check_inputs`); the same key gives the same result on the same platform.
    """
    check_inputs(params, config, state)
    events = protocol.events(config)
    if state is None:
        state = initial_state(params, config)
    n_save = _n_save(t_end, config)
    return _simulate(params, key, state, numerics_only(config), events, n_save)


def check_inputs(params: OncolyticParams, config: LatticeConfig, state: LatticeState | None) -> None:
    """Before tracing: the parameters (`LatticeConfig.check`), float64 only with x64 on, and a given `state`:
    (N, N) fields for the lattice's N sites, counts >= 0 and 0 <= phi <= phi* (values when concrete)."""
    config.check(params)
    resolve_dtype(config.dtype)  # float64 needs x64 on (else JAX would compute in float32)
    if state is None:
        return
    if not isinstance(state, LatticeState):
        raise ValueError(f"state must be a LatticeState, got {type(state).__name__}")
    N = config.n_sites
    for name in ("U", "I", "Z", "phi"):
        v = getattr(state, name)
        if jnp.shape(v) != (N, N):
            raise ValueError(f"state.{name} must have shape ({N}, {N}) (the lattice's sites), got {jnp.shape(v)}")
        if name != "phi" and not jnp.issubdtype(jnp.result_type(v), jnp.integer):
            raise ValueError(f"state.{name} must hold integer counts, got dtype {jnp.result_type(v)}")
        if name != "phi" and is_concrete(v) and np.any(np.asarray(v) < 0):
            raise ValueError(f"state.{name} must hold counts >= 0, got min {np.min(np.asarray(v))}")
    if is_concrete(state.phi, params.phi_star):
        phi, star = np.asarray(state.phi), float(np.min(np.asarray(params.phi_star)))
        if np.any(phi < 0) or np.any(phi > star * (1 + 1e-6)):
            raise ValueError(f"state.phi must lie in [0, phi* = {star:.6g}], got [{phi.min():.6g}, {phi.max():.6g}]")


def _n_save(t_end: float, config: LatticeConfig) -> int:
    if t_end < 0:
        raise ValueError(f"t_end must be >= 0, got {t_end}")
    return _whole(t_end / config.save_every, "t_end / save_every") if t_end > 0 else 0


def numerics_only(config: LatticeConfig) -> LatticeConfig:
    """`config` without the initial radii, which only `initial_state` uses: scenarios that differ
    only in their initial lattice share one compiled scan."""
    return dataclasses.replace(config, R_u=0.0, R_i=0.0)


@eqx.filter_jit
def _simulate(params, key, state, config: LatticeConfig, events: LatticeEvents, n_save: int):
    return _scan(params, key, state, config, events, n_save)


def _scan(params, key, state, config, events, n_save):
    """One scan over steps 1 .. 1 + n_save*steps_per_save; totals every step (kept every save), profiles by `cond`."""
    dt = jnp.dtype(config.dtype)
    d2 = config.delta**2
    omega_r = config.L if config.omega_radius is None else config.omega_radius
    r = config.radius()
    omega = jnp.asarray(r < omega_r)
    rings_np = np.floor(r / config.delta + 0.5).astype(np.int32).ravel()
    rings = jnp.asarray(rings_np)
    counts = jnp.asarray(np.bincount(rings_np, minlength=config.n_rings()), dt)
    state = dataclasses.replace(state, phi=state.phi.astype(dt), p_max=state.p_max.astype(dt))

    sps, spp = config.steps_per_save, config.saves_per_profile
    n_total = 1 + n_save * sps  # the step labelled t is step t/tau + 1
    n_prof = n_save // spp
    N = state.U.shape[-1]
    buffers = (jnp.zeros((n_prof + 1, 4, N), dt), jnp.zeros((n_prof + 1, 4, counts.shape[0]), dt))

    def step(carry, n):
        s, (mid_buf, rad_buf) = carry
        zeta = jnp.where(n > events.n_enhance, events.enhance_factor * params.zeta, params.zeta)
        k = jax.random.fold_in(key, n)
        s = lax.cond(n == events.n_reinject + 1,
                     lambda s: _reinject(s, jax.random.fold_in(k, 1 << 30), events.reinject_fraction, dt),
                     lambda s: s, s)
        s = lattice_step(s, k, params, zeta, config, omega)

        def save_profiles(bufs):
            mid, rad = _observe_profiles(s, rings, counts, d2)
            j = (n - 1) // (sps * spp)
            return bufs[0].at[j].set(mid), bufs[1].at[j].set(rad)

        bufs = lax.cond((n - 1) % (sps * spp) == 0, save_profiles, lambda b: b, (mid_buf, rad_buf))
        return (s, bufs), _observe_totals(s, d2)

    (state, (midrow, radial)), totals = lax.scan(step, (state, buffers), jnp.arange(1, n_total + 1, dtype=jnp.int32))
    totals = totals[::sps]
    t = jnp.arange(n_save + 1, dtype=dt) * config.save_every
    t_prof = jnp.arange(n_prof + 1, dtype=dt) * config.profile_every
    return LatticeRun(t=t, totals=totals, t_profile=t_prof, midrow=midrow, radial=radial, final=state,
                      p_max=state.p_max)
