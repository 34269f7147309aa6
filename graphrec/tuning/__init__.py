"""Hyperparameter search: ``gr.tune(gr.LightGCN(), train, valid, budget=600)``.

* :func:`tune` / :class:`TuneResult` (:mod:`graphrec.tuning.search`): grid, random and
  Optuna TPE search with pruning through the training engine's per-epoch callback,
  scored on a validation split or by per-user K-fold cross-validation;
* :mod:`graphrec.tuning.spaces`: the dimensions (:class:`Float`, :class:`Int`,
  :class:`Categorical`) and the default search space of every model
  (``Model.search_space()``);
* :func:`plot_search`: a picture of a search.

Optuna (the ``tune`` extra) is imported only by a TPE search or pruning; grid and random
search run without it.
"""

from __future__ import annotations

from graphrec.tuning.plot import plot_search
from graphrec.tuning.search import METHODS, TuneResult, TuningError, tune
from graphrec.tuning.spaces import DEFAULT_SPACES, Categorical, Float, Int, default_space

__all__ = [
    "DEFAULT_SPACES",
    "METHODS",
    "Categorical",
    "Float",
    "Int",
    "TuneResult",
    "TuningError",
    "default_space",
    "plot_search",
    "tune",
]
