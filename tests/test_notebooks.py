"""Every notebook in notebooks/ executes without error (small grids: TUMORJAX_NOTEBOOK_SMALL=1).

The kernel is "python3", which nbclient resolves to the kernelspec of the interpreter running
pytest when ipykernel is installed in its environment (the repository's .venv), so the notebook
sees the same tumorjax install as the tests.
"""

import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.long_file  # 6-8 min in all on the 2-core machine

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("TUMORJAX_NOTEBOOK_SMALL", "1")  # the kernel inherits os.environ
    nb = nbformat.read(path, as_version=4)
    # a last cell (in memory only) reports the kernel's interpreter
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    kernel_prefix = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert kernel_prefix == sys.prefix, f"kernel ran in {kernel_prefix}, tests in {sys.prefix}"


def test_notebooks_are_committed_without_outputs():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, (
                    f"{path.name} has stored outputs; clear them before committing"
                )
