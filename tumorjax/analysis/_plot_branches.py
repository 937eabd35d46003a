"""Bifurcation diagrams: equilibrium branches by stability, special points, limit-cycle extrema."""

import matplotlib.pyplot as plt
import numpy as np

_LABEL = {"fold": "LP", "hopf": "HB", "branch_point": "BP"}


def _runs(mask):
    """(start, stop) index pairs of the maximal runs of equal values in `mask`."""
    edges = np.flatnonzero(np.diff(mask.astype(int))) + 1
    bounds = np.concatenate([[0], edges, [mask.size]])
    return list(zip(bounds[:-1], bounds[1:]))


def plot_branches(branches, cycles=(), state: str | None = None, ax=None, title: str = "", path=None):
    """Draw equilibrium branches of one state against the parameter, in the style of AUTO diagrams.

    Stable parts are solid red, unstable parts black (seed 004, Fig. 2); fold (LP), Hopf (HB)
    and branch points (BP) are marked; each [`CycleBranch`][tumorjax.analysis.CycleBranch] in
    `cycles` adds the cycle's minimum and maximum of the state as green dots (open where the
    cycle is unstable). `state` defaults to the first state. Returns the figure; saves it to
    `path` if given.
    """
    branches = list(branches)
    if not branches:
        raise ValueError("plot_branches needs at least one branch")
    names = branches[0].state_names
    state = names[0] if state is None else state
    if state not in names:
        raise ValueError(f"unknown state {state!r}; states: {', '.join(names)}")
    k = names.index(state)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    for b in branches:
        for i, j in _runs(b.stable):
            j = min(j + 1, b.params.size)  # join the pieces
            ax.plot(b.params[i:j], b.states[i:j, k], color="red" if b.stable[i] else "black", lw=1.6)
        for s in b.points:
            ax.plot(s.param, s.state[k], "s", ms=6, mfc="white", mec="blue")
            ax.annotate(_LABEL.get(s.kind, s.kind), (s.param, s.state[k]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8, color="blue")
    for c in cycles:
        if not len(c.cycles):
            continue
        st = c.stable
        for values in (c.minimum[:, k], c.maximum[:, k]):
            ax.plot(c.params[st], values[st], "o", ms=3, color="green")
            ax.plot(c.params[~st], values[~st], "o", ms=3, mfc="none", color="green")
    ax.set_xlabel(branches[0].param_name)
    ax.set_ylabel(state)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    fig = ax.figure if fig is None else fig
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
    return fig
