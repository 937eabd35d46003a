"""Loaders for the three public data sets kept in the project's `shared/data/` folder.

Each takes the folder that holds the data set's sub-folders (`data_dir`; in a source checkout
that is `../shared/data` beside the repository, which an installed package cannot know) and
returns a [`tumorjax.data.Dataset`][]. The files are read as they were published; every
caveat in their READMEs is handled here and recorded in `Dataset.meta`.
"""

import csv
import os
import pathlib

import numpy as np

from ._dataset import Dataset

#: environment variable naming the data folder when `data_dir` is not given.
DATA_DIR_ENV = "TUMORJAX_DATA"

#: Conte et al. 2025 cell-index calibration CI = a*N + b (the authors' code).
CELL_INDEX_SLOPE = 1.946e-4
CELL_INDEX_INTERCEPT = 0.1602

#: Conte 2025 conditions: label -> (time file, replicate file prefix, treatment, dose).
CONTE_CONDITIONS = {
    "untreated": ("Tpoint_Tonly.txt", "PBT030", "none", 0.0),
    "carT10": ("Time_carT10.txt", "PBT030_carT10", "CAR T, E:T", 1 / 10),
    "carT25": ("Time_carT25.txt", "PBT030_carT25", "CAR T, E:T", 1 / 25),
    "carT50": ("Time_carT50.txt", "PBT030_carT50", "CAR T, E:T", 1 / 50),
    "OV03": ("Time_OV03.txt", "PBT030_OV03", "virus, MOI", 0.03),
    "OV002": ("Time_OV002.txt", "PBT030_OV002", "virus, MOI", 0.002),
    "OV0008": ("Time_OV0008.txt", "PBT030_OV0008", "virus, MOI", 0.0008),
}


def data_dir(path=None) -> pathlib.Path:
    """The data folder: `path`, else `$TUMORJAX_DATA`, else `../shared/data` beside a source checkout."""
    if path is None:
        path = os.environ.get(DATA_DIR_ENV)
    if path is None:
        path = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"
    path = pathlib.Path(path)
    if not path.is_dir():
        raise ValueError(
            f"data folder {path} not found: pass data_dir=... (the folder holding benzekry-llc-lung/, "
            f"laleh2022-atezolizumab-lesions/, conte2025-car-ov-monotherapy/) or set ${DATA_DIR_ENV}"
        )
    return path


def _file(folder: pathlib.Path, name: str) -> pathlib.Path:
    path = folder / name
    if not path.is_file():
        raise ValueError(f"missing data file {path}")
    return path


def load_llc(data_dir_=None) -> Dataset:
    """Lewis lung carcinoma volumes of 20 untreated mice (Benzekry et al. 2014; Vaghi et al. 2020).

    188 caliper volumes [mm^3] on days 4-24 after injection of 1e6 cells (about 1 mm^3 at
    day 0). Subjects are `"mouse0"` ... `"mouse19"`, condition `"control"`.
    """
    path = _file(data_dir(data_dir_) / "benzekry-llc-lung", "lung_vol_data.txt")
    raw = np.genfromtxt(path, delimiter="\t", names=True)
    ids = raw["ID"].astype(int)
    return Dataset(
        subject=np.array([f"mouse{i}" for i in ids]),
        condition=np.full(ids.size, "control"),
        time=raw["Time"],
        value=raw["Observation"],
        unit="mm^3",
        time_unit="day",
        name="benzekry-llc-lung",
        source="Benzekry et al. 2014 PLoS Comput Biol 10:e1003800; file from cristinavaghi/plumky",
        meta={"initial_volume_prior_mm3": 1.0, "injection_day": 0.0},
    )


def load_laleh(data_dir_=None, *, zeros: str = "drop") -> Dataset:
    """Target-lesion longest diameters [mm] of 1,461 patients in 5 atezolizumab trials (Laleh et al. 2022).

    Time is `T_days` (study day; negative = baseline scan before the first dose, so the
    Dataset allows negative times); `T_weeks` is ignored (rounded, baseline forced to 0.1).
    Subjects are the patient hashes, conditions the study arms (`Study_1_Arm_1`, ...; which
    arm got which drug is NOT in the file, see the README).

    A diameter of 0 means "disappeared" or "not evaluable" (the paper's code wrote 0 for
    missing entries): with `zeros="drop"` (default) those rows are removed and counted in
    `meta["zeros_dropped"]`; `zeros="keep"` keeps them (e.g. to model them as censored).
    """
    if zeros not in ("drop", "keep"):
        raise ValueError(f"zeros must be 'drop' or 'keep', got {zeros!r}")
    path = _file(data_dir(data_dir_) / "laleh2022-atezolizumab-lesions", "flat_patient_data.csv")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    diam = np.array([float(r["Lesion_diam"]) for r in rows])
    zero = diam == 0
    keep = ~zero if zeros == "drop" else np.ones(diam.size, bool)
    pick = [r for r, k in zip(rows, keep) if k]
    pairs = [(r["Pt_hashID"], r["T_days"]) for r in pick]
    return Dataset(
        subject=np.array([r["Pt_hashID"] for r in pick]),
        condition=np.array([r["Study_Arm"] for r in pick]),
        time=np.array([float(r["T_days"]) for r in pick]),
        value=diam[keep],
        unit="mm",
        time_unit="day",
        name="laleh2022-atezolizumab-lesions",
        source="Ghaffari Laleh et al. 2022 PLoS Comput Biol 18:e1009822; file from ablaom/TumorGrowth",
        meta={"zeros_dropped": int(zero.sum()) if zeros == "drop" else 0,
              "zero_rows": int(zero.sum()),
              "duplicate_subject_day_pairs": len(pairs) - len(set(pairs)),
              "time_origin": "first dose (T_days); negative = baseline scan"},
        allow_negative_times=True,
    )


