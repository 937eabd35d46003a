"""The figure of a 3D CAR-T scenario: means, burden per variant, final profiles, space-time maps (Figs. 4-10)."""

import numpy as np

from ._kinetics import FIELDS


def plot_cart_result(result, path) -> None:
    import matplotlib.pyplot as plt

    sol, cols = result.solution, result.columns
    t = cols["t"]
    fig, ax = plt.subplots(2, 3, figsize=(15, 8.5))
    for f in ("C", "E", "TA", "TB"):
        ax[0, 0].plot(t, cols[f"mean_{f}"], label=f)
    ax[0, 0].set(title="(a) domain means of the cells", xlabel="t [day]")
    for f in ("S", "A", "H"):
        ax[0, 1].plot(t, cols[f"mean_{f}"], label=f)
    ax[0, 1].set(title="(b) domain means of S, A, H", xlabel="t [day]")
    burdens = [k for k in cols if k.startswith("burden_")] or ["tumour_burden"]
    for k in burdens:
        ax[0, 2].plot(t, cols[k], label=k.removeprefix("burden_"))
    ax[0, 2].set(title="(c) total tumour burden (integral of T_A + T_B)", xlabel="t [day]")
    x = np.linspace(0, sol.numerics.Lx, sol.numerics.nx)
    prof = np.asarray(sol.profile_x)
    for i, f in enumerate(FIELDS[:4]):
        ax[1, 0].plot(x, prof[-1, i], label=f)
    ax[1, 0].set(title=f"(d) x-profiles through the centre at t = {t[-1]:g}", xlabel="x")
    for a in (ax[0, 0], ax[0, 1], ax[0, 2], ax[1, 0]):
        a.legend(fontsize=7)
    for a, i, name in ((ax[1, 1], 0, "C"), (ax[1, 2], 2, "T_A")):
        im = a.imshow(prof[:, i].T, origin="lower", aspect="auto", extent=(t[0], t[-1], 0, sol.numerics.Lx))
        fig.colorbar(im, ax=a)
        a.set(title=f"space-time map of {name} on the centre line", xlabel="t [day]", ylabel="x")
    fig.suptitle(f"{result.scenario.name} ({result.extra['scheme']} scheme)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
