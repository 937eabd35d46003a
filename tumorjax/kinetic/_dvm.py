r"""A discrete-velocity kinetic solver whose diffusive limit is the linear-diffusion model.

Beyond the slides, which derive the macroscopic equations formally. Each population $i$ is a
run-and-tumble (Goldstein-Kac) model on $[0, L]$ with velocities $V = \{-c_i, +c_i\}$,

$$\varepsilon\partial_t f_i^\pm \pm c_i\partial_x f_i^\pm
  = \frac{1}{\varepsilon}\mathcal{L}_i[f_i]^\pm + \varepsilon\,Q_i^\pm,\qquad
  \mathcal{L}_i[f]^\pm = \lambda_i\big(T(\pm c_i)\,\rho_i - f^\pm\big),\quad T(\pm c_i) = \tfrac12,$$

the slides' turning operator with memoryless, symmetric kernel and constant frequency. Then
$\mathbb{D}_i = \lambda_i^{-1}\int_V T v^2 = c_i^2/\lambda_i$, and the speed is set to
$c_i = \sqrt{\lambda_i D_i}$ so the limit has the macroscopic $D_i$.

**Collision terms.** With the macroscopic reactions split as $R_i = P_i - L_i n_i$
(`MacroscopicModel.production_loss`), $Q_i^\pm = T(\pm c_i)P_i - L_i f_i^\pm$: destruction
and state switching remove a cell at its current velocity, and new cells (proliferation,
switching in) start with the equilibrium distribution $T$, as a memoryless kernel would give them.
Integrated over $V$ this is exactly $R_i$, so densities obey the same reactions as the PDE, and
$T$-distributed gains add nothing to the flux (symmetric $T$).

**Parity variables and the AP scheme.** With $\rho = f^+ + f^-$ and $j = c(f^+ - f^-)/\varepsilon$
(even/odd parities, Jin, Pareschi and Toscani 1998):
$\partial_t\rho + \partial_x j = R$,
$\varepsilon^2\partial_t j + c^2\partial_x\rho = -\lambda j - \varepsilon^2 L j$.
On a staggered grid ($\rho$ at cell centres, $j$ at faces, $j = 0$ at the walls: specular
reflection $f^+ = f^-$, i.e. zero flux) one step is

$$j^{n+1} = \frac{\varepsilon^2 j^n - \Delta t\,c^2\partial_x\rho^n}{\varepsilon^2 + \lambda\Delta t},\qquad
  \rho^{*} = \rho^n - \Delta t\,\partial_x j^{n+1},$$

then the reactions ($\rho$ by the macroscopic Patankar step, $j \leftarrow j/(1 + \Delta t L)$).
The relaxation is implicit, so the step is uniformly stable in $\varepsilon$: von Neumann gives
$2c^2\Delta t^2/h^2 \le 2\varepsilon^2 + \lambda\Delta t$, i.e.
$\Delta t \le h^2\big(\lambda + \sqrt{\lambda^2 + 16c^2\varepsilon^2/h^2}\big)/(4c^2)$, which tends
to the parabolic limit $h^2/(2D)$ as $\varepsilon \to 0$ and to the hyperbolic $\varepsilon h/c$
as $\lambda \to 0$. At $\varepsilon = 0$ the scheme *is* the explicit finite-volume scheme of
the linear-diffusion model (asymptotic preservation), and the difference from it is
$O(\varepsilon^2)$ for well-prepared data. Mass is conserved to round-off without reactions.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core._params import is_concrete
from ..numerics._fv import divergence, face_fluxes
from ._macro import FieldSolution, MacroscopicModel, _check_state, _steps, solve_macroscopic
from ._params import KineticParams


def _coefficients(model, p, k: KineticParams):
    """Per-population $(\\lambda_i, c_i^2, D_i)$, shape `(3, 1)` each."""
    lam = jnp.stack([k.lam1, k.lam2, k.lam3])[:, None]
    D = jnp.stack([p.D1, p.D2, p.D3])[:, None]
    return lam, lam * D, D


def kinetic_stable_dt(model, p, k: KineticParams):
    """The largest stable step of the AP scheme (minimum over the populations)."""
    lam, c2, _ = _coefficients(model, p, k)
    h = model.grid.h[0]
    return jnp.min(h**2 * (lam + jnp.sqrt(lam**2 + 16 * c2 * k.epsilon**2 / h**2)) / (4 * c2))


def _check_model(model):
    if not isinstance(model, MacroscopicModel) or model.regime != "linear" or model.grid.ndim != 1:
        raise ValueError("the kinetic solver runs the linear-diffusion populations n1, n2, n3 on a 1D grid: "
                         "pass MacroscopicModel(regime='linear', grid=FVGrid((n,)), ...)")
    if model.motility is not None:
        raise ValueError("the kinetic solver uses constant turning frequencies and speeds (motility=None)")


def equilibrium_flux(model, p, rho):
    """The well-prepared flux $j = -D\\,\\partial_x\\rho$ at the interior faces."""
    D = jnp.stack([p.D1, p.D2, p.D3])[:, None]
    return D * face_fluxes(rho, model.grid, 0)


def kinetic_step(model, p, k, rho, j, dt):
    """One AP step of the parity system (transport-relaxation, then reactions)."""
    lam, c2, _ = _coefficients(model, p, k)
    eps2 = k.epsilon**2
    j = (eps2 * j + dt * c2 * face_fluxes(rho, model.grid, 0)) / (eps2 + lam * dt)
    rho = rho + dt * divergence(j, model.grid, 0)
    if model.reactions:
        _, L = model.production_loss(rho, p)
        rho = model.react(rho, dt, p)
        j = j / (1 + dt * 0.5 * (L[:, 1:] + L[:, :-1]))
    return rho, j


@eqx.filter_jit
def _integrate(model, p, k, rho0, j0, dt, n_save, steps_per_save):
    dt = eqx.error_if(dt, dt > kinetic_stable_dt(model, p, k) * (1 + 1e-12),
                      "kinetic step above the AP scheme's stability limit")

    @jax.checkpoint
    def one_step(carry, _):
        return kinetic_step(model, p, k, *carry, dt), None

    def one_save(carry, _):
        carry, _ = jax.lax.scan(one_step, carry, None, length=steps_per_save)
        return carry, carry

    return jax.lax.scan(one_save, (rho0, j0), None, length=n_save - 1)


def solve_kinetic(model: MacroscopicModel, params, kparams: KineticParams, n0, t_end: float, *,
                  dt: float | None = None, n_save: int = 51, safety: float = 0.9,
                  well_prepared: bool = True) -> tuple[FieldSolution, jax.Array]:
    r"""Integrate the discrete-velocity model for $n_1, n_2, n_3$ over $[0, t_{end}]$.

    **Arguments:**

    - `model`: a 1D linear-diffusion `MacroscopicModel` (its reactions and grid are used).
    - `params`: its `ConservativeParams` or `ProliferativeParams` ($D_i$ set the speeds).
    - `kparams`: turning frequencies $\lambda_i$ and the scaling $\varepsilon$.
    - `n0`: initial densities $\rho_i = \int f_i\,dv$, shape `(3, n_cells)`.
    - `dt`: the largest step (default: `safety` times the stability limit above); a larger
      explicit `dt` raises a `ValueError` naming the limit and the largest stable step.
    - `well_prepared`: start from $j = -D\partial_x\rho$ (no initial layer) rather than $j = 0$.

    Returns the densities as a [`FieldSolution`][] and the final flux $j$ (shape `(3, n_cells - 1)`);
    $f^\pm = \rho/2 \pm \varepsilon j/(2c)$.
    """
    _check_model(model)
    model._check_params(params)
    if not isinstance(kparams, KineticParams):
        raise ValueError(f"kparams must be KineticParams, got {type(kparams).__name__}")
    if not (t_end > 0 and n_save >= 2):
        raise ValueError(f"need t_end > 0 and n_save >= 2, got {t_end} and {n_save}")
    rho0 = jnp.asarray(n0)
    _check_state(model, rho0)
    concrete = is_concrete(*jax.tree_util.tree_leaves((params, kparams)))
    if concrete:
        limit = float(kinetic_stable_dt(model, params, kparams))
        if dt is None:
            dt = safety * limit
        elif dt > limit * (1 + 1e-12):
            raise ValueError(
                f"kinetic solver: dt = {dt:.6g} breaks the AP stability limit "
                f"dt <= h^2 (lambda + sqrt(lambda^2 + 16 c^2 eps^2 / h^2)) / (4 c^2) "
                f"(minimum over populations, "
                f"c^2 = lambda D, h = {model.grid.h[0]:.4g}, eps = {float(kparams.epsilon):.4g}); "
                f"the largest stable step is {limit:.6g}"
            )
    elif dt is None:
        raise ValueError("pass dt when the parameters are traced (vmap/grad): "
                         "the automatic step needs values")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    steps = _steps(t_end, n_save, dt)
    dt_arr = jnp.asarray(t_end / ((n_save - 1) * steps), rho0.dtype)
    j0 = equilibrium_flux(model, params, rho0) if well_prepared else jnp.zeros_like(rho0[:, 1:])
    (_, j_end), (rhos, _) = _integrate(model, params, kparams, rho0, j0, dt_arr, n_save, steps)
    ys = jnp.concatenate([rho0[None], rhos])
    sol = FieldSolution(ts=jnp.linspace(0.0, t_end, n_save, dtype=rho0.dtype), ys=ys, dt=dt_arr,
                        n_steps=(n_save - 1) * steps, state_names=model.state_names, grid=model.grid)
    return sol, j_end


def convergence_table(model, params, n0, t_end: float, epsilons, *, lam: float = 1.0, dt: float | None = None,
                      n_save: int = 2):
    r"""Max-norm difference between the kinetic densities at `t_end` and the macroscopic solution.

    Both use the same grid and step (`dt`, default 0.9 times the explicit diffusion limit, which
    is stable for every $\varepsilon$), so the difference is the modelling error of the diffusive
    limit. Returns `(epsilons, errors, orders)` with the observed order between consecutive
    $\varepsilon$ ($\log(e_k/e_{k+1})/\log(\varepsilon_k/\varepsilon_{k+1})$); expect 2.
    """
    if dt is None:
        dt = 0.9 * float(model.stable_dt(params))
    macro = np.asarray(solve_macroscopic(model, params, n0, t_end, dt=dt, n_save=n_save).ys[-1])
    errors = []
    for eps in epsilons:
        k = KineticParams(lam1=lam, lam2=lam, lam3=lam, epsilon=eps)
        sol, _ = solve_kinetic(model, params, k, n0, t_end, dt=dt, n_save=n_save)
        errors.append(float(np.max(np.abs(np.asarray(sol.ys[-1]) - macro))))
    eps = np.asarray(epsilons, float)
    errors = np.asarray(errors)
    orders = np.log(errors[:-1] / errors[1:]) / np.log(eps[:-1] / eps[1:])
    return eps, errors, orders
