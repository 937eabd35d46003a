"""Figures for scenario results and analyses (matplotlib, no display needed)."""

import matplotlib.pyplot as plt
import numpy as np


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
    return fig


def plot_timeseries(columns: dict, title: str = "", path=None, log: bool = True):
    """One panel per column against `t`."""
    names = [n for n in columns if n != "t"]
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.2 * len(names)), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        y = np.asarray(columns[name], dtype=float)
        ax.plot(columns["t"], y, lw=1.5)
        if log and np.all(y[np.isfinite(y)] >= 0) and np.any(y > 0):
            ax.set_yscale("symlog", linthresh=max(1e-12, float(np.nanmax(y[np.isfinite(y)])) * 1e-6))
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("t")
    axes[0, 0].set_title(title, fontsize=9)
    return _save(fig, path)


def plot_ode_result(result, path=None, log: bool = True):
    """Time series of every state; for two-state models also the phase-plane trajectory."""
    cols = result.columns
    names = [n for n in cols if n != "t"]
    two = len(names) == 2
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(11 if two else 7, 4), squeeze=False)
    ax = axes[0, 0]
    for name in names:
        ax.plot(cols["t"], cols[name], label=name, lw=1.5)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(f"t [{result.extra.get('time_units', '')}]")
    ax.legend()
    ax.grid(alpha=0.3)
    status = "" if result.ok else f"  [{result.message.split(':')[0]}]"
    ax.set_title(f"{result.scenario.name}{status}", fontsize=10)
    if two:
        ax = axes[0, 1]
        ax.plot(cols[names[0]], cols[names[1]], lw=1.2)
        ax.plot(cols[names[0]][0], cols[names[1]][0], "go", label="start")
        ax.plot(cols[names[0]][-1], cols[names[1]][-1], "rs", label="end")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.legend()
        ax.grid(alpha=0.3)
        ax.set_title("phase plane", fontsize=10)
    return _save(fig, path)


def plot_basins(basins, path=None, equilibria=None):
    """A basin-of-attraction map from [`tumorjax.analysis.basin_map`][].

    `equilibria` (from `find_equilibria`) are drawn on top: filled if stable, open if not.
    """
    fig, ax = plt.subplots(figsize=(6, 5))
    x, y, labels = basins.x, basins.y, basins.labels
    cmap = plt.get_cmap("tab10")
    colours = np.array([cmap(i % 10) for i in range(len(basins.attractors))] + [(0.7, 0.7, 0.7, 1.0)])
    img = colours[np.where(labels >= 0, labels, len(colours) - 1)]
    lx, ly = np.log10(x), np.log10(y)
    ax.imshow(img, origin="lower", aspect="auto", extent=[lx[0], lx[-1], ly[0], ly[-1]])
    for i, att in enumerate(basins.attractors):
        ax.plot([], [], "s", color=colours[i], label=f"{basins.state_names[0]}*={att[0]:.3g}, "
                f"{basins.state_names[1]}*={att[1]:.3g}")
    for e in equilibria or []:
        ex, ey = (np.log10(max(v, lo)) for v, lo in zip(e.state[:2], (x[0], y[0])))
        ax.plot(ex, ey, "o", ms=8, mec="k", mfc="k" if e.stable else "w", clip_on=False)
    ax.set_xlim(lx[0], lx[-1])
    ax.set_ylim(ly[0], ly[-1])
    ax.set_xlabel(f"log10 {basins.state_names[0]}(0)")
    ax.set_ylabel(f"log10 {basins.state_names[1]}(0)")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("basins of attraction (dots: equilibria, filled = stable)", fontsize=9)
    return _save(fig, path)


def plot_sweep(columns: dict, param: str, state_names, title: str = "", path=None):
    """Amplitude and period of each state against the swept parameter."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    x = columns[param]
    for name in state_names:
        axes[0].plot(x, columns[f"amplitude_{name}"], ".-", label=name)
        axes[1].plot(x, columns[f"period_{name}"], ".-", label=name)
    axes[0].set_ylabel("amplitude (half peak-to-peak, second half of horizon)")
    axes[1].set_ylabel("period")
    for ax in axes:
        ax.set_xlabel(param)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title(title, fontsize=10)
    return _save(fig, path)
