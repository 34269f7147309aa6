"""Hyperparameter search over any graphrec estimator: :func:`tune` and its :class:`TuneResult`.

Three samplers share one loop: a grid (scikit-learn's ``ParameterGrid``), random search
(scikit-learn's ``ParameterSampler``) and Optuna's TPE (``optuna``, the ``tune`` extra,
imported only when used). Each trial clones the estimator with the trial's parameters,
fits it on the training part and scores it on the validation part (or on every fold of a
per-user K-fold split, :func:`graphrec.splits.user_kfold`). Models trained by epochs
report their validation metric after every epoch through ``fit(..., callbacks=...)``
(the training engine's per-epoch callback); when Optuna is installed its pruner stops
trials that fall behind, for every sampler. The search stops at ``n_trials``, at the
wall-clock ``budget`` (a trial still running then is stopped and not counted), or when
a grid is exhausted.

Written here rather than taken from Optuna: the loop over folds and epochs, the wall-clock
deadline inside a fit, and grid/random search without Optuna installed.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from graphrec.data.interactions import Interactions
from graphrec.tuning.spaces import Categorical, Dimension, check_space

__all__ = ["METHODS", "TuneResult", "TuningError", "tune"]

logger = logging.getLogger(__name__)

#: search methods of :func:`tune` ("auto": TPE when Optuna is installed, else random)
METHODS = ("auto", "tpe", "random", "grid")


class TuningError(RuntimeError):
    """No trial of a search completed (all failed, were pruned, or ran out of budget)."""


@dataclass
class TuneResult:
    """What :func:`tune` returns.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per trial: ``trial``, ``state`` ("complete", "pruned", "failed" or
        "stopped" by the budget), ``value`` (the metric on validation; the mean over
        folds with ``cv``), ``param_<name>`` per search dimension (the choice's label for
        groups), ``epochs`` run, ``best_epoch``, ``seconds`` (wall clock), ``cpu_seconds``
        (process CPU time), ``elapsed`` (since the search began), ``fold_values`` and ``error``.
    best_params : dict
        Constructor arguments of the best complete trial (groups expanded).
    best_score : float
    best_trial : int
    best_estimator : Recommender or None
        The best setting fitted on train + valid (on train with ``cv``) when
        ``refit=True``, else None (trials' models are not kept, to bound memory).
    metric, method : str
    budget : float or None
    clock : str
        What ``budget`` counted ("wall" or "cpu").
    n_trials : int or None
    elapsed, cpu_seconds : float
        Wall-clock and process CPU seconds of the whole search (refit excluded).
    space : dict
        The search space used.
    """

    trials: pd.DataFrame
    best_params: dict[str, Any]
    best_score: float
    best_trial: int
    best_estimator: Any
    metric: str
    method: str
    budget: float | None
    n_trials: int | None
    elapsed: float
    cpu_seconds: float
    space: dict[str, Any] = field(repr=False, default_factory=dict)
    clock: str = "wall"

    def plot(self, path: Any = None) -> Any:
        """Draw the search (:func:`graphrec.tuning.plot_search`); save it when ``path`` is given."""
        from graphrec.tuning.plot import plot_search

        return plot_search(self, path)


def _metric_k(metric: str) -> int:
    name, at, k = metric.partition("@")
    if not at or not name or not k.isdigit() or int(k) < 1:
        raise ValueError(f"metric must look like 'recall@20' or 'ndcg@10', got {metric!r}")
    return int(k)


def _optuna(required: bool) -> Any:
    try:
        import optuna
    except ImportError:
        if required:
            raise ImportError(
                "this search needs optuna: pip install 'graphrec[tune]' (or use method='random'/'grid')"
            ) from None
        return None
    return optuna


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _expand(dims: Mapping[str, Dimension], choice: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments of a trial: group choices merged, other labels mapped to values."""
    params: dict[str, Any] = {}
    for name, dim in dims.items():
        label = _python(choice[name])
        if isinstance(dim, Categorical):
            value = dim.expand(label)
            if isinstance(value, Mapping):
                params.update(value)
                continue
            params[name] = value
        else:
            params[name] = label
    return params


class _Stop(Exception):
    pass


def tune(
    estimator: Any,
    train: Interactions,
    valid: Interactions | None = None,
    *,
    space: Mapping[str, Any] | None = None,
    method: str = "auto",
    metric: str = "recall@20",
    budget: float | None = None,
    n_trials: int | None = None,
    clock: str = "wall",
    cv: int | None = None,
    refit: bool = False,
    prune: bool | None = None,
    pruner: Any = None,
    sampler: Any = None,
    n_grid: int = 3,
    valid_size: float = 0.1,
    random_state: int = 0,
    verbose: bool = False,
) -> TuneResult:
    """Search ``estimator``'s hyperparameters; score each setting on validation data.

    Parameters
    ----------
    estimator : Recommender
        Its parameters are the starting point; each trial is ``clone(estimator)`` with the
        trial's parameters set. A ``random_state`` left at None is set to ``random_state``,
        so every trial trains with the same seed.
    train : Interactions
    valid : Interactions, optional
        Validation interactions on train's IdMaps. Without ``valid`` and ``cv``, a
        per-user random ``valid_size`` share of train is carved off
        (:func:`graphrec.splits.validation_split`, seeded by ``random_state``).
    space : dict, optional
        ``{name: Float | Int | Categorical | [values]}`` (:mod:`graphrec.tuning.spaces`);
        default ``type(estimator).search_space()``.
    method : {"auto", "tpe", "random", "grid"}, default "auto"
        "tpe": Optuna's TPE sampler; "random": scikit-learn's ``ParameterSampler``;
        "grid": every combination of ``ParameterGrid`` (ranges as ``n_grid`` points);
        "auto": "tpe" when Optuna is installed, else "random".
    metric : str, default "recall@20"
        A key of :func:`graphrec.evaluate` (``"ndcg@10"``, ...), maximised.
    budget : float, optional
        Seconds for the search (``clock``): no trial starts after it, and a trial
        trained by epochs that is still running is stopped (state "stopped", not counted).
    n_trials : int, optional
        At most this many trials. Random and TPE search need ``budget`` or ``n_trials``.
    clock : {"wall", "cpu"}, default "wall"
        What ``budget`` counts: wall-clock seconds, or this process's CPU seconds (all its
        threads), which other jobs on a shared machine do not use up.
    cv : int, optional
        Score by per-user ``cv``-fold cross-validation of ``train``
        (:func:`graphrec.splits.user_kfold`) instead of ``valid``.
    refit : bool, default False
        Fit the best setting on train + valid (on train with ``cv``) as ``best_estimator``.
    prune : bool, optional
        Stop trials whose per-epoch validation metric falls behind (Optuna's pruner, any
        method). Default: when Optuna is installed. With ``cv`` trials are pruned after folds.
    pruner : optuna.pruners.BasePruner, optional
        Default ``MedianPruner(n_startup_trials=4, n_warmup_steps=10)``: no trial is pruned
        before four trials have finished, nor before its tenth epoch.
    sampler : optuna.samplers.BaseSampler, optional
        For ``method="tpe"``; default ``TPESampler(seed=random_state, n_startup_trials=5)``
        (five random trials before TPE models the results: a wall-clock budget of a few
        minutes fits few trials).
    n_grid : int, default 3
        Points per ``Float``/``Int`` range in a grid search.
    valid_size : float, default 0.1
        Share of train carved off when neither ``valid`` nor ``cv`` is given.
    random_state : int, default 0
        Seeds the sampler, the validation carve or folds, and estimators without a seed.
    verbose : bool, default False
        Log each trial at INFO level.

    Returns
    -------
    TuneResult

    Raises
    ------
    TypeError
        ``train``/``valid`` not Interactions, or a malformed space.
    ValueError
        Bad ``method``, ``metric``, ``budget``, ``n_trials``, ``cv``, both ``valid`` and
        ``cv``, a random/TPE search without ``budget`` or ``n_trials``, or a space
        naming a parameter the estimator does not take.
    ImportError
        ``method="tpe"`` or ``prune=True`` without Optuna.
    TuningError
        No trial completed.

    Examples
    --------
    >>> import graphrec as gr
    >>> ds = gr.datasets.synthetic(n_users=60, n_items=40, random_state=0)
    >>> res = gr.tune(gr.GraphFilter(), ds.train, space={"n_components": [4, 8]}, method="grid")
    >>> len(res.trials), sorted(res.best_params)
    (2, ['n_components'])
    """
    from sklearn.base import clone

    from graphrec.data.splits import user_kfold, validation_split
    from graphrec.evaluation import evaluate

    if not isinstance(train, Interactions):
        raise TypeError(f"train must be Interactions, got {type(train).__name__}")
    if valid is not None and not isinstance(valid, Interactions):
        raise TypeError(f"valid must be Interactions, got {type(valid).__name__}")
    if valid is not None and cv is not None:
        raise ValueError("give valid or cv, not both")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    k = _metric_k(metric)
    if budget is not None and not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"budget must be a positive number of seconds, got {budget!r}")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")
    if cv is not None and (isinstance(cv, bool) or not isinstance(cv, int) or cv < 2):
        raise ValueError(f"cv must be an integer >= 2, got {cv!r}")
    if not isinstance(n_grid, int) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer >= 2, got {n_grid!r}")
    if not hasattr(estimator, "get_params") or not hasattr(estimator, "fit"):
        raise TypeError(f"estimator must be a graphrec Recommender, got {type(estimator).__name__}")
    base_params = estimator.get_params()
    if space is None:
        if not hasattr(type(estimator), "search_space"):
            raise ValueError(f"{type(estimator).__name__} has no default search space: pass space=")
        space = type(estimator).search_space()
    dims = check_space(space, base_params)

    optuna = _optuna(required=method == "tpe" or prune is True)
    if method == "auto":
        method = "tpe" if optuna is not None else "random"
    if method != "grid" and budget is None and n_trials is None:
        raise ValueError(f"method={method!r} needs budget= (seconds) or n_trials=")
    prune = optuna is not None if prune is None else prune

    # the data each trial fits and scores on
    if cv is not None:
        folds = [(s.train, s.test) for s in user_kfold(train, cv, random_state=random_state)]
    else:
        if valid is None:
            carve = validation_split(train, valid_size, random_state=random_state)
            train, valid = carve.train, carve.valid
        assert valid is not None
        folds = [(train, valid)]
    refit_data = train if valid is None else _concat(train, valid)

    # the candidates
    study = None
    distributions: dict[str, Any] = {}
    if optuna is not None and (method == "tpe" or prune):
        optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
        if method == "tpe" and sampler is None:
            sampler = optuna.samplers.TPESampler(seed=random_state, n_startup_trials=5)
        elif method != "tpe":
            sampler = None
        if pruner is None and prune:
            pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=10)
        study = optuna.create_study(
            direction="maximize", sampler=sampler, pruner=pruner if prune else optuna.pruners.NopPruner()
        )
        distributions = {name: dim.optuna() for name, dim in dims.items()}
    proposals = _proposals(method, dims, n_grid, random_state, n_trials)

    seed_params = {}
    if "random_state" in base_params and base_params["random_state"] is None:
        seed_params["random_state"] = random_state
    fits_by_epoch = "callbacks" in inspect.signature(estimator.fit).parameters

    start, cpu_start = time.perf_counter(), time.process_time()
    now = time.process_time if clock == "cpu" else time.perf_counter
    deadline = None if budget is None else now() + float(budget)
    rows: list[dict[str, Any]] = []
    best: dict[str, Any] = {"value": -math.inf}
    number = 0
    while n_trials is None or number < n_trials:
        if deadline is not None and now() >= deadline:
            break
        trial = None
        if method == "tpe":
            trial = study.ask(distributions)  # type: ignore[union-attr]
            choice = dict(trial.params)
        else:
            try:
                choice = next(proposals)
            except StopIteration:
                break
            if study is not None:
                study.enqueue_trial(choice)
                trial = study.ask(distributions)
        params = _expand(dims, choice)
        row: dict[str, Any] = {"trial": number, **{f"param_{n}": _python(choice[n]) for n in dims}}
        t0, c0 = time.perf_counter(), time.process_time()
        state, value, fold_values, error, model = "complete", math.nan, [], "", None
        epochs: list[int] = []
        best_epochs: list[Any] = []
        try:
            for f, (fold_train, fold_valid) in enumerate(folds):
                model = clone(estimator).set_params(**seed_params, **params)
                cb = _epoch_callback(fold_valid, metric, k, trial if len(folds) == 1 else None, deadline, now,
                                     evaluate)
                if fits_by_epoch:
                    model.fit(fold_train, fold_valid, callbacks=[cb])
                else:
                    model.fit(fold_train, fold_valid)
                if cb.outcome is not None:  # type: ignore[attr-defined]
                    state = cb.outcome  # type: ignore[attr-defined]
                    if cb.last is not None:  # type: ignore[attr-defined]
                        fold_values.append(cb.last)  # type: ignore[attr-defined]
                    raise _Stop
                history = getattr(model, "history_", None)
                epochs.append(len(history) if isinstance(history, list) else 0)
                best_epochs.append(getattr(model, "best_epoch_", None))
                fold_values.append(float(evaluate(model, fold_valid, k=(k,))[metric]))
                if trial is not None and len(folds) > 1:
                    trial.report(float(np.mean(fold_values)), f)
                    if prune and f < len(folds) - 1 and trial.should_prune():
                        state = "pruned"
                        raise _Stop
                if deadline is not None and now() >= deadline and f < len(folds) - 1:
                    state = "stopped"
                    raise _Stop
            value = float(np.mean(fold_values))
        except _Stop:
            pass
        except KeyboardInterrupt:
            logger.warning("tune interrupted in trial %d; keeping the trials so far", number)
            state, error = "stopped", "interrupted"
            rows.append(_row(row, state, value, fold_values, epochs, best_epochs, t0, c0, start, error))
            if study is not None and trial is not None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            break
        except (ValueError, TypeError, ArithmeticError, RuntimeError) as exc:  # a setting that cannot train
            state, error = "failed", f"{type(exc).__name__}: {exc}"
            logger.info("trial %d failed: %s", number, error)
        if not math.isfinite(value) and state == "complete":
            state, error = "failed", error or "non-finite metric"
        rows.append(_row(row, state, value, fold_values, epochs, best_epochs, t0, c0, start, error))
        if study is not None and trial is not None:
            ts = optuna.trial.TrialState
            if state == "complete":
                study.tell(trial, value)
            else:
                study.tell(trial, state=ts.PRUNED if state == "pruned" else ts.FAIL)
        if state == "complete" and value > best["value"]:
            best = {"value": value, "trial": number, "params": params}
        if verbose:
            logger.info("trial %d %s %s=%.4f %s", number, state, metric, value, params)
        number += 1

    trials = pd.DataFrame(rows)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if "trial" not in best:
        raise TuningError(
            f"no trial completed in {len(rows)} tries ({elapsed:.0f} s): "
            + ("; ".join(sorted({r["error"] for r in rows if r["error"]})[:3]) or "raise budget or n_trials")
        )
    best_estimator = None
    if refit:
        best_estimator = clone(estimator).set_params(**seed_params, **best["params"]).fit(refit_data)
    return TuneResult(
        trials=trials, best_params=dict(best["params"]), best_score=float(best["value"]),
        best_trial=int(best["trial"]), best_estimator=best_estimator, metric=metric, method=method,
        budget=None if budget is None else float(budget), n_trials=n_trials, elapsed=elapsed,
        clock=clock,
        cpu_seconds=cpu, space=dict(space),
    )


