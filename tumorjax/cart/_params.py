"""Parameters, initial condition and numerical settings of the CAR-T model (seed 003, Polyakov 2026).

Three objects, kept apart so that a new parameter value never recompiles:

- [`CARTParams`][]: the 34 rates and coefficients of Eqs. (1)-(8) (traced pytree leaves);
- [`CARTInitial`][]: the initial condition and the repeated infusion (traced leaves, so the dose
  and the initial densities can be differentiated);
- [`CARTNumerics`][]: grid, time step and solver settings (static).

[`CARTSetup`][] bundles the three for scenarios and the command line: its `replace` routes a flat
`NAME=VALUE` (or a params JSON file of the reference folder) to the right one.

Presets: `TABLE1` (the paper's Table 1), `REFERENCE_CODE` (the author's C++ code: lambda_S = 0.46
instead of 0.56, gamma = delta_CT), `NORMALISED` (the normalised form, see [`normalised`][]).
"""

import dataclasses
import math
from typing import Any, ClassVar

import equinox as eqx
import numpy as np

from ..core import Parameters, param
from ..core._params import is_concrete

_T1 = "seed 003, Table 1"
_EQ = "seed 003, Eq. (8)/(16)-(17)"
_CODE = "author's code CARTmodel.cpp (commit 8fa1cc6)"


