"""Figures of fits and profiles (matplotlib, no display needed)."""

import matplotlib.pyplot as plt
import numpy as np

from ..plotting import _save


def _curve(report, ax, log, colour=None, label=None):
    time, value, mask = report.data
    t0 = float(report.problem.t0)
    ts = np.linspace(t0, float(time[mask].max()), 200)
    ax.plot(time[mask], value[mask], "o", ms=3.5, color=colour, alpha=0.8)
    ax.plot(ts, report.predict(ts), "-", lw=1.3, color=colour, label=label)
    if log:
        ax.set_yscale("log")


def plot_fit(report, path=None, ax=None, log: bool = False):
    """Data and the fitted curve, with the estimates in the title."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    _curve(report, ax, log)
    values = ", ".join(f"{n}={e:.3g}" for n, e in zip(report.names, report.estimate))
    ax.set_title(f"{type(report.problem.model).__name__} {report.subject}: {values}\nAIC {report.aic:.4g}",
                 fontsize=9)
    ax.set_xlabel("t")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_subject_fits(fits, path=None, log: bool = True, columns: int = 5):
    """One small panel per subject: data and fitted curve."""
    n = len(fits.reports)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.1 * rows), squeeze=False, sharex=True)
    for ax, r in zip(axes.ravel(), fits.reports):
        _curve(r, ax, log)
        ax.set_title(f"{r.subject}  AIC {r.aic:.3g}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(f"{type(fits.reports[0].problem.model).__name__}: sum AIC {fits.aic:.5g}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_profile(profile, path=None, ax=None):
    """Profile NLL against the parameter with the confidence threshold."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 3.5))
    ax.plot(profile.values, profile.nll, "o-", ms=3)
    ax.axhline(profile.threshold, color="r", ls="--", lw=1, label=f"{100 * profile.level:g}% threshold")
    for x in (profile.lower, profile.upper):
        if np.isfinite(x):
            ax.axvline(x, color="grey", ls=":", lw=1)
    ax.set_xlabel(profile.name)
    ax.set_ylabel("profile NLL")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)