def _row(row: dict[str, Any], state: str, value: float, fold_values: list[float], epochs: list[int],
         best_epochs: list[Any], t0: float, c0: float, start: float, error: str) -> dict[str, Any]:
    now = time.perf_counter()
    return {
        **row, "state": state, "value": value,
        "epochs": int(np.sum(epochs)) if epochs else None,
        "best_epoch": best_epochs[0] if len(best_epochs) == 1 else None,
        "seconds": round(now - t0, 3), "cpu_seconds": round(time.process_time() - c0, 3),
        "elapsed": round(now - start, 3),
        "fold_values": " ".join(f"{v:.5f}" for v in fold_values), "error": error,
    }


def _concat(train: Interactions, valid: Interactions) -> Interactions:
    from graphrec.data.datasets import concat_interactions

    return concat_interactions([train, valid])


def _epoch_callback(valid: Interactions, metric: str, k: int, trial: Any, deadline: float | None,
                    now: Callable[[], float],
                    evaluate: Callable[..., dict[str, Any]]) -> Callable[[Any, dict[str, Any]], bool]:
    """The per-epoch callback of one fit: report the metric, prune, and keep the deadline.

    Sets ``outcome`` ("pruned" or "stopped") on itself when it stops the fit, and
    ``last`` to the last reported value.
    """

    def callback(model: Any, record: dict[str, Any]) -> bool:
        if deadline is not None and now() >= deadline:
            callback.outcome = "stopped"  # type: ignore[attr-defined]
            return True
        if trial is None:
            return False
        value = record.get("metrics", {}).get(metric)
        if value is None:
            value = evaluate(model, valid, k=(k,))[metric]
        value = float(value)
        callback.last = value  # type: ignore[attr-defined]
        if not math.isfinite(value):
            callback.outcome = "pruned"  # type: ignore[attr-defined]
            return True
        trial.report(value, int(record.get("epoch", 0)))
        if trial.should_prune():
            callback.outcome = "pruned"  # type: ignore[attr-defined]
            return True
        return False

    callback.outcome = None  # type: ignore[attr-defined]
    callback.last = None  # type: ignore[attr-defined]
    return callback


def _proposals(method: str, dims: Mapping[str, Dimension], n_grid: int, random_state: int,
               n_trials: int | None) -> Any:
    """Iterator of trial choices (labels) for the grid and random methods."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if method == "grid":
        grid = ParameterGrid({name: dim.grid(n_grid) for name, dim in dims.items()})
        return iter([{n: p[n] for n in dims} for p in grid])
    if method == "random":
        n_iter = n_trials if n_trials is not None else 100_000
        discrete = all(isinstance(d, Categorical) for d in dims.values())
        if discrete:  # ParameterSampler samples a finite grid without replacement; cap n_iter at its size
            n_iter = min(n_iter, math.prod(len(d.grid(0)) for d in dims.values()))
        sampler = ParameterSampler({name: dim.scipy() for name, dim in dims.items()}, n_iter,
                                   random_state=random_state)
        return ({n: _python(p[n]) for n in dims} for p in sampler)
    return iter(())
