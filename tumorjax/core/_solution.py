"""The result of a solve: named states, a status and a message saying what went wrong."""

import enum

import equinox as eqx
import numpy as np
from jaxtyping import Array, Float, Int


class Status(enum.IntEnum):
    """Outcome of a solve; anything but `SUCCESS` is a failure."""

    SUCCESS = 0
    MAX_STEPS = 1
    NONFINITE = 2
    STEP_SIZE = 3
    SOLVER_FAILURE = 4
    SHORT_HORIZON = 5


_MESSAGES = {
    Status.SUCCESS: "success",
    Status.MAX_STEPS: "the maximum number of solver steps was reached (stiff model, blow-up, or too "
    "short max_steps)",
    Status.NONFINITE: "the solution or its vector field became non-finite (NaN or inf)",
    Status.STEP_SIZE: "the step size fell below its minimum",
    Status.SOLVER_FAILURE: "the solver failed (e.g. a Newton iteration of an implicit step did not converge)",
    Status.SHORT_HORIZON: "the steps taken end before t1 (n_intervals too small for this delay)",
}


class Solution(eqx.Module):
    """Time series of a solve, with named access: `sol["T"]`, `sol.final("T")`.

    Under `vmap` every array gains leading batch axes; `status` then has those axes too.
    Save points after a failure hold `inf`, as in diffrax.
    """

    ts: Float[Array, "*batch n"]
    ys: Float[Array, "*batch n d"]
    status: Int[Array, "*batch"]
    t_stop: Float[Array, "*batch"]
    stats: dict
    state_names: tuple[str, ...] = eqx.field(static=True)

    def __getitem__(self, name: str) -> Float[Array, "*batch n"]:
        if name not in self.state_names:
            raise KeyError(f"no state {name!r}; states: {', '.join(self.state_names)}")
        return self.ys[..., self.state_names.index(name)]

    def final(self, name: str | None = None):
        """The state at the last save time (one state if `name` is given)."""
        y = self.ys[..., -1, :]
        return y if name is None else y[..., self.state_names.index(name)]

    @property
    def ok(self) -> bool:
        """Whether every solve in the batch succeeded."""
        return bool(np.all(np.asarray(self.status) == Status.SUCCESS))

    @property
    def message(self) -> str:
        """A sentence on the outcome; for a batch, on the first failure."""
        status = np.atleast_1d(np.asarray(self.status)).ravel()
        t_stop = np.atleast_1d(np.asarray(self.t_stop)).ravel()
        failed = np.flatnonzero(status != Status.SUCCESS)
        if failed.size == 0:
            return "success"
        i = failed[0]
        where = f" (batch element {i} of {status.size}; {failed.size} failed)" if status.size > 1 else ""
        return f"{Status(int(status[i])).name}: {_MESSAGES[Status(int(status[i]))]}; stopped at t = {t_stop[i]:.6g}{where}"

    def raise_if_failed(self) -> "Solution":
        if not self.ok:
            raise RuntimeError(f"solve failed: {self.message}")
        return self

    def to_columns(self) -> dict[str, np.ndarray]:
        """`{"t": ..., state: ...}` as NumPy arrays (unbatched solutions only)."""
        if np.ndim(self.ts) != 1:
            raise ValueError("to_columns needs an unbatched solution")
        out = {"t": np.asarray(self.ts)}
        out.update({n: np.asarray(self.ys[:, i]) for i, n in enumerate(self.state_names)})
        return out
