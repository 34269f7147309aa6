"""graphrec: graph-based recommendation with GNN embeddings.

Interactions become a bipartite user-item graph; encoders (LightGCN, DeepWalk,
graph filters, matrix factorisation) learn embeddings; a retrieval layer ranks,
filters and re-ranks items; evaluation follows the full-ranking protocol.
"""

__version__ = "0.1.0"

from graphrec import datasets, graph, metrics, retrieval, splits
from graphrec.data.datasets import Dataset
from graphrec.data.splits import Split
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions
from graphrec.evaluation import evaluate
from graphrec.exceptions import NotFittedError, TrainingError
from graphrec.models import MODELS, EmbeddingRecommender, LightGCN, MF, Popularity, Recommender, load
from graphrec.models.graph_filter import GraphFilter
from graphrec.models.deepwalk import DeepWalk, Item2Vec
from graphrec import ann, coldstart, rerank
from graphrec import explain, viz  # viz imports matplotlib/plotly lazily

__all__ = [
    "__version__",
    "IdMap",
    "Interactions",
    "evaluate",
    "load",
    "MODELS",
    "Recommender",
    "EmbeddingRecommender",
    "Popularity",
    "LightGCN",
    "MF",
    "GraphFilter",
    "DeepWalk",
    "Item2Vec",
    "NotFittedError",
    "TrainingError",
    "Dataset",
    "Split",
    "datasets",
    "splits",
    "graph",
    "metrics",
    "retrieval",
    "rerank",
    "coldstart",
    "ann",
    "explain",
    "viz",
]
