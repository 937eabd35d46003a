"""Scenarios of seed 003: the reference runs, Secs. 3.1-3.4 in the normalised form, as data.

3D scenarios take `scheme` ("reference" or "accurate") from the CLI (`--scheme`); every parameter,
initial-condition value and numerical setting is reachable by `--set NAME=VALUE`, and the params
JSON files of `../shared/reference/cart/` are accepted by `--params`.
"""

import dataclasses
import pathlib
import time
from typing import Any, ClassVar

import numpy as np

from ..core import ODEScenario, Scenario, ScenarioResult, register
from ..core._scenario import _jsonable, write_csv
from ._homogeneous import CARTHomogeneous, healthy_stability, invasion_test, tumour_states
from ._kinetics import FIELDS
from ._params import (
    NORMALISED, NORMALISED_INITIAL, REFERENCE_CODE, CARTInitial, CARTNumerics, CARTSetup, microenvironment_variant,
    switching_variant,
)
from ._solver import SCHEMES, simulate_cart

_SRC = "seed 003 (Polyakov 2026)"


@dataclasses.dataclass
class CARTResult(ScenarioResult):
    """A scenario result that also writes `profiles_x.csv` (centre-line profiles at every save) and
    `slices_z.npz` (mid-plane slices) of the main run."""

    solution: Any = None

    def write(self, out_dir, figure: bool = True):
        paths = super().write(out_dir, figure)
        if self.solution is not None:
            sol, out = self.solution, pathlib.Path(out_dir)
            x = np.arange(sol.numerics.nx) * sol.numerics.Lx / (sol.numerics.nx - 1)
            prof = np.asarray(sol.profile_x)
            cols = {"t": np.repeat(sol.ts, len(x)), "x": np.tile(x, len(sol.ts))}
            cols.update({f: prof[:, i, :].ravel() for i, f in enumerate(FIELDS)})
            paths["profiles"] = out / "profiles_x.csv"
            write_csv(paths["profiles"], cols)
            paths["slices"] = out / "slices_z.npz"
            np.savez_compressed(paths["slices"], t=sol.ts, fields=np.array(FIELDS), slice_z=np.asarray(sol.slice_z))
        return paths


def _metrics(sol) -> dict:
    tb = np.asarray(sol.tumour_burden)
    return {"tumour_burden_initial": float(tb[0]), "tumour_burden_final": float(tb[-1]),
            "tumour_burden_min": float(tb.min()), "t_min_burden": float(sol.ts[int(tb.argmin())]),
            "antigen_negative_fraction_final": float(sol.antigen_negative_fraction[-1]),
            "max_C_final": float(sol.max[-1, 0]), "scheme_diagnostics_last": _jsonable(
                {k: np.asarray(v)[-1] for k, v in sol.diagnostics.items()})}


@dataclasses.dataclass(frozen=True, kw_only=True)
class CARTScenario(Scenario):
    """A 3D run (or a family of runs) of the CAR-T PDE model.

    `params` is a [`CARTSetup`][] (model parameters, initial condition, numerics). `variants`
    maps a label to overrides applied on top of it (each a 3D run); the first is the main run,
    whose full columns go to `timeseries.csv`; every variant adds `burden_<label>` and
    `negfrac_<label>` columns. `expected_order` lists labels by decreasing final burden, the
    paper's qualitative finding; the metrics say whether the run reproduces it.
    """

    run_options: ClassVar[tuple[str, ...]] = ("scheme",)

    params: CARTSetup
    scheme: str = "reference"
    variants: tuple[tuple[str, dict], ...] = (("main", {}),)
    expected_order: tuple[str, ...] = ()

    @property
    def model_name(self) -> str:
        return "CART3D"

    def initial_state(self):
        return self.params.initial.as_dict()

    def run(self, params=None, *, t_end=None, dtype=None, progress=False, scheme=None) -> CARTResult:
        setup = self.params if params is None else params
        scheme = self.scheme if scheme is None else scheme
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
        if t_end is not None:
            setup = setup.replace(T=t_end)
        start = time.perf_counter()
        sols = {label: simulate_cart(setup.replace(**over) if over else setup, scheme=scheme, dtype=dtype,
                                     progress=progress) for label, over in self.variants}
        wall = time.perf_counter() - start
        label0 = self.variants[0][0]
        main = sols[label0]
        columns = main.to_columns()
        metrics = {"main": _metrics(main)}
        if len(sols) > 1:
            for label, sol in sols.items():
                columns[f"burden_{label}"] = np.asarray(sol.tumour_burden)
                columns[f"negfrac_{label}"] = np.asarray(sol.antigen_negative_fraction)
            finals = {label: float(sol.tumour_burden[-1]) for label, sol in sols.items()}
            metrics["final_burden"] = finals
            metrics["final_antigen_negative_fraction"] = {
                label: float(sol.antigen_negative_fraction[-1]) for label, sol in sols.items()}
            if self.expected_order:
                got = [finals[k] for k in self.expected_order]
                metrics["expected_order"] = list(self.expected_order)
                metrics["order_reproduced"] = bool(all(a > b for a, b in zip(got, got[1:])))
        ok = all(s.ok for s in sols.values())
        msg = "success" if ok else "; ".join(f"{k}: {s.message}" for k, s in sols.items() if not s.ok)
        return CARTResult(scenario=self, params=setup, columns=columns, ok=ok, message=msg, wall_time=wall,
                          metrics=_jsonable(metrics), solution=main,
                          extra={"scheme": scheme, "numerics": setup.numerics.as_dict(),
                                 "time_units": "day", "precision": str(main.final.dtype)})

    def plot(self, result, path):
        from ._plots import plot_cart_result

        plot_cart_result(result, path)


