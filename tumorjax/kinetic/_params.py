r"""Parameters of the seed-002 kinetic tumour-immune models (Conte & Travaglini).

Populations: tumour $n_1$, active immune $n_2$, passive immune $n_3$; the host environment
$n_4$ and the cytokines $n_5$ are fixed and absorbed into the constants. The homogeneous
reductions on the slides "Qualitative analysis of the spatially homogeneous settings" are
non-dimensional: time is measured in units of the tumour's proliferation on the host
environment (the "+Y_1" term), densities in the slides' reference density. The slides give
**no numeric values**: every default below is an illustrative non-dimensional choice, picked so
that the equilibria the slides name exist (conservative case: A*I = 2 > 1, so E1 is stable and
E2 = (0.25, 2/3) is a positive saddle; proliferative case: two tumour-free states and two
coexistence states E3, E4).

The same parameter class serves a reduction and its spatial model: the reaction constants are
shared, and $\mathbb{D}_i = D_i\,\mathrm{Id}$ (the slides'
$\mathbb{D}_i = \lambda^{-1}\int_V T\,v\otimes v\,dv$) are used only by the PDEs.
"""

from ..core import Parameters, param

_S = "seed 002, slide 'Qualitative analysis of the spatially homogeneous settings'"
_CC = f"{_S}, first setting (conservative case)"
_PC = f"{_S}, second setting (proliferative case)"
_DIFF = ("seed 002, slide 'From kinetic to macroscopic model: linear diffusion' "
         "(D_i = (1/lambda) int T v(x)v dv)")
_ND = "dimensionless"
_TURN = "seed 002, turning operator L[f]"


def _diffusion(i: int, default: float, who: str):
    return param(default, f"{_ND} (length^2/time)", f"diffusion coefficient D{i} of the {who}", _DIFF,
                 strict=True)


class ConservativeParams(Parameters):
    r"""Conservative case (CC): immune cells only switch between active and passive.

    $$\dot Y_1 = -AY_1Y_2 + BY_1(I - Y_2) + Y_1,\qquad \dot Y_2 = -AY_1Y_2 + C(I - Y_2)$$

    ($Y_3 = I - Y_2$ passive). The spatial model has $R_1 = n_1(1 - An_2 + Bn_3)$,
    $R_2 = -An_1n_2 + Cn_3 = -R_3$; in the cross-diffusion limit $C$ and $A$ are the
    slides' $\bar d_{35}n_5$ and $\bar d_{21}$.
    """

    A: float = param(2.0, _ND, "kill rate of tumour by active immune cells = their inactivation rate (d21)",
                     _CC)
    B: float = param(1.0, _ND, "tumour proliferation stimulated by passive immune cells", _CC)
    C: float = param(1.0, _ND, "reactivation of passive immune cells by cytokines (d35*n5)", _CC, strict=True)
    I: float = param(1.0, _ND, "total immune density Y2 + Y3 (conserved)",
                     f"{_S}; the 'main assumption' I(t) = I0", strict=True)
    D1: float = _diffusion(1, 2e-3, "tumour")
    D2: float = _diffusion(2, 1e-2, "active immune cells")
    D3: float = _diffusion(3, 1e-3, "passive immune cells")


