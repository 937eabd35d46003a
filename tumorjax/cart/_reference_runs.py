"""The runs of the author's solver recorded in `../shared/reference/cart/h2_params.json`, as setups.

That file lists, per run name, the full parameter set, grid, horizon, T_B(0) fraction and repeated
infusion that the (numerically unmodified, instrumented) C++ solver used for the `h2_N1_3d_*.csv`
series. `reference_run_setup` turns one entry into a [`CARTSetup`][] for `scheme="reference"`, so
those series can be recomputed and compared.
"""

from typing import Any

from ._params import CARTInitial, CARTNumerics, CARTParams, CARTSetup


def reference_run_setup(name: str, run: dict[str, Any]) -> CARTSetup:
    """The setup of run `name` of `h2_params.json["runs"]` (a 3D run: it has a `grid`).

    Initial condition: the code's geometry with T_A = 0.5 (1 - `tb_frac`), T_B = 0.5 `tb_frac` in the
    ball (N1: `K_T` = 1, `tumor_value` 0.5, `cart_value` 0.1, as `h2_params.json["N1_set"]` states)
    and the second dose `infusion_value_added_to_C` after step `infusion_step`; a name ending in
    `_iters2000` ran with `diff_iters` = 2000.
    """
    if "grid" not in run or "params" not in run:
        raise ValueError(f"run {name!r} is not a 3D run with a grid and parameters")
    nx, ny, nz = run["grid"]
    Lx, Ly, Lz = run["L"]
    dt = float(run["T"]) / int(run["steps"])
    numerics = CARTNumerics(nx=nx, ny=ny, nz=nz, Lx=Lx, Ly=Ly, Lz=Lz, dt=dt, T=float(run["T"]), save_every=10,
                            diff_iters=2000 if name.endswith("_iters2000") else 60)
    dose = run.get("infusion_value_added_to_C") or 0.0
    step = int(run.get("infusion_step", -1))
    initial = CARTInitial(tumor_value=0.5, cart_value=0.1, tb_fraction=float(run["tb_frac"]), dose2=float(dose),
                          t_dose2=step * dt if dose else 0.0)
    return CARTSetup(model=CARTParams().replace(**run["params"]), initial=initial, numerics=numerics)