class CARTParams(Parameters):
    r"""Rates and coefficients of the CAR-T reaction-diffusion-chemotaxis model, Eqs. (1)-(8).

    $$\partial_t C = \nabla\cdot(D_C\nabla C) - \nabla\cdot(\chi_C(A)C\nabla S)
      + \rho_C\frac{CT_A}{K_C + C} - \delta_{CT}CT_A - k_e(A,H)C + \frac{p_r}{1+A}E - d_C C,$$
    $$\partial_t E = D_E\Delta E + k_e(A,H)C - \frac{p_r}{1+A}E - d_E E,$$
    $$\partial_t T_A = D_T\Delta T_A + r_T(1 - \tfrac{T_A+T_B}{K_T})T_A - \gamma CT_A - \mu_{AB}(C)T_A
      + \mu_{BA}(C)T_B - d_{T_A}T_A,$$
    $$\partial_t T_B = D_T\Delta T_B + r_T(1 - \tfrac{T_A+T_B}{K_T})T_B + \mu_{AB}(C)T_A - \mu_{BA}(C)T_B
      - d_{T_B}T_B,$$
    $$\partial_t S = D_S\Delta S + \sigma_S T_A - \lambda_S S,\quad
      \partial_t A = D_A\Delta A + \sigma_A(T_A+T_B) + \sigma_M f(H) - \lambda_A A,\quad
      \partial_t H = D_H\Delta H + \eta(T_A+T_B) - \lambda_H H,$$

    with $\chi_C = \chi_0/(1+\alpha_A A)$, $k_e = k_e^0(1+\beta_A A+\beta_H H)$,
    $\mu_{AB} = \mu_0+\nu C$, $\mu_{BA} = \mu_1 e^{-\xi C}$, $f(H) = H/(K_H+H)$.
    Defaults are Table 1 (cells, cm, days; densities in cells/cm^3, so the mass-action rates are per
    cells/cm^3 where Table 1 writes 1/day or 1/cell). `gamma` (kill of $T_A$ in Eq. (3)) is not in Table 1;
    the paper's text and the code use $\gamma = \delta_{CT}$. `xi` is $\xi$ of Eq. (8) = $\zeta$ of
    Eq. (17) and Table 1.
    """

    D_C: float = param(0.014, "cm^2/day", "diffusion coefficient of functional CAR-T cells C", _T1)
    D_E: float = param(0.001, "cm^2/day", "diffusion coefficient of exhausted CAR-T cells E", _T1)
    D_T: float = param(5e-5, "cm^2/day", "diffusion coefficient of tumour cells T_A, T_B", _T1)
    D_S: float = param(0.0045, "cm^2/day", "diffusion coefficient of chemoattractant S", _T1)
    D_A: float = param(0.02, "cm^2/day", "diffusion coefficient of immunosuppressive factor A", _T1)
    D_H: float = param(1.5, "cm^2/day", "diffusion coefficient of hypoxia H", _T1)
    rho_C: float = param(0.55, "1/day", "antigen-driven proliferation rate of CAR-T cells", _T1)
    K_C: float = param(2e9, "cells/cm^3", "half-saturation of CAR-T proliferation (Table 1: cells)", _T1, strict=True)
    delta_CT: float = param(0.41, "cm^3/(cell*day)", "loss of C per contact with T_A, Eq. (1) (Table 1: 1/day)", _T1)
    gamma: float = param(0.41, "cm^3/(cell*day)", "kill of T_A by C, Eq. (3) (= delta_CT in the code)", _CODE)
    d_C: float = param(0.08, "1/day", "death rate of functional CAR-T cells", _T1)
    d_E: float = param(0.04, "1/day", "death rate of exhausted CAR-T cells", _T1)
    k_e0: float = param(0.05, "1/day", "baseline exhaustion rate k_e^0", _T1)
    beta_A: float = param(1.0, "1/[A]", "increase of exhaustion per unit A", _EQ)
    beta_H: float = param(1.0, "1", "increase of exhaustion per unit hypoxia", _EQ)
    p_r: float = param(0.1, "1/day", "recovery rate from exhaustion, p_r/(1+A)", _T1)
    r_T: float = param(0.13, "1/day", "tumour growth rate", _T1)
    K_T: float = param(2.4e8, "cells/cm^3", "tumour carrying capacity", _T1, strict=True)
    d_TA: float = param(0.01, "1/day", "death rate of antigen-positive tumour cells", _T1)
    d_TB: float = param(0.01, "1/day", "death rate of antigen-negative tumour cells", _T1)
    mu_0: float = param(0.13, "1/day", "baseline antigen loss rate T_A -> T_B", _T1)
    mu_1: float = param(0.07, "1/day", "baseline antigen recovery rate T_B -> T_A", _T1)
    nu: float = param(1e-10, "cm^3/(cell*day)", "CAR-T driven antigen loss, mu_AB = mu_0 + nu*C", _T1)
    xi: float = param(1e-9, "cm^3/cell", "CAR-T suppression of recovery, mu_BA = mu_1*exp(-xi*C) (zeta in Table 1)",
                      _T1)
    sigma_S: float = param(5e-4, "[S]*cm^3/(cell*day)", "chemoattractant production by T_A", _T1)
    lambda_S: float = param(0.56, "1/day", "chemoattractant decay (0.46 in the author's code)", _T1)
    sigma_A: float = param(5e-3, "[A]*cm^3/(cell*day)", "immunosuppressant production by T_A + T_B", _T1)
    lambda_A: float = param(0.75, "1/day", "immunosuppressant decay", _T1)
    sigma_M: float = param(0.002, "[A]/day", "hypoxia-driven immunosuppressant production", _T1)
    eta: float = param(5e-10, "cm^3/(cell*day)", "hypoxia accumulation per tumour cell", _T1)
    lambda_H: float = param(0.43, "1/day", "hypoxia decay", _T1)
    K_H: float = param(0.5, "1", "half-saturation of f(H) = H/(K_H + H)", _T1, strict=True)
    chi_0: float = param(0.1, "cm^2/([S]*day)", "chemotactic sensitivity", _T1)
    alpha_A: float = param(1.0, "1/[A]", "suppression of chemotaxis by A", _T1)

    def diffusion(self):
        """The seven diffusion coefficients in field order C, E, T_A, T_B, S, A, H."""
        return (self.D_C, self.D_E, self.D_T, self.D_T, self.D_S, self.D_A, self.D_H)