def _n1(num: CARTNumerics, **model) -> CARTSetup:
    return CARTSetup(model=NORMALISED.replace(**model) if model else NORMALISED, initial=NORMALISED_INITIAL,
                     numerics=num)


def _code(**numerics) -> CARTSetup:
    """The code's parameters and geometry, as in the reference folder's runs."""
    return CARTSetup(model=REFERENCE_CODE, initial=CARTInitial(), numerics=CARTNumerics(**numerics))


def _changed(p) -> dict:
    """The parameters in which `p` differs from the normalised set, as overrides."""
    base = NORMALISED.as_dict()
    return {k: v for k, v in p.as_dict().items() if v != base[k]}


register(CARTScenario(
    name="cart-reference-default",
    description="the author's default run: code parameters, 40^3 vertex grid, dt 0.01, T 30 (reference scheme)",
    source=f"{_SRC}, Sec. 2.3; ../shared/reference/cart/default_*", params=_code()))

register(CARTScenario(
    name="cart-reference-small",
    description="the reference default on 16^3, T 3 (the small_default reference files; CI-sized)",
    source=f"{_SRC}; ../shared/reference/cart/small_default_*",
    params=_code(nx=16, ny=16, nz=16, T=3.0, save_every=1)))

register(CARTScenario(
    name="cart-reference-homogeneous",
    description="uniform fields C = 1e7, T_A = 2.4e7 on 3^3 (= the ODE (9)-(15)), T 200 (homog_* reference)",
    source=f"{_SRC}; ../shared/reference/cart/homog_*",
    params=CARTSetup(model=REFERENCE_CODE, initial=CARTInitial(tumor_radius=10, cart_layer=10, cart_radius=10),
                     numerics=CARTNumerics(nx=3, ny=3, nz=3, T=200.0, save_every=10))))


def _ode_metrics(model, p, sol):
    states = tumour_states(p)
    out = {"healthy_state_E0": healthy_stability(p), "tumour_states_E_T": _jsonable(states)}
    out["invasion_of_E_T"] = [_jsonable(invasion_test(p, s["state"])) for s in states]
    N = np.asarray(sol["TA"]) + np.asarray(sol["TB"])
    out["final_antigen_negative_fraction"] = float(np.asarray(sol["TB"])[-1] / N[-1])
    return out


register(ODEScenario(
    name="cart-3.1-homogeneous",
    description="Sec. 3.1, homogeneous ODE (9)-(15), normalised set: C expands, T_A falls, T_B takes over",
    source=f"{_SRC}, Sec. 3.1 and Fig. 3", model=CARTHomogeneous(), params=NORMALISED,
    y0={"C": 0.1, "E": 0.0, "TA": 0.5, "TB": 0.0, "S": 0.0, "A": 0.0, "H": 0.0}, t_span=(0.0, 100.0),
    n_save=1001, log_scale=False, metrics=_ode_metrics))

register(ODEScenario(
    name="cart-3.1-homogeneous-code",
    description="homogeneous ODE at the code's dimensional values, stiff solve (homog_ode_radau.csv)",
    source=f"{_SRC}, Sec. 3.1; ../shared/reference/cart/homog_ode_radau.csv", model=CARTHomogeneous(),
    params=REFERENCE_CODE, y0={"C": 1e7, "E": 0.0, "TA": 2.4e7, "TB": 0.0, "S": 0.0, "A": 0.0, "H": 0.0},
    t_span=(0.0, 200.0), n_save=2001, metrics=_ode_metrics))

_N20 = CARTNumerics(nx=20, ny=20, nz=20, T=30.0, save_every=10)

register(CARTScenario(
    name="cart-3.2-infiltration",
    description="Sec. 3.2, normalised, T_B = 0 (mu_0 = nu = 0): CAR-T infiltration front, partial regression, T 12",
    source=f"{_SRC}, Sec. 3.2 and Fig. 4", scheme="accurate",
    params=_n1(CARTNumerics(nx=20, ny=20, nz=20, T=12.0, save_every=10), mu_0=0.0, nu=0.0)))

register(CARTScenario(
    name="cart-3.2-regression",
    description="Sec. 3.2 with gamma = 1 (N1 otherwise), T_B = 0: infiltration, partial regression, relapse, T 30",
    source=f"{_SRC}, Sec. 3.2 and Fig. 4", scheme="reference",
    params=_n1(CARTNumerics(nx=20, ny=20, nz=20, T=30.0, save_every=10), mu_0=0.0, nu=0.0, gamma=1.0)))

register(CARTScenario(
    name="cart-3.3-heterogeneity",
    description="Sec. 3.3, normalised: T_B(0) fraction {0, 0.2, 0.5} x switching {baseline, loss, recovery}, T 30",
    source=f"{_SRC}, Sec. 3.3 and Figs. 5-7", scheme="accurate", params=_n1(_N20),
    variants=tuple((f"{reg}_{f}", {**_changed(switching_variant(NORMALISED, reg)), "tb_fraction": f})
                   for reg in ("baseline", "loss", "recovery") for f in (0.0, 0.2, 0.5)),
    expected_order=("loss_0.2", "baseline_0.2", "recovery_0.2")))


register(CARTScenario(
    name="cart-3.4-microenvironment",
    description="Sec. 3.4, normalised: baseline, enhanced A/H microenvironment, combination (attenuated + 2nd dose at t 10)",
    source=f"{_SRC}, Sec. 3.4 and Figs. 8-10", scheme="accurate", params=_n1(_N20),
    variants=(("baseline", {}), ("enhanced", _changed(microenvironment_variant(NORMALISED, "enhanced"))),
              ("combination", {**_changed(microenvironment_variant(NORMALISED, "attenuated")), "dose2": 0.1,
                               "t_dose2": 10.0})),
    expected_order=("enhanced", "baseline", "combination")))

