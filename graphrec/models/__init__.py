"""Recommender models and the explicit registry that maps names to classes."""

from __future__ import annotations

import os
from types import MappingProxyType

from graphrec.models.als import ALS
from graphrec.models.base import EmbeddingRecommender, Recommender
from graphrec.models.deepwalk import DeepWalk, Item2Vec
from graphrec.models.ensemble import Ensemble
from graphrec.models.graph_filter import GraphFilter
from graphrec.models.lightgcn import LightGCN
from graphrec.models.mf import MF
from graphrec.models.ncf import NCF
from graphrec.models.popularity import Popularity
from graphrec.models.spectral import SpectralFilter
from graphrec.models.svd import PureSVD
from graphrec.persistence import ModelFileError, read_state

__all__ = ["ALS", "MF", "MODELS", "NCF", "EmbeddingRecommender", "Ensemble", "LightGCN", "Popularity", "PureSVD", "Recommender", "SpectralFilter", "get_model_class",
           "load"]


# The one registry of model classes (used by load, the CLI and the benchmarks).
# Keys are class names as saved by Recommender.save; add one line per model.
MODELS: MappingProxyType[str, type[Recommender]] = MappingProxyType(
    {
        "Popularity": Popularity,
        "LightGCN": LightGCN,
        "MF": MF,
        "GraphFilter": GraphFilter,
        "DeepWalk": DeepWalk,
        "Item2Vec": Item2Vec,
        "ALS": ALS,
        "NCF": NCF,
        "PureSVD": PureSVD,
        "SpectralFilter": SpectralFilter,
        "Ensemble": Ensemble,
    }
)


# Method names that are settings of a registered class (their recipes live in graphrec.recipes):
# the class, and the hyperparameters that make the class that method (build_model applies them;
# ChebyCF is SpectralFilter's default).
ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {"chebycf": "SpectralFilter", "bspm": "SpectralFilter", "turbocf": "SpectralFilter"}
)
ALIAS_PARAMS: MappingProxyType[str, dict] = MappingProxyType({
    "chebycf": {"response": "chebyshev"},
    "bspm": {"response": "bspm", "degree_exponent": 0.0, "ideal_exponent": 0.5},
    "turbocf": {"response": "polynomial", "coefficients": (0.0, 1.0), "user_exponent": 0.6,
                "item_exponent": 0.4, "hadamard_power": 0.7, "ideal_weight": 0.0, "degree_exponent": 0.0},
})


def get_model_class(name: str) -> type[Recommender]:
    """Model class by class name or lower-case alias ("lightgcn", "popularity", ...).

    The method names in ``ALIASES`` ("chebycf", "bspm", "turbocf") map to their class
    (:class:`graphrec.SpectralFilter`); their settings are recipes.

    Raises
    ------
    KeyError
        Unknown name; the message lists the known ones.
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key in ALIASES:
        return MODELS[ALIASES[key]]
    for cls_name, cls in MODELS.items():
        if name == cls_name or name.lower().replace("-", "").replace("_", "") == cls_name.lower():
            return cls
    raise KeyError(f"unknown model {name!r}; known models: {sorted(c.lower() for c in MODELS)}")


def load(path: str | os.PathLike) -> Recommender:
    """Load a model saved with ``model.save(path)``.

    Only classes in :data:`MODELS` can be loaded, and arrays are read without
    pickle, so a model directory can never execute code.

    Raises
    ------
    FileNotFoundError
        No such directory.
    graphrec.persistence.ModelFileError
        Corrupt, tampered or incompatible directory, or an unknown model class.
    """
    state = read_state(path)
    cls = MODELS.get(state.class_name)
    if cls is None:
        raise ModelFileError(
            f"{path} holds a {state.class_name!r} model, which this graphrec does not know; "
            f"known: {sorted(MODELS)}"
        )
    try:
        return cls._from_state(state)
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path} does not match {state.class_name}: {exc}") from exc
