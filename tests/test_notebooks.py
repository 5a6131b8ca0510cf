"""Every notebook runs top to bottom (quick configuration) and is committed without outputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: What a quick run must print: 02's Bort cells run in quick mode too (Bort is in its space).
#: A quick run learns almost nothing, so it must say so ("QUICK"), and 01 and 02 show the
#: committed full run's figures beside it ("committed full run"); the latency table's quality
#: is printed beside every tie band and Bort verdict.
EXPECTED_OUTPUT = {
    "01_quickstart": ["pick:", "reference T:", "QUICK", "committed full run"],
    "02_reproduce_bort": ["Bort: rank", "W = ", "QUICK", "committed full run", "latency"],
    "03_your_model_your_hardware": ["pick:", "QUICK", "tie band;", "latency"],
    "04_search_pretrain_finetune": ["pick:", "pretrained:", "agora test accuracy"],
}

#: Warnings that mean a notebook renders badly in Jupyter (tqdm without ipywidgets).
BAD_OUTPUT = ["IProgress not found", "TqdmWarning"]

#: Keywords and options of the search API before `SearchConfig`; none may come back.
REMOVED_API = re.compile(
    r"\b(base_steps|include_embeddings|error_options|latency_options)\b"
    r"|\binterval\s*="
    r"|--base-steps|--interval"
)


def code_of(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_the_notebooks_are_there() -> None:
    names = [n.name for n in NOTEBOOKS]
    for name in (
        "01_quickstart.ipynb",
        "02_reproduce_bort.ipynb",
        "03_your_model_your_hardware.ipynb",
        "04_search_pretrain_finetune.ipynb",
    ):
        assert name in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name} has outputs"
            assert cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_the_public_api(path: Path) -> None:
    code = code_of(path)
    private = re.findall(r"^\s*(?:from|import)\s+(bortnas\.\S+)", code, flags=re.MULTILINE)
    assert not private, f"{path.name} imports {private}; use what `bortnas` exports"
    removed = [m.group(0) for m in REMOVED_API.finditer(code)]
    assert not removed, f"{path.name} uses the removed search API: {removed}"
    assert "SearchConfig(" in code, f"{path.name} does not describe its search with SearchConfig"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BORTNAS_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute(env={**os.environ})  # a failing cell raises CellExecutionError
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    errors = [output for output in outputs if output.get("output_type") == "error"]
    assert not errors
    printed = "\n".join(
        output.get("text", "") or output.get("data", {}).get("text/plain", "") for output in outputs
    )
    for expected in EXPECTED_OUTPUT.get(path.stem, []):
        assert expected in printed, f"{path.name} printed no {expected!r}"
    for bad in BAD_OUTPUT:
        assert bad not in printed, f"{path.name} printed {bad!r}"
