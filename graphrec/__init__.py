"""graphrec: graph-based recommendation with GNN embeddings.

Interactions become a bipartite user-item graph; encoders (LightGCN, DeepWalk,
graph filters, matrix factorisation) learn embeddings; a retrieval layer ranks,
filters and re-ranks items; evaluation follows the full-ranking protocol.
"""

__version__ = "0.1.0"

from graphrec import (  # viz imports matplotlib/plotly lazily
    ann,
    coldstart,
    datasets,
    explain,
    graph,
    metrics,
    rerank,
    retrieval,
    splits,
    viz,
)
from graphrec.data.datasets import Dataset
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions
from graphrec.data.splits import Split
from graphrec.evaluation import evaluate
from graphrec.exceptions import NotFittedError, TrainingError
from graphrec.models import (
    MF,
    MODELS,
    EmbeddingRecommender,
    LightGCN,
    Popularity,
    Recommender,
    load,
)
from graphrec.models.deepwalk import DeepWalk, Item2Vec
from graphrec.models.graph_filter import GraphFilter

__all__ = [
    "MF",
    "MODELS",
    "Dataset",
    "DeepWalk",
    "EmbeddingRecommender",
    "GraphFilter",
    "IdMap",
    "Interactions",
    "Item2Vec",
    "LightGCN",
    "NotFittedError",
    "Popularity",
    "Recommender",
    "Split",
    "TrainingError",
    "__version__",
    "ann",
    "coldstart",
    "datasets",
    "evaluate",
    "explain",
    "graph",
    "load",
    "metrics",
    "rerank",
    "retrieval",
    "splits",
    "viz",
]
