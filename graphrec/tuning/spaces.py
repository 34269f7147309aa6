"""Search-space dimensions and the default search space of every registered model, in one place.

A search space is a dict ``{name: dimension}``; a dimension is :class:`Float`,
:class:`Int` or :class:`Categorical` (a plain list or tuple means ``Categorical``).
A :class:`Categorical` whose values are dicts is a *group*: choosing one merges its
dict into the estimator's parameters, so settings that only make sense together
(e.g. ``neg_pool`` with ``hard_negatives``) are searched as one choice.

Each dimension converts itself to what a search runs on: a list of values for a
grid (:meth:`Float.grid`), a distribution with ``rvs`` for scikit-learn's
``ParameterSampler`` (random search) and an Optuna distribution (TPE).

:data:`DEFAULT_SPACES` maps a model's class name to its default space;
``Model.search_space()`` (:meth:`graphrec.Recommender.search_space`) returns it.

Examples
--------
>>> space = default_space("GraphFilter")
>>> sorted(space)
['alpha', 'n_components']
>>> Float(1e-3, 1e-1, log=True).grid(3)
[0.001, 0.01, 0.1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_SPACES",
    "Categorical",
    "Dimension",
    "Float",
    "Int",
    "as_dimension",
    "check_space",
    "default_space",
]


@dataclass(frozen=True)
class Float:
    """A real-valued dimension on ``[low, high]`` (log-uniform when ``log``).

    Parameters
    ----------
    low, high : float
        Bounds, ``low < high`` (``low > 0`` with ``log``).
    log : bool, default False
        Sample ``log(value)`` uniformly.

    Raises
    ------
    ValueError
        Bounds out of order, or ``log`` with ``low <= 0``.

    Examples
    --------
    >>> Float(0.0, 1.0).grid(3)
    [0.0, 0.5, 1.0]
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"Float needs finite low < high, got low={self.low!r}, high={self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"Float(log=True) needs low > 0, got low={self.low!r}")

    def grid(self, n: int) -> list[float]:
        """``n`` points from ``low`` to ``high`` (geometric with ``log``)."""
        pts = np.geomspace(self.low, self.high, n) if self.log else np.linspace(self.low, self.high, n)
        return [float(f"{p:.6g}") for p in pts]

    def scipy(self) -> Any:
        """A frozen scipy distribution (``rvs``) for scikit-learn's ``ParameterSampler``."""
        from scipy import stats

        if self.log:
            return stats.loguniform(self.low, self.high)
        return stats.uniform(self.low, self.high - self.low)

    def optuna(self) -> Any:
        """The matching ``optuna.distributions.FloatDistribution``."""
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log)


@dataclass(frozen=True)
class Int:
    """An integer dimension on ``[low, high]``, both included (log-uniform when ``log``).

    Examples
    --------
    >>> Int(64, 1024, log=True).grid(5)
    [64, 128, 256, 512, 1024]
    """

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.low, (int, np.integer)) and isinstance(self.high, (int, np.integer))
                and self.low <= self.high):
            raise ValueError(f"Int needs integers low <= high, got low={self.low!r}, high={self.high!r}")
        if self.log and self.low <= 0:
            raise ValueError(f"Int(log=True) needs low > 0, got low={self.low!r}")

    def grid(self, n: int) -> list[int]:
        """Up to ``n`` distinct integers from ``low`` to ``high`` (geometric with ``log``)."""
        pts = np.geomspace(self.low, self.high, n) if self.log else np.linspace(self.low, self.high, n)
        return sorted({int(np.rint(p)) for p in pts})

    def scipy(self) -> Any:
        """A distribution with ``rvs`` drawing integers in ``[low, high]``."""
        from scipy import stats

        if not self.log:
            return stats.randint(self.low, self.high + 1)
        return _RoundedLogUniform(self.low, self.high)

    def optuna(self) -> Any:
        """The matching ``optuna.distributions.IntDistribution``."""
        from optuna.distributions import IntDistribution

        return IntDistribution(int(self.low), int(self.high), log=self.log)


