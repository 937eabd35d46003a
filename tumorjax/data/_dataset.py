"""`Dataset`: longitudinal measurements in one tidy form (subject, condition, time, value, unit)."""

import copy
import csv
import dataclasses
import pathlib
from typing import Any

import numpy as np

#: the columns every tidy CSV has (`condition` and `unit` may be left out; see `read_csv`).
COLUMNS = ("subject", "condition", "time", "value", "unit")


def _rows(mask) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:8])
    return f"{idx.size} row(s) [{shown}{', ...' if idx.size > 8 else ''}]"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Measurements of one quantity: one row per (subject, time), as NumPy columns.

    **Fields:**

    - `subject`, `condition`: string arrays, shape `(n,)` (a subject is one series: a mouse,
      a patient's lesion, a well).
    - `time`: float array `(n,)` in `time_unit`; `value`: float array `(n,)` in `unit`.
    - `name`, `source`: what the data are and where they come from (paper, repository).
    - `meta`: anything else a loader wants to record (rows dropped, conversions, doses). `select`
      copies it unchanged, so its counts describe the full load; a selection records the number of
      rows of that load in `meta["rows_loaded"]`.
    - `allow_negative_times`: accept times before 0 (e.g. baseline scans before treatment).

    Validation runs at construction: equal lengths, finite times and values, and (unless
    allowed) no negative times; the message names the offending rows.
    """

    subject: np.ndarray
    condition: np.ndarray
    time: np.ndarray
    value: np.ndarray
    unit: str
    time_unit: str = "day"
    name: str = ""
    source: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    allow_negative_times: bool = False

    def __post_init__(self):
        n = np.shape(self.time)[0] if np.ndim(self.time) == 1 else -1
        for field in ("subject", "condition", "time", "value"):
            column = np.asarray(getattr(self, field))
            if column.ndim != 1 or column.shape[0] != n:
                raise ValueError(
                    f"Dataset {self.name!r}: column {field!r} must be 1D with the length of 'time' "
                    f"({n}), got shape {column.shape}"
                )
        object.__setattr__(self, "subject", np.asarray(self.subject).astype(str))
        object.__setattr__(self, "condition", np.asarray(self.condition).astype(str))
        for field in ("time", "value"):
            try:
                column = np.asarray(getattr(self, field), dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"Dataset {self.name!r}: column {field!r} must be numeric ({e})") from None
            bad = ~np.isfinite(column)
            if bad.any():
                raise ValueError(
                    f"Dataset {self.name!r}: column {field!r} has NaN or infinite values in {_rows(bad)}; "
                    f"drop those rows (missing measurements) before building the Dataset"
                )
            object.__setattr__(self, field, column)
        if not self.allow_negative_times and np.any(self.time < 0):
            raise ValueError(
                f"Dataset {self.name!r}: negative times in {_rows(self.time < 0)} (min {self.time.min():g} "
                f"{self.time_unit}); times must be >= 0. If they are relative to an event such as the "
                f"start of treatment, pass allow_negative_times=True"
            )

    def __len__(self) -> int:
        return self.time.shape[0]

    @property
    def subjects(self) -> list[str]:
        """Subject ids in order of first appearance."""
        return list(dict.fromkeys(self.subject.tolist()))

    @property
    def conditions(self) -> list[str]:
        """Condition labels in order of first appearance."""
        return list(dict.fromkeys(self.condition.tolist()))

    def select(self, subjects=None, conditions=None) -> "Dataset":
        """The rows of the given subject ids and/or condition labels (a list or one string)."""
        keep = np.ones(len(self), bool)
        for column, wanted, what in ((self.subject, subjects, "subject"), (self.condition, conditions, "condition")):
            if wanted is None:
                continue
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            unknown = sorted(set(wanted) - set(column.tolist()))
            if unknown:
                known = list(dict.fromkeys(column.tolist()))
                raise ValueError(f"Dataset {self.name!r} has no {what} {unknown}; known: {known[:20]}"
                                 f"{' ...' if len(known) > 20 else ''}")
            keep &= np.isin(column, wanted)
        return self._take(keep)

    def _take(self, keep) -> "Dataset":
        meta = {**copy.deepcopy(self.meta), "rows_loaded": self.meta.get("rows_loaded", len(self))}
        return dataclasses.replace(
            self, subject=self.subject[keep], condition=self.condition[keep], time=self.time[keep],
            value=self.value[keep], meta=meta,
        )

    def series(self, subject: str) -> tuple[np.ndarray, np.ndarray]:
        """`(time, value)` of one subject, sorted by time."""
        rows = self.subject == subject
        if not rows.any():
            raise ValueError(f"Dataset {self.name!r} has no subject {subject!r}")
        order = np.argsort(self.time[rows], kind="stable")
        return self.time[rows][order], self.value[rows][order]

    def padded(self, subjects=None) -> dict[str, np.ndarray]:
        """Every subject's series on one rectangular array, for vmapped fits.

        Returns `time`, `value` of shape `(n_subjects, max_points)` and a boolean `mask`
        (True on real points). A short series is padded by repeating its last time with
        value 1 and mask False, so the padded time grid stays non-decreasing (a valid save
        grid for `simulate`) and padded points carry no weight.
        """
        subjects = self.subjects if subjects is None else list(subjects)
        series = [self.series(s) for s in subjects]
        width = max(t.size for t, _ in series)
        time = np.empty((len(series), width))
        value = np.ones((len(series), width))
        mask = np.zeros((len(series), width), bool)
        for i, (t, v) in enumerate(series):
            time[i, : t.size], time[i, t.size:] = t, t[-1]
            value[i, : t.size] = v
            mask[i, : t.size] = True
        return {"subjects": np.asarray(subjects), "time": time, "value": value, "mask": mask}

    def to_csv(self, path) -> pathlib.Path:
        """Write the tidy CSV (`subject,condition,time,value,unit`) that `read_csv` reads."""
        path = pathlib.Path(path)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for row in zip(self.subject, self.condition, self.time, self.value):
                w.writerow([row[0], row[1], repr(float(row[2])), repr(float(row[3])), self.unit])
        return path

    def describe(self) -> str:
        """One line: size, subjects, conditions, time range and units."""
        return (f"{self.name or 'dataset'}: {len(self)} observations, {len(self.subjects)} subjects, "
                f"{len(self.conditions)} condition(s), time {self.time.min():g}..{self.time.max():g} "
                f"{self.time_unit}, value {self.value.min():g}..{self.value.max():g} {self.unit}")


def read_csv(path, *, time_unit: str = "day", allow_negative_times: bool = False, name: str | None = None) -> Dataset:
    """A user's own data from a tidy CSV: columns `subject`, `time`, `value` (required) and
    `condition`, `unit` (optional; default `"all"` and `""`).

    Empty cells in `time` or `value` are an error (NaN); so are negative times unless
    `allow_negative_times=True`, and a file with several units.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"no such data file: {path}")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in ("subject", "time", "value") if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; a tidy CSV has {', '.join(COLUMNS)} "
                             f"(condition and unit optional), found {header}")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader]

    def number(text):
        try:
            return float(text) if text != "" else np.nan
        except ValueError:
            raise ValueError(f"{path}: {text!r} is not a number") from None

    units = sorted({r.get("unit", "") for r in rows})
    if len(units) > 1:
        raise ValueError(f"{path}: one quantity per file; found units {units}")
    return Dataset(
        subject=np.array([r["subject"] for r in rows], dtype=str),
        condition=np.array([r.get("condition") or "all" for r in rows], dtype=str),
        time=np.array([number(r["time"]) for r in rows]),
        value=np.array([number(r["value"]) for r in rows]),
        unit=units[0] if units else "",
        time_unit=time_unit,
        name=name or path.stem,
        source=str(path),
        allow_negative_times=allow_negative_times,
    )