class CARTInitial(Parameters):
    """Initial condition (the code's geometry) and an optional second CAR-T dose.

    T_A(0) = `tumor_value` * (1 - `tb_fraction`) and T_B(0) = `tumor_value` * `tb_fraction` at
    nodes within `tumor_radius` of the domain centre; C(0) = `cart_value` at nodes with
    x <= `cart_layer` and distance to the x-axis through the centre <= `cart_radius`; the rest 0.
    With `edge_width` > 0 both indicator functions get a smooth (septic smoothstep) edge from
    radius - `edge_width` to radius + `edge_width` (used for grid-convergence studies; 0 reproduces the
    reference). A repeated infusion adds `dose2` to C on the injection region at time `t_dose2` (an
    instantaneous change of state, Sec. 3.4).
    """

    tumor_radius: float = param(0.2, "cm", "radius of the initial tumour ball", _CODE)
    tumor_value: float = param(2.4e7, "cells/cm^3", "tumour density in the ball (0.1 K_T)", _CODE)
    tb_fraction: float = param(0.0, "1", "T_B(0)/(T_A(0)+T_B(0)) in the ball (Sec. 3.3), at most 1",
                               "seed 003, Sec. 3.3")
    cart_layer: float = param(0.05, "cm", "injection region: x <= cart_layer", _CODE)
    cart_radius: float = param(0.2, "cm", "injection region: distance to the centre line <= cart_radius", _CODE)
    cart_value: float = param(1e7, "cells/cm^3", "CAR-T density of the first dose", _CODE)
    edge_width: float = param(0.0, "cm", "half-width of the smooth edge of the initial indicators (0: sharp)", "")
    dose2: float = param(0.0, "cells/cm^3", "CAR-T density added by the repeated infusion", "seed 003, Sec. 3.4")
    t_dose2: float = param(0.0, "day", "repeated infusion time (nearest step), in [dt, T] when dose2 > 0",
                           "seed 003, Sec. 3.4")

    def __check_init__(self):
        if is_concrete(self.tb_fraction) and np.any(np.asarray(self.tb_fraction) > 1):
            raise ValueError(f"CARTInitial.tb_fraction (share of antigen-negative tumour cells) must be in [0, 1], "
                             f"got {np.asarray(self.tb_fraction)}")


class CARTNumerics(eqx.Module):
    """Grid and solver settings (static: a new value recompiles).

    Vertex grid with `nx` nodes on [0, `Lx`] (dx = Lx/(nx-1)), likewise y, z; `T` is the horizon
    and the number of steps is ceil(T/dt) as in the code. `exp_substeps`, `diff_iters`,
    `diff_tol` are the reference scheme's RK2 substeps and Jacobi settings; `rtol`, `atol` the
    accurate scheme's reaction tolerances (on fields scaled by their natural sizes: `atol` = 1e-6 is
    240 cells/cm^3 at the code's K_T; a much smaller `atol` makes the solver follow C to densities
    far below one cell: at the code's stiff values 100 times more steps, for a change of 3e-6 in the
    tumour burden and 6e-5 in mean C (12^3, T = 0.3, atol 1e-10 against 1e-6)),
    `max_reaction_steps` its step budget per half step and `chemo_substeps` its largest number of
    chemotaxis substeps per half step.
    `save_every` is the output interval in steps.
    """

    nx: int = 40
    ny: int = 40
    nz: int = 40
    Lx: float = 1.0
    Ly: float = 1.0
    Lz: float = 1.0
    dt: float = 0.01
    T: float = 30.0
    exp_substeps: int = 1
    diff_iters: int = 60
    diff_tol: float = 1e-8
    rtol: float = 1e-6
    atol: float = 1e-6
    chemo_substeps: int = 1024
    max_reaction_steps: int = 100_000
    save_every: int = 10

    INTS: ClassVar[tuple[str, ...]] = ("nx", "ny", "nz", "exp_substeps", "diff_iters", "chemo_substeps",
                                       "max_reaction_steps", "save_every")

    def __check_init__(self):
        for n in ("nx", "ny", "nz"):
            if getattr(self, n) < 3:
                raise ValueError(f"CARTNumerics.{n} must be at least 3 nodes per axis, got {getattr(self, n)}")
        for n in ("Lx", "Ly", "Lz", "dt", "T", "rtol", "atol"):
            v = getattr(self, n)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"CARTNumerics.{n} must be finite and > 0, got {v}")
        for n in ("exp_substeps", "diff_iters", "chemo_substeps", "max_reaction_steps", "save_every"):
            if getattr(self, n) < 1:
                raise ValueError(f"CARTNumerics.{n} must be >= 1, got {getattr(self, n)}")
        if self.diff_tol < 0:
            raise ValueError(f"CARTNumerics.diff_tol must be >= 0, got {self.diff_tol}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.nx, self.ny, self.nz)

    @property
    def lengths(self) -> tuple[float, float, float]:
        return (self.Lx, self.Ly, self.Lz)

    @property
    def n_steps(self) -> int:
        """ceil(T/dt), as the code computes it (the paper says floor), ignoring round-off (T = 0.07, dt = 0.01: 7)."""
        return int(math.ceil(self.T / self.dt * (1 - 1e-12)))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **values) -> "CARTNumerics":
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown numerical setting(s) {unknown}; known: {', '.join(self.names())}")
        fixed = {}
        for k, v in values.items():
            if k in self.INTS:
                if float(v) != int(v):
                    raise ValueError(f"CARTNumerics.{k} must be an integer, got {v}")
                v = int(v)
            else:
                v = float(v)
            fixed[k] = v
        return dataclasses.replace(self, **fixed)

    def as_dict(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.names()}


