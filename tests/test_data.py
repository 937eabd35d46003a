"""Data loaders and the tidy Dataset (float64 for the values; no JAX involved).

Counts are the ones stated in each data set's README under ../shared/data.
"""

import numpy as np
import pytest

from tumorjax.data import (
    Dataset, cell_index_to_cells, cells_to_cell_index, data_dir, load_conte, load_laleh, load_llc, read_csv,
)


@pytest.fixture
def data(shared):
    return shared / "data"


def test_llc_matches_readme(data):
    d = load_llc(data)
    assert len(d) == 188 and len(d.subjects) == 20 and d.unit == "mm^3" and d.time_unit == "day"
    counts = [int(np.sum(d.subject == s)) for s in d.subjects]
    assert min(counts) == 7 and max(counts) == 13
    assert d.time.min() == 4 and d.time.max() == 24
    assert 13.9 < d.value.min() < 14.1 and 2247 < d.value.max() < 2248
    t, v = d.series("mouse0")
    assert t[0] == 7.0 and np.isclose(v[0], 50.02179539848303) and np.all(np.diff(t) > 0)


def test_laleh_zeros_and_negative_times(data):
    kept = load_laleh(data, zeros="keep")
    assert len(kept) == 8416 and len(kept.subjects) == 1461 and len(kept.conditions) == 14
    assert kept.meta["zero_rows"] == 370 and kept.meta["duplicate_subject_day_pairs"] == 7
    assert kept.time.min() == -48 and kept.time.max() == 758  # T_days, baseline scans negative
    dropped = load_laleh(data)
    assert len(dropped) == 8416 - 370 and dropped.meta["zeros_dropped"] == 370 and np.all(dropped.value > 0)
    assert len(dropped.subjects) == 1461  # nobody has only zeros
    with pytest.raises(ValueError, match="zeros must be"):
        load_laleh(data, zeros="censor")


def test_conte_caveats(data):
    d = load_conte(data)
    assert len(d.conditions) == 7 and len(d.subjects) == 21 and d.time_unit == "hour"
    points = {"untreated": 274, "carT10": 271, "carT25": 270, "carT50": 268, "OV03": 269, "OV002": 271,
              "OV0008": 270}
    for c, n in points.items():
        assert np.sum(d.condition == c) == 3 * n
    t, v = d.series("carT10_Y3")
    assert v[-1] == 0.1111  # the malformed trailing '0.1111.'
    assert d.meta["fixed_entries"] == ["PBT030_carT10_Y3.txt:271 '0.1111.' -> '0.1111'"]
    assert d.meta["negative_values"] == 97 and np.isclose(d.value.min(), -0.1178, atol=5e-5)
    assert np.isclose(d.time.min(), 2.5, atol=0.01) and np.isclose(d.time.max(), 72.09, atol=0.01)
    clipped = load_conte(data, conditions=["OV03"], negative="clip")
    assert clipped.value.min() == 0 and clipped.meta["negative_values"] == 97
    with pytest.raises(ValueError, match="unknown Conte 2025 condition"):
        load_conte(data, conditions=["carT5"])
    with pytest.raises(ValueError, match=r"\['OV03'\] given more than once"):
        load_conte(data, conditions=["OV03", "untreated", "OV03"])
    # a selection keeps the loader's counts, which describe the full load (all 97 negatives are OV03 readings)
    untreated = d.select(conditions=["untreated"])
    assert np.all(untreated.value >= 0) and untreated.meta["negative_values"] == 97
    assert untreated.meta["rows_loaded"] == len(d) == 3 * sum(points.values())
    with pytest.raises(ValueError, match="negative must be"):
        load_conte(data, negative="shift")


def test_cell_index_conversion():
    assert cell_index_to_cells(0.1602) == 0.0
    assert np.isclose(cell_index_to_cells(1.946e-4 * 1e4 + 0.1602), 1e4)
    n = np.array([0.0, 5e3, 2e4])
    assert np.allclose(cell_index_to_cells(cells_to_cell_index(n)), n)


