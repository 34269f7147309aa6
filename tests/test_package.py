"""Tests for the package surface (graphrec/__init__.py): lazy imports and the public names."""

from __future__ import annotations

import json
import subprocess
import sys

import graphrec as gr

HEAVY = ("matplotlib", "plotly", "torch", "torch_geometric", "sklearn")


def _modules_after(code: str) -> set[str]:
    """Top-level modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_graphrec_loads_no_heavy_module():
    loaded = _modules_after("import graphrec")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_data_layer_loads_no_torch_or_sklearn():
    """gr.datasets / gr.splits / gr.Interactions (what `graphrec datasets` needs) stay light."""
    loaded = _modules_after(
        "import graphrec as gr\n"
        "gr.datasets.available(); gr.splits.random_holdout; gr.Interactions; gr.IdMap; gr.Dataset\n"
        "import graphrec.exceptions"
    )
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_viz_import_loads_no_plotting_library():
    loaded = _modules_after("import graphrec as gr\ngr.viz.neighborhood")
    assert not loaded & {"matplotlib", "plotly"}, sorted(loaded & {"matplotlib", "plotly"})


def test_every_public_name_resolves():
    assert gr.__version__ == "0.1.0"
    for name in gr.__all__:
        assert getattr(gr, name) is not None, name
    assert set(gr.__all__) <= set(dir(gr))
    assert set(gr.__all__) == {*gr._LAZY, "__version__"}
    from graphrec.models import LightGCN

    assert gr.LightGCN is LightGCN
    from sklearn.exceptions import NotFittedError

    assert gr.NotFittedError is NotFittedError


def test_datasets_and_splits_namespaces():
    """The API contract's gr.datasets.* and gr.splits.* names (their shims are gone)."""
    for name in ("load", "available", "data_roots", "concat_interactions", "synthetic", "Dataset"):
        assert callable(getattr(gr.datasets, name)), name
    assert gr.datasets.Dataset is gr.Dataset
    for name in ("random_holdout", "leave_last_out", "temporal_split", "validation_split", "Split"):
        assert callable(getattr(gr.splits, name)), name
    assert gr.splits.Split is gr.Split
    from graphrec import datasets, splits

    assert datasets is gr.datasets and splits is gr.splits
    ds = gr.datasets.synthetic(n_users=20, n_items=15, random_state=0)
    assert isinstance(ds, gr.Dataset)


def test_unknown_attribute_raises_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no_such_name"):
        gr.no_such_name  # noqa: B018
    with pytest.raises(AttributeError, match="no_such_name"):
        gr.datasets.no_such_name  # noqa: B018