class ProliferativeParams(Parameters):
    r"""Proliferative case (PC), linear-diffusion reduction:

    $$\dot Y_1 = -AY_1Y_2 + BY_1Y_3 + Y_1,\quad \dot Y_2 = -AY_1Y_2 + DY_3 - GY_2 + H,\quad
      \dot Y_3 = -CY_3 + EY_2Y_3 + FY_2^2 .$$

    $D$ here is a reaction constant (reactivation of passive cells), not a diffusion
    coefficient; those are `D1`, `D2`, `D3`.
    """

    A: float = param(1.0, _ND, "kill rate of tumour by active immune cells = their loss on the encounter",
                     _PC)
    B: float = param(0.3, _ND, "tumour proliferation stimulated by passive immune cells", _PC)
    C: float = param(1.0, _ND, "loss of passive immune cells (Q35)", _PC, strict=True)
    D: float = param(0.5, _ND, "reactivation of passive into active immune cells (J35^2)", _PC)
    E: float = param(0.1, _ND, "passive production on active-passive encounters (Q32)", _PC)
    F: float = param(0.1, _ND, "passive production on active-active encounters (J22^3)", _PC)
    G: float = param(1.0, _ND, "relaxation rate of active immune cells (kappa_2)", f"{_PC}; K[f2]")
    H: float = param(1.5, _ND, "source of active immune cells (kappa_2 f2*)", f"{_PC}; K[f2]")
    D1: float = _diffusion(1, 2e-3, "tumour")
    D2: float = _diffusion(2, 1e-2, "active immune cells")
    D3: float = _diffusion(3, 1e-3, "passive immune cells")


class SelfParams(Parameters):
    r"""Proliferative case, self-diffusion reduction ($N = n_2 + n_3$, passive cells fast):

    $$\dot Y_1 = \frac{Y_1Y_N}{1 + PY_N}(BPY_N - A) + Y_1,\qquad
      \dot Y_N = \frac{Y_N}{1 + PY_N}(-AY_1 + DPY_N - G) + H .$$

    $P = \bar\mu_{32}m_{32}/(\bar d_{35}n_5)$ sets the fast split $n_2 = N/(1+PN)$,
    $n_3 = PN^2/(1+PN)$. It is the linear reduction's quasi-steady manifold of $\dot Y_3 = 0$
    when $E = F$ and $P = E/C$ ([`tumorjax.kinetic.self_params`][] maps one to the other).
    """

    A: float = param(1.0, _ND, "kill rate of tumour by active immune cells", _PC)
    B: float = param(0.3, _ND, "tumour proliferation stimulated by passive immune cells", _PC)
    D: float = param(0.5, _ND, "reactivation of passive into active immune cells", _PC)
    G: float = param(1.0, _ND, "relaxation rate of active immune cells", _PC)
    H: float = param(1.5, _ND, "source of active immune cells", _PC)
    P: float = param(0.1, _ND, "passive/active balance of the fast passive dynamics (mu32*m32/(d35*n5))",
                     "seed 002, slide 'From kinetic to macroscopic model: self-diffusion'", strict=True)
    D1: float = _diffusion(1, 2e-3, "tumour")
    D2: float = _diffusion(2, 1e-2, "active immune cells")
    D3: float = _diffusion(3, 1e-3, "passive immune cells")


class KineticParams(Parameters):
    r"""The discrete-velocity (run-and-tumble) layer of the kinetic solver (beyond the slides).

    Each population moves with speeds $\pm c_i$ and turns with frequency $\lambda_i$ toward the
    symmetric kernel $T(\pm c_i) = 1/2$; the speed is set from the macroscopic coefficient,
    $c_i = \sqrt{\lambda_i D_i}$, so that $D_i = \lambda_i^{-1}\int T v^2 = c_i^2/\lambda_i$
    (slides' linear-diffusion limit). `epsilon` is the diffusive scaling
    $\varepsilon\partial_t f + v\partial_x f = \varepsilon^{-1}\mathcal{L}[f] + \varepsilon Q$.
    """

    lam1: float = param(1.0, _ND, "turning frequency lambda of tumour cells", _TURN, strict=True)
    lam2: float = param(1.0, _ND, "turning frequency lambda of active immune cells", _TURN, strict=True)
    lam3: float = param(1.0, _ND, "turning frequency lambda of passive immune cells", _TURN, strict=True)
    epsilon: float = param(0.1, _ND, "diffusive scaling parameter (mean free path / macroscopic length)",
                           "seed 002, 'Scaling framework'", strict=True)
