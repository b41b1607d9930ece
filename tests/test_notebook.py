"""notebooks/eda.ipynb runs top to bottom on the installed package."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient


@pytest.fixture(scope="module")
def notebook_path(root):
    return root / "notebooks" / "eda.ipynb"


def _text(output) -> str:
    if output.output_type == "stream":
        return output.text
    return str(output.get("data", {}).get("text/plain", ""))


def test_notebook_is_stored_without_outputs(notebook_path):
    nb = nbformat.read(notebook_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_notebook_runs_without_errors(notebook_path, shared_data_present):
    nb = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(notebook_path.parent)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert errors == []
    text = "\n".join(_text(o) for o in outputs)
    assert "locations resolved" in text
    assert "candidates kept" in text
    if shared_data_present:
        assert "potential_talents: 104 candidates" in text
    else:
        assert "skipped:" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # word cloud and score boxes at least


@pytest.fixture(scope="module")
def shared_data_present(root) -> bool:
    return (root.parent / "shared" / "data" / "potential_talents.csv").exists()