#: keys of the reference folder's params JSON files that describe the run, not the model.
_METADATA_KEYS = {"run_id", "produced_by", "model_parameter_notes", "boundary", "outputs", "note", "docs"}
#: reference JSON keys renamed or derived (not settable).
_DERIVED_KEYS = {"dx", "dy", "dz", "n_nodes", "node_coordinates", "memory_layout_of_reference", "n_steps",
                 "n_steps_rule", "output_every", "csv_precision", "reaction_substep_h", "centre", "TA", "C",
                 "E,TB,S,A,H", "n_tumour_nodes", "n_cart_nodes", "cart_node_planes_i", "note"}
#: reference JSON sections whose entries are flattened.
_SECTIONS = ("model_parameters", "grid", "time_stepping", "initial_condition")


class CARTSetup(eqx.Module):
    """Model parameters, initial condition and numerics of one CAR-T run, addressed by flat names.

    `replace(name=value)` sends each name to [`CARTParams`][], [`CARTInitial`][] or
    [`CARTNumerics`][]; it also accepts the nested layout of the reference folder's params JSON
    (`model_parameters`, `grid`, `time_stepping`, `initial_condition`; descriptive keys such as
    `produced_by` are skipped). Unknown names raise a `ValueError`.
    """

    model: CARTParams = eqx.field(default_factory=CARTParams)
    initial: CARTInitial = eqx.field(default_factory=CARTInitial)
    numerics: CARTNumerics = eqx.field(default_factory=CARTNumerics, static=True)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return CARTParams.names() + CARTInitial.names() + CARTNumerics.names()

    @classmethod
    def info(cls) -> dict[str, dict[str, Any]]:
        out = {**CARTParams.info(), **CARTInitial.info()}
        out.update({n: {"units": "", "doc": "numerical setting (static)", "source": "", "lower": None}
                    for n in CARTNumerics.names()})
        return out

    def replace(self, **values) -> "CARTSetup":
        flat = {}
        for k, v in values.items():
            if k in _SECTIONS and isinstance(v, dict):
                flat.update({kk: vv for kk, vv in v.items() if kk not in _DERIVED_KEYS})
            elif k not in _METADATA_KEYS:
                flat[k] = v
        unknown = sorted(set(flat) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for CARTSetup; known: {', '.join(self.names())}")
        pick = lambda cls: {k: v for k, v in flat.items() if k in cls.names()}  # noqa: E731
        return CARTSetup(model=self.model.replace(**pick(CARTParams)),
                         initial=self.initial.replace(**pick(CARTInitial)),
                         numerics=self.numerics.replace(**pick(CARTNumerics)))

    def as_dict(self) -> dict[str, Any]:
        return {**self.model.as_dict(), **self.initial.as_dict(), **self.numerics.as_dict()}

    def describe(self) -> str:
        num = "\n".join(f"{n:>14} = {v}" for n, v in self.numerics.as_dict().items())
        return f"{self.model.describe()}\n{self.initial.describe()}\n{num}"


TABLE1 = CARTParams()
"""The paper's Table 1 with gamma = delta_CT."""

REFERENCE_CODE = CARTParams(lambda_S=0.46)
"""The author's C++ code: Table 1 except lambda_S = 0.46; all of `../shared/reference/cart/` used it."""


def normalised(**overrides) -> CARTParams:
    r"""The normalised form: densities in units of $K_T$, the code's time (day) and length (cm).

    A strict rescaling $\hat T = T/K_T$, $\hat C = C/K_T$ would turn the mass-action rates into
    $\hat\delta_{CT} = \delta_{CT}K_T$ and leave the dynamics unchanged (no therapy effect). This set
    instead keeps the code's rate values and chooses O(1) saturation and coupling constants, so that
    every field is O(1) and CAR-T expansion is possible: $\rho_C T_A/K_C > \delta_{CT}T_A + k_e^0 + d_C$
    at the initial tumour density (2.75 > 0.335 at $T_A = 0.5$). The values (our choice; the paper publishes none) are those of set N1 of the
    reference folder (`h2_params.json`): Table-1 / code values except
    K_T = 1, K_C = 0.1, nu = 0.1, xi = 1, sigma_S = 0.5, sigma_A = 0.5, sigma_M = 0.2, eta = 0.3,
    lambda_S = 0.46 (code). The 3D initial condition is T_A = 0.5 in the ball and C = 0.1 on the
    injection disk ([`NORMALISED_INITIAL`][]).
    """
    base = dict(K_T=1.0, K_C=0.1, nu=0.1, xi=1.0, sigma_S=0.5, sigma_A=0.5, sigma_M=0.2, eta=0.3, lambda_S=0.46)
    base.update(overrides)
    return CARTParams(**base)


NORMALISED = normalised()
NORMALISED_INITIAL = CARTInitial(tumor_value=0.5, cart_value=0.1)


def switching_variant(p: CARTParams, regime: str) -> CARTParams:
    """Sec. 3.3 switching regimes: `baseline`, `loss` (mu_0 x2, nu x2) or `recovery` (mu_1 x2)."""
    if regime == "baseline":
        return p
    if regime == "loss":
        return p.replace(mu_0=2 * np.asarray(p.mu_0), nu=2 * np.asarray(p.nu))
    if regime == "recovery":
        return p.replace(mu_1=2 * np.asarray(p.mu_1))
    raise ValueError(f"unknown switching regime {regime!r}; known: baseline, loss, recovery")


def microenvironment_variant(p: CARTParams, regime: str, factor: float = 2.0) -> CARTParams:
    """Sec. 3.4 regimes: `baseline`; `enhanced` (sigma_A, sigma_M, eta x factor; lambda_A, lambda_H
    / factor); `attenuated` (the inverse, used with a repeated infusion for `combination`)."""
    if regime == "baseline":
        return p
    f = {"enhanced": factor, "attenuated": 1.0 / factor}.get(regime)
    if f is None:
        raise ValueError(f"unknown microenvironment regime {regime!r}; known: baseline, enhanced, attenuated")
    a = lambda n: np.asarray(getattr(p, n))  # noqa: E731
    return p.replace(sigma_A=a("sigma_A") * f, sigma_M=a("sigma_M") * f, eta=a("eta") * f,
                     lambda_A=a("lambda_A") / f, lambda_H=a("lambda_H") / f)
