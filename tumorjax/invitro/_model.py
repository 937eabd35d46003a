"""Tumour cells in a well under CAR-T cells or an oncolytic virus (Conte et al. 2025 monotherapy modules)."""

from typing import ClassVar

import jax.numpy as jnp

from ..core import ODEModel, Parameters, param
from ..data._loaders import CELL_INDEX_INTERCEPT, CELL_INDEX_SLOPE

_CONTE = "Conte et al. 2025, code CarOV_module (mconte93/CAR-OV-study_ConteEtAl2025)"
_FIT = "order of magnitude of the fit to the Conte 2025 wells Y1, Y2 (tumorjax.invitro.fit_wells)"


class CAROVParams(Parameters):
    r"""Parameters of [`CAROV`][], in cells and hours.

    Names follow the authors' code (`alfa`, `K`, `theta_TC` = k1, `mu` = k3, `delta`, `beta`,
    `gamma`, burst size `MOI_ICI`, clearance `omega`), written there in cell-index units; here
    every population is a cell or virion count, so the mass-action coefficients are per cell
    or per virion. The fitted defaults are rounded estimates from the Conte 2025 PBT030 wells
    (replicates Y1 and Y2 of all seven monotherapy conditions; `alpha` is the rate of the
    untreated and virus wells, the CAR-T wells get their own, see [`CONTE_START`][]).
    """

    alpha: float = param(0.048, "1/h", "intrinsic tumour growth rate (alfa)", f"{_CONTE}; {_FIT}")
    K: float = param(2.7e4, "cells", "carrying capacity of the well for T + I", f"{_CONTE}; {_FIT}",
                     strict=True)
    theta_TC: float = param(2.8e-4, "1/(cell*h)", "mass-action kill of tumour cells by CAR-T cells (k1)",
                            f"{_CONTE}; {_FIT}")
    mu: float = param(1.2e-6, "1/(cell*h)", "antigen-driven CAR-T expansion per tumour cell (k3)",
                      f"{_CONTE}; {_FIT}")
    delta: float = param(0.0, "1/h", "CAR-T death/exhaustion rate",
                         f"{_CONTE}; fitted, it goes to 0 on these 72 h wells")
    beta: float = param(7.5e-6, "1/(virion*h)", "infection rate of uninfected cells per free virion",
                        f"{_CONTE}; {_FIT}")
    gamma: float = param(0.041, "1/h", "lysis rate of infected cells (1/gamma = mean time to burst)",
                         f"{_CONTE}; {_FIT}")
    b: float = param(25.0, "virions/cell", "burst size, fixed by the authors (MOI_ICI = 25)", _CONTE)
    omega: float = param(0.05, "1/h", "free-virus clearance, fixed by the authors (Hillen et al. 2023)",
                         _CONTE)


class CAROV(ODEModel):
    r"""Tumour cells $T$, infected tumour cells $I$, free virus $V$ and CAR-T cells $C$ in one well.

    $$\frac{dT}{dt} = \alpha T\Big(1 - \frac{T+I}{K}\Big) - \beta TV - \theta_{TC}TC,\qquad
      \frac{dI}{dt} = \beta TV - \gamma I - \theta_{TC}IC,$$
    $$\frac{dV}{dt} = b\gamma I - \omega V,\qquad \frac{dC}{dt} = \mu TC - \delta C .$$

    The authors' two monotherapy modules (Conte et al. 2025: logistic growth with mass-action
    CAR-T killing and antigen-driven expansion; logistic growth with infection, lysis after a
    mean $1/\gamma$ h releasing $b$ virions) joined in one system: a CAR-T well has $V = I = 0$,
    a virus well has $C = 0$, so each well exercises one module, and the combination wells are
    the same equations with both. CAR-T cells also kill infected cells (they carry the
    antigen). Time is in hours. Only the adherent tumour cells $T + I$ are measured, through the
    impedance cell index ([`CAROV.cell_index`][]).
    """

    state_names: ClassVar[tuple[str, ...]] = ("T", "I", "V", "C")
    params_class: ClassVar[type] = CAROVParams
    time_units: ClassVar[str] = "hour"

    def vector_field(self, t, y, p: CAROVParams):
        T, I, V, C = y[0], y[1], y[2], y[3]
        infection = p.beta * T * V
        dT = p.alpha * T * (1 - (T + I) / p.K) - infection - p.theta_TC * T * C
        dI = infection - p.gamma * I - p.theta_TC * I * C
        dV = p.b * p.gamma * I - p.omega * V
        dC = p.mu * T * C - p.delta * C
        return jnp.stack([dT, dI, dV, dC])

    @staticmethod
    def cell_index(ys):
        r"""The cell index of states `ys` (`(..., 4)`): $\mathrm{CI} = 1.946\times10^{-4}(T+I) + 0.1602$.

        The calibration line of the authors' code ([`tumorjax.data.cell_index_to_cells`][]);
        CAR-T cells and virions do not adhere to the electrodes and are not counted.
        """
        return CELL_INDEX_SLOPE * (ys[..., 0] + ys[..., 1]) + CELL_INDEX_INTERCEPT

    def state_scale(self, p: CAROVParams):
        return jnp.stack([p.K, p.K, p.b * p.K, p.K])
