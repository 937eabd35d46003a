r"""Normal forms of the codimension-one bifurcations of equilibria, as tumorjax models.

Their bifurcation points, branches and limit cycles are known exactly, so they test the
continuation code (Kuznetsov 2004, *Elements of Applied Bifurcation Theory*, Ch. 3):

- fold: $\dot x = \mu + a - x^2$, fold at $\mu = -a$, $x = 0$; $x = \sqrt{\mu + a}$ stable;
- transcritical: $\dot x = (\mu - a)x - x^2$, branch point at $\mu = a$, $x = 0$, where the
  branches $x = 0$ and $x = \mu - a$ exchange stability;
- Hopf (supercritical): $\dot x = (\mu - a)x - \omega y - x r^2$,
  $\dot y = \omega x + (\mu - a)y - y r^2$, $r^2 = x^2 + y^2$: Hopf at $\mu = a$ with
  frequency $\omega$; for $\mu > a$ the stable limit cycle $r = \sqrt{\mu - a}$ of period $2\pi/\omega$.
"""

from typing import ClassVar

import jax.numpy as jnp

from ..core import ODEModel, Parameters, param

_NF = "Kuznetsov 2004, Elements of Applied Bifurcation Theory, Ch. 3"


class NormalFormParams(Parameters):
    """The unfolding parameter `mu`, the shift `a` of the bifurcation point, the Hopf frequency `omega`."""

    mu: float = param(-1.0, "-", "unfolding (continuation) parameter", _NF, lower=None)
    a: float = param(0.0, "-", "shift of the bifurcation point", _NF, lower=None)
    omega: float = param(1.0, "1/time", "Hopf frequency", _NF, strict=True)


class _NormalForm(ODEModel):
    params_class: ClassVar = NormalFormParams
    nonnegative: ClassVar = False
    time_units: ClassVar = "-"


class FoldNormalForm(_NormalForm):
    r"""$\dot x = \mu + a - x^2$."""

    state_names: ClassVar = ("x",)

    def vector_field(self, t, y, p):
        return jnp.stack([p.mu + p.a - y[0] ** 2])


class TranscriticalNormalForm(_NormalForm):
    r"""$\dot x = (\mu - a)x - x^2$."""

    state_names: ClassVar = ("x",)

    def vector_field(self, t, y, p):
        return jnp.stack([(p.mu - p.a) * y[0] - y[0] ** 2])


class HopfNormalForm(_NormalForm):
    r"""$\dot x = (\mu - a)x - \omega y - x r^2$, $\dot y = \omega x + (\mu - a)y - y r^2$."""

    state_names: ClassVar = ("x", "y")

    def vector_field(self, t, y, p):
        r2 = y[0] ** 2 + y[1] ** 2
        m = p.mu - p.a
        return jnp.stack([m * y[0] - p.omega * y[1] - y[0] * r2, p.omega * y[0] + m * y[1] - y[1] * r2])
