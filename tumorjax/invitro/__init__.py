"""In vitro killing assays: tumour cells under CAR-T cells or an oncolytic virus (Conte et al. 2025).

[`CAROV`][] joins the authors' CAR-T and virus modules in one ODE (cells and hours); [`Wells`][]
turns a [`tumorjax.data.load_conte`][] dataset into padded series with each well's initial state
from its dose and first reading; [`fit_wells`][] fits the shared parameters to many wells at once
(Fisher standard errors) and [`rmse_table`][] / [`replicate_spread`][] measure how well a fit
predicts held-out replicates against the replicate-to-replicate floor.
"""

from ._fit import (
    CONTE_GROUPS, CONTE_START, DEFAULT_FIT, WellsFit, WellsProblem, fit_wells, replicate_spread, rmse_table,
    wells_fisher_information,
)
from ._model import CAROV, CAROVParams
from ._wells import TREATMENTS, Wells, well_initial_state
