"""Information criteria for model comparison (lower is better)."""

import numpy as np


def aic(nll, n_params: int):
    r"""Akaike's criterion $\mathrm{AIC} = 2k + 2\,\mathrm{NLL}$ (Akaike 1974)."""
    return 2 * n_params + 2 * np.asarray(nll)


def aicc(nll, n_params: int, n_obs: int):
    r"""Small-sample AIC, $\mathrm{AIC} + 2k(k+1)/(n-k-1)$ (Hurvich & Tsai 1989); inf if $n \le k+1$."""
    extra = 2 * n_params * (n_params + 1) / (n_obs - n_params - 1) if n_obs > n_params + 1 else np.inf
    return aic(nll, n_params) + extra


def bic(nll, n_params: int, n_obs: int):
    r"""Schwarz's criterion $\mathrm{BIC} = k\ln n + 2\,\mathrm{NLL}$ (Schwarz 1978)."""
    return n_params * np.log(n_obs) + 2 * np.asarray(nll)
