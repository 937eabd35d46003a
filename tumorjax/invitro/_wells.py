"""Wells of a killing assay as arrays for a joint fit: series, masks and each well's initial state."""

import dataclasses

import numpy as np

from ..data import Dataset
from ..data._loaders import CELL_INDEX_INTERCEPT, cell_index_to_cells

#: treatments of `load_conte(...).meta["doses"]` and the state each dose seeds.
TREATMENTS = {"none": None, "CAR T, E:T": "C", "virus, MOI": "V"}


def well_initial_state(cell_index0: float, treatment: str, dose: float) -> np.ndarray:
    r"""The initial state `(T, I, V, C)` [cells, cells, virions, cells] of a well at its first reading.

    $T_0$ is the cell number of the first cell index (the authors start therapy at the first
    time point); a CAR-T well gets $C_0 = (E{:}T)\,T_0$, a virus well $V_0 = \mathrm{MOI}\,T_0$
    (MOI = infectious virions per tumour cell); $I_0 = 0$.
    """
    if treatment not in TREATMENTS:
        raise ValueError(f"unknown treatment {treatment!r}; known: {list(TREATMENTS)}")
    if not (np.isfinite(dose) and dose >= 0):
        raise ValueError(f"dose (E:T ratio or MOI) must be finite and >= 0, got {dose}")
    T0 = float(cell_index_to_cells(cell_index0))
    if not T0 > 0:
        raise ValueError(f"first cell index {cell_index0:g} is at or below the zero-cell baseline "
                         f"{CELL_INDEX_INTERCEPT:g}: no tumour cells to start from")
    y0 = np.array([T0, 0.0, 0.0, 0.0])
    state = TREATMENTS[treatment]
    if state is not None:
        y0["TIVC".index(state)] = dose * T0
    return y0


@dataclasses.dataclass(frozen=True)
class Wells:
    """Wells on one padded grid: `time`, `value` (cell index), `mask` of shape `(S, n)`, `y0` `(S, 4)`.

    The first reading of each well sets its initial state and is masked out of fits and errors
    (the model reproduces it by construction). Padded points (shorter series) are masked too.
    """

    subjects: np.ndarray
    conditions: np.ndarray
    time: np.ndarray
    value: np.ndarray
    mask: np.ndarray
    y0: np.ndarray

    @property
    def n_obs(self) -> int:
        return int(self.mask.sum())

    @classmethod
    def from_dataset(cls, dataset: Dataset, replicates=None, conditions=None) -> "Wells":
        """The wells of a [`tumorjax.data.load_conte`][] dataset, optionally only some replicates/conditions.

        `replicates` are suffixes such as `("Y1", "Y2")` of the subject ids `"<condition>_Y<k>"`.
        The treatment and dose of each condition come from `dataset.meta["doses"]`.
        """
        if not isinstance(dataset, Dataset):
            raise TypeError(f"dataset must be a tumorjax.data.Dataset, got {type(dataset).__name__}")
        doses = dataset.meta.get("doses")
        if doses is None:
            raise ValueError("dataset.meta has no 'doses' {condition: {'treatment', 'dose'}}; load it with "
                             "tumorjax.data.load_conte")
        if conditions is not None:
            dataset = dataset.select(conditions=conditions)
        subjects = dataset.subjects
        if replicates is not None:
            replicates = [replicates] if isinstance(replicates, str) else list(replicates)
            subjects = [s for s in subjects if s.rsplit("_", 1)[-1] in replicates]
            found = {s.rsplit("_", 1)[-1] for s in subjects}
            if set(replicates) - found:
                raise ValueError(f"no well of replicate(s) {sorted(set(replicates) - found)}; subjects look "
                                 f"like {dataset.subjects[:3]}")
        pad = dataset.padded(subjects)
        cond = np.array([dataset.condition[dataset.subject == s][0] for s in subjects])
        y0 = np.stack([well_initial_state(pad["value"][i, 0], doses[c]["treatment"], doses[c]["dose"])
                       for i, c in enumerate(cond)])
        mask = pad["mask"].copy()
        mask[:, 0] = False
        return cls(subjects=pad["subjects"], conditions=cond, time=pad["time"], value=pad["value"], mask=mask,
                   y0=y0)
