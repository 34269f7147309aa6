"""graphrec: graph-based recommendation with GNN embeddings.

Interactions become a bipartite user-item graph; encoders (LightGCN, DeepWalk,
graph filters, matrix factorisation) learn embeddings; a retrieval layer ranks,
filters and re-ranks items; evaluation follows the full-ranking protocol.

Every public name below is imported on first use (PEP 562 module ``__getattr__``),
so ``import graphrec`` loads neither torch nor scikit-learn nor a plotting
library: ``gr.Interactions`` and ``gr.datasets`` need numpy, pandas and scipy
only; ``gr.LightGCN`` (or any model) imports torch; :mod:`graphrec.viz` imports
matplotlib or plotly only inside the functions that draw.
``gr.datasets`` is :mod:`graphrec.data.datasets` and ``gr.splits`` is
:mod:`graphrec.data.splits`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module that defines it, attribute in that module or None for the module)
_LAZY: dict[str, tuple[str, str | None]] = {
    "ALS": ("graphrec.models", "ALS"),
    "ContentBased": ("graphrec.models.hybrid", "ContentBased"),
    "FeatureError": ("graphrec.data.features", "FeatureError"),
    "Features": ("graphrec.data.features", "Features"),
    "HybridLightGCN": ("graphrec.models.hybrid", "HybridLightGCN"),
    "HybridMF": ("graphrec.models.hybrid", "HybridMF"),
    "hetero": ("graphrec.hetero", None),
    "MF": ("graphrec.models", "MF"),
    "MODELS": ("graphrec.models", "MODELS"),
    "NCF": ("graphrec.models", "NCF"),
    "Dataset": ("graphrec.data.datasets", "Dataset"),
    "DeepWalk": ("graphrec.models.deepwalk", "DeepWalk"),
    "EmbeddingRecommender": ("graphrec.models", "EmbeddingRecommender"),
    "Ensemble": ("graphrec.models.ensemble", "Ensemble"),
    "GraphFilter": ("graphrec.models.graph_filter", "GraphFilter"),
    "IdMap": ("graphrec.data.ids", "IdMap"),
    "Interactions": ("graphrec.data.interactions", "Interactions"),
    "Item2Vec": ("graphrec.models.deepwalk", "Item2Vec"),
    "LightGCN": ("graphrec.models", "LightGCN"),
    "NotFittedError": ("graphrec.exceptions", "NotFittedError"),
    "Popularity": ("graphrec.models", "Popularity"),
    "PureSVD": ("graphrec.models", "PureSVD"),
    "Recommender": ("graphrec.models", "Recommender"),
    "SpectralFilter": ("graphrec.models.spectral", "SpectralFilter"),
    "Split": ("graphrec.data.splits", "Split"),
    "TrainingError": ("graphrec.exceptions", "TrainingError"),
    "ann": ("graphrec.ann", None),
    "coldstart": ("graphrec.coldstart", None),
    "datasets": ("graphrec.data.datasets", None),
    "evaluate": ("graphrec.evaluation", "evaluate"),
    "explain": ("graphrec.explain", None),
    "graph": ("graphrec.graph", None),
    "load": ("graphrec.models", "load"),
    "metrics": ("graphrec.metrics", None),
    "rerank": ("graphrec.rerank", None),
    "retrieval": ("graphrec.retrieval", None),
    "splits": ("graphrec.data.splits", None),
    "tune": ("graphrec.tuning", "tune"),
    "tuning": ("graphrec.tuning", None),
    "viz": ("graphrec.viz", None),
}

__all__ = [
    "ALS",
    "MF",
    "MODELS",
    "NCF",
    "ContentBased",
    "Dataset",
    "DeepWalk",
    "EmbeddingRecommender",
    "Ensemble",
    "FeatureError",
    "Features",
    "GraphFilter",
    "HybridLightGCN",
    "HybridMF",
    "IdMap",
    "Interactions",
    "Item2Vec",
    "LightGCN",
    "NotFittedError",
    "Popularity",
    "PureSVD",
    "Recommender",
    "SpectralFilter",
    "Split",
    "TrainingError",
    "__version__",
    "ann",
    "coldstart",
    "datasets",
    "evaluate",
    "explain",
    "graph",
    "hetero",
    "load",
    "metrics",
    "rerank",
    "retrieval",
    "splits",
    "tune",
    "tuning",
    "viz",
]

if TYPE_CHECKING:  # what mypy and IDEs see; at run time __getattr__ imports on first use
    from graphrec import (
        ann,
        coldstart,
        explain,
        graph,
        hetero,
        metrics,
        rerank,
        retrieval,
        tuning,
        viz,
    )
    from graphrec.data import datasets, splits
    from graphrec.data.datasets import Dataset
    from graphrec.data.features import FeatureError, Features
    from graphrec.data.ids import IdMap
    from graphrec.data.interactions import Interactions
    from graphrec.data.splits import Split
    from graphrec.evaluation import evaluate
    from graphrec.exceptions import NotFittedError, TrainingError
    from graphrec.models import (
        ALS,
        MF,
        MODELS,
        NCF,
        EmbeddingRecommender,
        LightGCN,
        Popularity,
        PureSVD,
        Recommender,
        load,
    )
    from graphrec.models.deepwalk import DeepWalk, Item2Vec
    from graphrec.models.ensemble import Ensemble
    from graphrec.models.graph_filter import GraphFilter
    from graphrec.models.hybrid import ContentBased, HybridLightGCN, HybridMF
    from graphrec.models.spectral import SpectralFilter
    from graphrec.tuning import tune


def __getattr__(name: str) -> Any:
    """Import a public name of :mod:`graphrec` on first use and cache it in the module."""
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'graphrec' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
