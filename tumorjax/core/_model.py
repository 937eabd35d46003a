"""The ODE model interface shared by every ODE family."""

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._params import Parameters


class ODEModel(eqx.Module):
    """An ODE model: a vector field over named states plus a parameter class.

    Subclasses set the class attributes `state_names`, `params_class` and `stiff`, and
    implement [`tumorjax.ODEModel.vector_field`][]. Structural choices (which functional
    response, which growth law) are static fields of the model; everything one might
    differentiate or sweep lives in the parameter pytree.
    """

    state_names: ClassVar[tuple[str, ...]]
    params_class: ClassVar[type[Parameters]]
    #: whether [`tumorjax.simulate`][] should default to an implicit solver.
    stiff: ClassVar[bool] = False
    #: whether every state is a population (must start non-negative).
    nonnegative: ClassVar[bool] = True
    #: the unit of t.
    time_units: ClassVar[str] = "day"

    @abc.abstractmethod
    def vector_field(self, t, y: Float[Array, " n"], p: Parameters) -> Float[Array, " n"]:
        """dy/dt at time `t`."""

    def default_params(self) -> Parameters:
        """The model's default parameter set."""
        return self.params_class()

    def jump_times(self) -> Float[Array, " k"] | None:
        """Times where the vector field is discontinuous (e.g. dosing switches), or None."""
        return None

    def state_scale(self, p: Parameters) -> Float[Array, " n"]:
        """A typical magnitude of each state, used to box the equilibrium search."""
        return jnp.ones(len(self.state_names))

    @property
    def n_states(self) -> int:
        return len(self.state_names)

    def state_index(self, name: str) -> int:
        try:
            return self.state_names.index(name)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__} has no state {name!r}; states: {', '.join(self.state_names)}"
            ) from None

    def __call__(self, t, y, p):
        return self.vector_field(t, y, p)


class DDEModel(eqx.Module):
    """A delay model: dy/dt = f(t, y(t), y(t - tau_1), ..., y(t - tau_k)).

    Subclasses set `state_names` and `params_class`, implement `vector_field(t, y, y_delayed, p)`
    with `y_delayed` of shape `(n_delays, n_states)`, and `delays(p)` returning the constant
    delays (traced, so they can be swept with `vmap` and differentiated).
    """

    state_names: ClassVar[tuple[str, ...]]
    params_class: ClassVar[type[Parameters]]
    nonnegative: ClassVar[bool] = True
    time_units: ClassVar[str] = "day"

    @abc.abstractmethod
    def vector_field(self, t, y, y_delayed, p: Parameters):
        """dy/dt given the current state and the delayed states."""

    @abc.abstractmethod
    def delays(self, p: Parameters) -> Float[Array, " k"]:
        """The constant delays, shape `(n_delays,)`."""

    def default_params(self) -> Parameters:
        return self.params_class()

    @property
    def n_states(self) -> int:
        return len(self.state_names)