def test_missing_data_dir(tmp_path):
    with pytest.raises(ValueError, match="data folder .* not found"):
        data_dir(tmp_path / "nope")
    with pytest.raises(ValueError, match="missing data file"):
        load_llc(tmp_path)


def _dataset(**kw):
    base = dict(subject=["a", "a", "b"], condition=["x", "x", "x"], time=[0.0, 1.0, 0.5], value=[1.0, 2.0, 3.0],
                unit="mm", name="toy")
    return Dataset(**{**base, **kw})


def test_dataset_validation():
    with pytest.raises(ValueError, match=r"negative times in 1 row\(s\) \[1\]"):
        _dataset(time=[0.0, -1.0, 0.5])
    assert _dataset(time=[0.0, -1.0, 0.5], allow_negative_times=True).time.min() == -1
    with pytest.raises(ValueError, match=r"'value' has NaN or infinite values in 1 row\(s\) \[2\]"):
        _dataset(value=[1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="'time' has NaN"):
        _dataset(time=[0.0, np.inf, 1.0])
    with pytest.raises(ValueError, match="column 'value' must be 1D with the length"):
        _dataset(value=[1.0, 2.0])
    with pytest.raises(ValueError, match="must be numeric"):
        _dataset(value=["1", "x", "2"])
    with pytest.raises(ValueError, match="has no subject"):
        _dataset().select(subjects=["c"])


def test_padded_and_select():
    d = _dataset()
    pad = d.padded()
    assert pad["time"].shape == (2, 2) and pad["mask"].tolist() == [[True, True], [True, False]]
    assert pad["time"][1].tolist() == [0.5, 0.5]  # padding repeats the last time (non-decreasing grid)
    assert d.select(subjects="b").value.tolist() == [3.0]
    d = _dataset(meta={"dropped": [7]})
    b = d.select(subjects="b")
    b.meta["dropped"].append(8)  # a copy: the full load's meta is untouched
    assert d.meta == {"dropped": [7]} and b.meta == {"dropped": [7, 8], "rows_loaded": 3}
    assert b.select(subjects="b").meta["rows_loaded"] == 3  # still the full load's row count


def test_read_csv_roundtrip_and_errors(tmp_path):
    d = _dataset()
    back = read_csv(d.to_csv(tmp_path / "d.csv"))
    assert back.subject.tolist() == d.subject.tolist() and np.array_equal(back.value, d.value)
    assert back.unit == "mm" and back.condition.tolist() == ["x", "x", "x"]
    (tmp_path / "nan.csv").write_text("subject,time,value\na,0,1\na,1,\n")
    with pytest.raises(ValueError, match=r"'value' has NaN .* \[1\]"):
        read_csv(tmp_path / "nan.csv")
    (tmp_path / "neg.csv").write_text("subject,time,value\na,-2,1\na,1,2\n")
    with pytest.raises(ValueError, match="negative times"):
        read_csv(tmp_path / "neg.csv")
    assert read_csv(tmp_path / "neg.csv", allow_negative_times=True).condition.tolist() == ["all", "all"]
    (tmp_path / "cols.csv").write_text("id,time,value\na,0,1\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['subject'\]"):
        read_csv(tmp_path / "cols.csv")
    (tmp_path / "units.csv").write_text("subject,time,value,unit\na,0,1,mm\na,1,2,cm\n")
    with pytest.raises(ValueError, match="one quantity per file"):
        read_csv(tmp_path / "units.csv")
    (tmp_path / "text.csv").write_text("subject,time,value\na,0,big\n")
    with pytest.raises(ValueError, match="'big' is not a number"):
        read_csv(tmp_path / "text.csv")
    with pytest.raises(ValueError, match="no such data file"):
        read_csv(tmp_path / "absent.csv")
