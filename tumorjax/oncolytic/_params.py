"""Parameters of the oncolytic virus and immune cell models of seed 004 (Table 2).

Values are those of the authors' code (`parameters_immunoviro.m`) where Table 2 prints a rounded
form of the same number (p = ln 2/37, phi* = 5^(2/3), D_phi = 0.8/24, q_phi = 2/24, q_z = 0.18/24).
The one real difference is the death rate of infected cells: Table 2 and Appendix C give
q = 8.34e-3 /h, the code 9.34e-3 /h. `OncolyticParams()` follows the paper;
`REFERENCE_CODE` follows the code, and is what `../shared/reference/ov/` was run with.
"""

import math

from ..core import Parameters, param

_T2 = "seed 004, Table 2"


class OncolyticParams(Parameters):
    r"""Parameters of the lattice model (Sec. 2.1), the PDEs (2.6) and (2.8) and the ODE (3.1).

    $$\partial_t u = D\Delta u + pu(1 - \tfrac{u+i}{K}) - \tfrac{\beta}{K}ui - \tfrac{\zeta}{K}uz,\quad
      \partial_t i = D\Delta i + \tfrac{\beta}{K}ui - qi - \tfrac{\zeta}{K}iz,$$
    $$\partial_t z = D_z\Delta z - \tfrac{\chi}{\phi^*}\nabla\cdot(z\nabla\phi) - q_z z + S,\quad
      \partial_t\phi = D_\phi\Delta\phi + (\alpha_\phi i + \gamma_\phi u)(\phi^* - \phi) - q_\phi\phi,$$

    with $S = (S_0 + \alpha_z\int_\Omega i)\,1_\omega$. Densities are in cells/mm^2, time in hours.
    (Eq. (2.6) prints the chemoattractant source as $(\phi - \phi^*)$; Eq. (2.3) and the code use
    $(\phi^* - \phi)$, which keeps $\phi \le \phi^*$.)
    """

    D: float = param(1.88e-4, "mm^2/h", "diffusion coefficient of cancer cells (u and i)", _T2)
    p: float = param(math.log(2) / 37, "1/h", "maximal duplication rate of uninfected cells (doubling time 37 h)",
                     _T2)
    K: float = param(1e4, "cells/mm^2", "tissue carrying capacity in two dimensions", _T2, strict=True)
    beta: float = param(1.02e-1, "1/h", "infection rate", _T2)
    zeta: float = param(0.5, "1/h", "immune killing rate of cancer cells (0.5 weak, 5 strong)", _T2)
    q: float = param(8.34e-3, "1/h", "death rate of infected cells (the authors' code uses 9.34e-3)", _T2)
    D_z: float = param(4.2e-3, "mm^2/h", "diffusion coefficient of immune cells", _T2)
    chi: float = param(1.65e-1, "mm^2/h", "chemotactic coefficient of immune cells", _T2)
    phi_star: float = param(5 ** (2 / 3), "ug/mm^2", "saturation density of chemoattractant", _T2, strict=True)
    q_z: float = param(0.18 / 24, "1/h", "death rate of immune cells", _T2)
    S0: float = param(5e-2, "cells/(mm^2*h)", "base inflow rate of immune cells", _T2)
    alpha_z: float = param(3.75e-5, "1/(mm^2*h)", "inflow rate of immune cells due to the infection", _T2)
    D_phi: float = param(0.8 / 24, "mm^2/h", "diffusion coefficient of chemoattractant", _T2)
    alpha_phi: float = param(2.5e-4, "mm^2/(h*cells)", "secretion of chemoattractant by infected cells", _T2)
    gamma_phi: float = param(5e-6, "mm^2/(h*cells)", "secretion of chemoattractant by uninfected cells", _T2)
    q_phi: float = param(2 / 24, "1/h", "decay of chemoattractant", _T2)

    def to_ode(self, radius: float = 5.0) -> "OncolyticODEParams":
        """The ODE (3.1) parameters with $\\alpha = \\pi r^2\\alpha_z$ (Fig. 2 uses r = 5 mm)."""
        return OncolyticODEParams(p=self.p, K=self.K, beta=self.beta, zeta=self.zeta, q=self.q,
                                  alpha=math.pi * radius**2 * self.alpha_z, q_z=self.q_z, S0=self.S0)


class OncolyticODEParams(Parameters):
    r"""Parameters of the spatially homogeneous ODE (3.1):

    $$\dot u = pu(1 - \tfrac{u+i}{K}) - \tfrac{\beta}{K}ui - \tfrac{\zeta}{K}uz,\quad
      \dot i = \tfrac{\beta}{K}ui - qi - \tfrac{\zeta}{K}iz,\quad
      \dot z = \alpha i - q_z z + S_0 .$$

    `alpha` defaults to $\pi r^2\alpha_z$ with r = 5 mm, as in Figs. 2 and 3 (Table 2 prints 2.94e-3).
    """

    p: float = param(math.log(2) / 37, "1/h", "maximal duplication rate of uninfected cells", _T2)
    K: float = param(1e4, "cells/mm^2", "tissue carrying capacity", _T2, strict=True)
    beta: float = param(1.02e-1, "1/h", "infection rate", _T2)
    zeta: float = param(0.5, "1/h", "immune killing rate of cancer cells (0.5 weak, 5 strong)", _T2)
    q: float = param(8.34e-3, "1/h", "death rate of infected cells (the authors' code uses 9.34e-3)", _T2)
    alpha: float = param(math.pi * 25 * 3.75e-5, "1/h", "immune inflow per infected cell, pi*r^2*alpha_z",
                         f"{_T2}; Eq. (3.1)")
    q_z: float = param(0.18 / 24, "1/h", "death rate of immune cells", _T2)
    S0: float = param(5e-2, "cells/(mm^2*h)", "base inflow rate of immune cells", _T2)


REFERENCE_CODE = OncolyticParams(q=9.34e-3)
"""The values of the authors' MATLAB code, with which `../shared/reference/ov/` was produced."""