class _RoundedLogUniform:
    """Integers whose logarithm is uniform on ``[log(low - 0.5), log(high + 0.5))``, for ``Int(log=True)``.

    scipy has no log-uniform integer distribution; ``ParameterSampler`` only needs ``rvs``.
    """

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = int(low), int(high)

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        from scipy import stats

        draw = stats.loguniform(max(self.low - 0.5, 0.5), self.high + 0.5).rvs(size=size, random_state=random_state)
        return np.clip(np.round(draw), self.low, self.high).astype(np.int64)


@dataclass(frozen=True)
class Categorical:
    """A choice among ``values``; dict values are parameter groups (merged when chosen).

    Parameters
    ----------
    values : sequence
        Scalars (None, bool, int, float, str, tuples) or dicts of parameters.
    labels : sequence of str, optional
        Names of the choices in the results table (default: the values themselves,
        or ``"group0"``, ``"group1"``, ... for dicts).

    Examples
    --------
    >>> c = Categorical([{"neg_pool": 0}, {"neg_pool": 1024}], labels=["uniform", "pool"])
    >>> c.expand("pool")
    {'neg_pool': 1024}
    """

    values: tuple[Any, ...]
    labels: tuple[Any, ...] | None = None

    def __init__(self, values: Sequence[Any], labels: Sequence[Any] | None = None) -> None:
        values = tuple(values)
        if not values:
            raise ValueError("Categorical needs at least one value")
        if labels is None:
            labels = tuple(f"group{i}" if isinstance(v, Mapping) else _label(v) for i, v in enumerate(values))
        labels = tuple(labels)
        if len(labels) != len(values) or len(set(labels)) != len(labels):
            raise ValueError(f"Categorical labels must be distinct, one per value; got {labels!r}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "labels", labels)

    @property
    def is_group(self) -> bool:
        """Whether the values are parameter dicts."""
        return any(isinstance(v, Mapping) for v in self.values)

    def grid(self, n: int | None = None) -> list[Any]:
        """Every label (``n`` is ignored: a choice is searched whole)."""
        return list(self.labels or ())

    def scipy(self) -> list[Any]:
        """The labels, which ``ParameterSampler`` samples uniformly."""
        return list(self.labels or ())

    def optuna(self) -> Any:
        """``optuna.distributions.CategoricalDistribution`` over the labels."""
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(list(self.labels or ()))

    def expand(self, label: Any) -> Any:
        """The value behind ``label`` (a dict for a group)."""
        labels = list(self.labels or ())
        for i, lab in enumerate(labels):
            if lab == label or (isinstance(label, float) and isinstance(lab, float) and lab == label):
                return self.values[i]
        raise KeyError(f"{label!r} is not one of the choices {labels}")


def _label(value: Any) -> Any:
    """A label Optuna accepts: the scalar itself, else its repr (tuples, lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


Dimension = Float | Int | Categorical


def as_dimension(name: str, value: Any) -> Dimension:
    """``value`` as a dimension: a list or tuple becomes :class:`Categorical`.

    Raises
    ------
    TypeError
        Neither a dimension nor a list/tuple of choices, naming the parameter.
    """
    if isinstance(value, (Float, Int, Categorical)):
        return value
    if isinstance(value, (list, tuple)):
        return Categorical(value)
    raise TypeError(
        f"search space entry {name!r} must be Float, Int, Categorical or a list of values, "
        f"got {type(value).__name__}"
    )


def check_space(space: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> dict[str, Dimension]:
    """Validate a search space; with ``params`` (an estimator's), every name must be one of them.

    Group choices (dicts) are checked key by key.

    Raises
    ------
    TypeError
        A malformed entry.
    ValueError
        An empty space, or a name that is not a parameter of the estimator.
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of dimensions, got {type(space).__name__}")
    if not space:
        raise ValueError("the search space is empty: give space={name: Float(...) | Int(...) | [values]}")
    dims = {str(k): as_dimension(str(k), v) for k, v in space.items()}
    if params is not None:
        for name, dim in dims.items():
            keys = [name]
            if isinstance(dim, Categorical) and dim.is_group:
                keys = sorted({k for v in dim.values if isinstance(v, Mapping) for k in v})
            unknown = [k for k in keys if k not in params]
            if unknown:
                raise ValueError(
                    f"search space entry {name!r} sets {unknown}, which the estimator does not take; "
                    f"its parameters: {sorted(params)}"
                )
    return dims


_NEGATIVES = Categorical(
    [
        {"neg_pool": 0, "hard_negatives": 0},
        {"neg_pool": 1024, "hard_negatives": 0},
        {"neg_pool": 1024, "hard_negatives": 32, "hard_fraction": 0.15},
    ],
    labels=["uniform", "pool1024", "pool1024-hard32"],
)

#: What every model trained by the shared engine (LightGCN, MF) searches: optimiser, batch,
#: schedule length and negatives.
_ENGINE_SPACE: dict[str, Any] = {
    "lr": Float(1e-3, 3e-2, log=True),
    "reg": Float(1e-6, 1e-3, log=True),
    "batch_size": [1024, 2048, 4096, 8192],
    "epochs": [20, 40, 60, 80],
    "lr_decay": [None, "cosine"],
    "negatives": _NEGATIVES,
}

#: The default search space of each model, keyed by class name. Ranges bracket the
#: published settings and the recipes of :mod:`graphrec.recipes` without being centred on
#: any one dataset's recipe; epochs and batch size bound a trial's cost on CPU.
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "LightGCN": {"n_layers": Int(1, 4), **_ENGINE_SPACE},
    "MF": dict(_ENGINE_SPACE),
    "GraphFilter": {
        "n_components": Int(32, 1024, log=True),
        "alpha": Float(0.0, 1.0),
    },
    "PureSVD": {
        "embedding_dim": Int(16, 1024, log=True),
        "normalize": [None, "symmetric"],
        "exponent": Float(0.1, 0.6),
    },
    "ALS": {
        "embedding_dim": [32, 64, 128],
        "alpha": Float(1.0, 100.0, log=True),
        "regularization": Float(1e-3, 10.0, log=True),
        "iterations": Int(5, 20),
    },
    "NCF": {
        "scorer": ["gmf", "mlp", "neumf"],
        "lr": Float(1e-4, 1e-2, log=True),
        "embedding_dim": [16, 32, 64],
        "n_negatives": Int(1, 8),
        "epochs": [10, 20, 40],
    },
    "DeepWalk": {
        "walks_per_node": Int(2, 10),
        "window": Int(2, 8),
        "epochs": Int(2, 10),
        "lr": Float(0.01, 0.2, log=True),
        "q": Float(0.25, 4.0, log=True),
    },
    "Item2Vec": {
        "window": Int(2, 10),
        "epochs": Int(5, 40),
        "lr": Float(0.02, 0.5, log=True),
    },
    "Popularity": {"use_weights": [False, True]},
    # ChebyCF's response (the SpectralFilter default): polynomial order, plateau flatness and the
    # weight of the ideal low-pass term
    "SpectralFilter": {
        "order": Int(4, 16),
        "flatness": Float(0.5, 3.0),
        "ideal_weight": Float(0.0, 0.5),
    },
    # the members and their weights are chosen by the ensemble itself on validation; the search
    # picks how their scores are combined
    "Ensemble": {"fusion": ["zscore", "raw", "rrf"]},
}


def default_space(model: str) -> dict[str, Any]:
    """A copy of the default search space of the model class named ``model``.

    Raises
    ------
    KeyError
        No default space for ``model``; the message lists those that have one.
    """
    if model not in DEFAULT_SPACES:
        raise KeyError(
            f"no default search space for {model!r}; known: {sorted(DEFAULT_SPACES)}; "
            "pass space={name: Float(...) | Int(...) | [values]}"
        )
    return dict(DEFAULT_SPACES[model])
