"""What a 3D CAR-T run records: domain means and maxima of the 7 fields, tumour burden, antigen-negative
fraction, mid-plane slices and centre-line profiles, as in Figs. 4-10 and the reference CSV files."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..numerics import node_weights
from ._grid import spacing
from ._kinetics import FIELDS
from ._params import CARTNumerics

#: the node weights of the conserved sum: the reference scheme conserves the plain node sum, the
#: accurate scheme (true vertex-grid Neumann boundaries) the trapezoid sum.
CONSERVED_GRID = {"reference": "cell", "accurate": "vertex"}


def observe(U, num: CARTNumerics, scheme: str) -> dict:
    """Domain summaries of one state U (7, nx, ny, nz)."""
    flat = U.reshape(7, -1)
    wt = node_weights(num.shape, "vertex", U.dtype).reshape(-1)
    wc = node_weights(num.shape, CONSERVED_GRID[scheme], U.dtype).reshape(-1)
    dV = float(np.prod(spacing(num)))
    integral = flat @ wc * dV
    T = integral[2] + integral[3]
    return {
        "mean": jnp.mean(flat, axis=1),
        "max": jnp.max(flat, axis=1),
        "trapz_mean": flat @ wt / jnp.sum(wt),
        "integral": integral,
        "tumour_burden": T,
        "antigen_negative_fraction": integral[3] / jnp.where(T > 0, T, 1.0),
        "slice_z": U[:, :, :, num.nz // 2],
        "profile_x": U[:, :, num.ny // 2, num.nz // 2],
        "finite": jnp.all(jnp.isfinite(U)),
    }


class CARTSolution(eqx.Module):
    """A 3D run: summaries at the save times `ts` (leading axis), the final fields, diagnostics.

    `mean`, `max`, `trapz_mean`, `integral`: (n, 7) in field order C, E, T_A, T_B, S, A, H
    (`mean` is the plain node mean as in the reference CSV files; `integral` the conserved sum
    times the cell volume); `tumour_burden`, `antigen_negative_fraction`: (n,); `slice_z`:
    (n, 7, nx, ny) at k = nz//2; `profile_x`: (n, 7, nx) along j = ny//2, k = nz//2; `final`:
    (7, nx, ny, nz). `diagnostics` per save interval: the largest number of Jacobi sweeps per field over its
    steps (reference), or the reaction steps (summed), the largest number of chemotaxis substeps, the
    unweighted node sum set to 0 per field (summed; times the cell volume is not the trapezoid mass) and
    `ok` (accurate).
    """

    ts: np.ndarray
    mean: np.ndarray
    max: np.ndarray
    trapz_mean: np.ndarray
    integral: np.ndarray
    tumour_burden: np.ndarray
    antigen_negative_fraction: np.ndarray
    slice_z: np.ndarray
    profile_x: np.ndarray
    final: np.ndarray
    diagnostics: dict
    ok: bool = eqx.field(static=True)
    message: str = eqx.field(static=True)
    scheme: str = eqx.field(static=True)
    numerics: CARTNumerics = eqx.field(static=True)

    def field(self, name: str, kind: str = "mean") -> np.ndarray:
        """One column, e.g. `sol.field("TA", "max")`."""
        return getattr(self, kind)[:, FIELDS.index(name)]

    def to_columns(self) -> dict[str, np.ndarray]:
        """`t`, `mean_<F>`, `max_<F>` (the reference CSV columns), `trapz_mean_<F>`, `tumour_burden`,
        `antigen_negative_fraction`."""
        out = {"t": np.asarray(self.ts)}
        for kind in ("mean", "max", "trapz_mean"):
            arr = np.asarray(getattr(self, kind))
            out.update({f"{kind}_{f}": arr[:, i] for i, f in enumerate(FIELDS)})
        out["tumour_burden"] = np.asarray(self.tumour_burden)
        out["antigen_negative_fraction"] = np.asarray(self.antigen_negative_fraction)
        return out
