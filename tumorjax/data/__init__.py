"""Measured data in one tidy form (subject, condition, time, value, unit) and loaders for the shared data sets."""

from ._dataset import COLUMNS, Dataset, read_csv
from ._loaders import (
    CONTE_CONDITIONS, DATA_DIR_ENV, cell_index_to_cells, cells_to_cell_index, data_dir, load_conte, load_laleh,
    load_llc,
)

#: loader by short name (the CLI's `--data`).
LOADERS = {"llc": load_llc, "laleh": load_laleh, "conte": load_conte}