def _numbers(path: pathlib.Path) -> tuple[np.ndarray, list[str]]:
    """One number per line (CRLF); a trailing '.' after a decimal number (e.g. '0.1111.') is stripped."""
    fixed, values = [], []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text:
            continue
        if text.endswith(".") and text.count(".") == 2:
            fixed.append(f"{path.name}:{line_no} {text!r} -> {text[:-1]!r}")
            text = text[:-1]
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"{path.name}, line {line_no}: {text!r} is not a number") from None
    return np.array(values), fixed


def load_conte(data_dir_=None, *, conditions=None, negative: str = "keep") -> Dataset:
    """Glioblastoma PBT030 cell index in killing assays, 2.5-72 h (Conte et al. 2025).

    Conditions `untreated`, `carT10`/`carT25`/`carT50` (CAR T at E:T 1:10, 1:25, 1:50) and
    `OV03`/`OV002`/`OV0008` (virus at MOI 0.03, 0.002, 0.0008), three wells each; subjects are
    `"<condition>_Y<k>"`. Values are the dimensionless cell index; convert with
    [`tumorjax.data.cell_index_to_cells`][]. The malformed last entry `0.1111.` of
    `PBT030_carT10_Y3.txt` is read as 0.1111 (recorded in `meta["fixed_entries"]`).

    The virus MOI 0.03 wells go slightly below zero late on (instrument baseline):
    `negative="keep"` (default) keeps the raw index, `negative="clip"` sets negative values
    to 0. Either way `meta["negative_values"]` counts them.
    """
    if negative not in ("keep", "clip"):
        raise ValueError(f"negative must be 'keep' or 'clip', got {negative!r}")
    conditions = list(CONTE_CONDITIONS) if conditions is None else list(conditions)
    repeated = sorted({c for c in conditions if conditions.count(c) > 1})
    if repeated:
        raise ValueError(f"conditions must not repeat a label; {repeated} given more than once in {conditions}")
    unknown = sorted(set(conditions) - set(CONTE_CONDITIONS))
    if unknown:
        raise ValueError(f"unknown Conte 2025 condition(s) {unknown}; known: {list(CONTE_CONDITIONS)}")
    folder = data_dir(data_dir_) / "conte2025-car-ov-monotherapy"
    columns = {"subject": [], "condition": [], "time": [], "value": []}
    fixed, doses = [], {}
    for label in conditions:
        time_file, prefix, treatment, dose = CONTE_CONDITIONS[label]
        t, _ = _numbers(_file(folder, time_file))
        doses[label] = {"treatment": treatment, "dose": dose}
        for k in (1, 2, 3):
            v, f = _numbers(_file(folder, f"{prefix}_Y{k}.txt"))
            fixed += f
            if v.size != t.size:
                raise ValueError(f"{prefix}_Y{k}.txt has {v.size} values but {time_file} has {t.size} times")
            columns["subject"] += [f"{label}_Y{k}"] * t.size
            columns["condition"] += [label] * t.size
            columns["time"].append(t)
            columns["value"].append(v)
    value = np.concatenate(columns["value"])
    n_negative = int(np.sum(value < 0))
    if negative == "clip":
        value = np.maximum(value, 0.0)
    return Dataset(
        subject=np.array(columns["subject"]),
        condition=np.array(columns["condition"]),
        time=np.concatenate(columns["time"]),
        value=value,
        unit="cell index",
        time_unit="hour",
        name="conte2025-car-ov-monotherapy",
        source="Conte et al. 2025 (bioRxiv); files from mconte93/CAR-OV-study_ConteEtAl2025",
        meta={"fixed_entries": fixed, "negative_values": n_negative, "negative": negative, "doses": doses,
              "cell_index": f"CI = {CELL_INDEX_SLOPE:g}*N + {CELL_INDEX_INTERCEPT:g}"},
    )


def cell_index_to_cells(ci):
    """Cell number N from the cell index CI = 1.946e-4 N + 0.1602 (Conte et al. 2025 code)."""
    return (np.asarray(ci) - CELL_INDEX_INTERCEPT) / CELL_INDEX_SLOPE


def cells_to_cell_index(n):
    """The inverse of [`tumorjax.data.cell_index_to_cells`][]."""
    return CELL_INDEX_SLOPE * np.asarray(n) + CELL_INDEX_INTERCEPT
