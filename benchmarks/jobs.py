"""One benchmark job of the suite: a graphrec model or a peer library's, on one dataset.

A job runs inside one process (the suite starts a fresh one per job, so the peak
memory it reports is its own). graphrec models run through the package's own
runner, :mod:`graphrec.benchmark` (what ``graphrec benchmark`` uses, with the
recipes of :mod:`graphrec.recipes`); this module adds the peers of ``peers.py``
and the PyG-vs-ours LightGCN comparison. ``run_job`` returns a JSON-able dict;
``run.py`` saves it with the fitted model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import graphrec as gr
from graphrec.benchmark import (
    FULL_DATASETS,
    KS,
    QUICK_DATASETS,
    QUICK_TIME_CAP,
    UNRECORDED_BUDGET,
    curve_callback,
    data_stats,
    diversity_features,
    fit_evaluate,
    fit_job,
    load_bench_dataset,
    machine,
    median_step_seconds,
    model_params,
    peak_memory_mb,
    source_revision,
    write_json,
)
from graphrec.benchmark import finish as _finish_run
from graphrec.benchmark import run_job as run_graphrec_job
from graphrec.benchmark import versions as graphrec_versions
from graphrec.data.datasets import Dataset
from graphrec.recipes import has_recorded_settings

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

__all__ = [
    "FULL_DATASETS",
    "KS",
    "QUICK_DATASETS",
    "QUICK_TIME_CAP",
    "UNRECORDED_BUDGET",
    "curve_callback",
    "diversity_features",
    "fit_evaluate",
    "has_recorded_settings",
    "load_bench_dataset",
    "machine",
    "median_step_seconds",
    "model_params",
    "peak_memory_mb",
    "pyg_budget_cap",
    "pyg_row_params",
    "run_job",
    "source_revision",
    "versions",
    "write_json",
]

#: the wall-clock budget of the PyG-vs-ours comparison is capped at this many seconds
#: ("full" for datasets without their own entry)
PYG_BUDGET_CAP = {"quick": 1.0, "full": 45.0, "gowalla": 120.0}


def pyg_budget_cap(dataset: str, quick: bool) -> float:
    """The cap on the wall-clock budget of the PyG-vs-ours comparison on ``dataset``."""
    return PYG_BUDGET_CAP["quick"] if quick else PYG_BUDGET_CAP.get(dataset, PYG_BUDGET_CAP["full"])


def versions() -> dict[str, str]:
    """Versions of graphrec, Python, the libraries a benchmark depends on and the peers."""
    from peers import peer_versions

    return {**graphrec_versions(), **peer_versions()}


def _finish(result: dict[str, Any], quick: bool) -> dict[str, Any]:
    _finish_run(result, quick)
    result["versions"] = versions()
    return result


def run_job(dataset: str, model_name: str, *, quick: bool, root: str | None = None, seed: int = 0,
            cache_dir: Path | None = None, time_cap: float | None = None,
            curve_every: int | None = None) -> tuple[dict[str, Any], Any]:
    """Run one (dataset, model) job; return (result dict, fitted model).

    graphrec models run through :func:`graphrec.benchmark.run_job`. ``pyg-lightgcn``
    also fits our LightGCN twice (same wall clock, same epochs) for the comparison in
    ``result["comparison"]``, which always runs PyG's example recipe at our LightGCN's
    dim/layers/batch; the row itself is that run, or, where ``peers.py`` records a setting
    for the dataset (:func:`peers.pyg_tuned_settings`), a separate fit of that setting.
    ``curve_every`` (models trained by epochs only) records the test Recall@20-vs-minutes
    curve in ``result["curve"]``.
    """
    from peers import PEER_QUICK, PEERS, PYG_EXAMPLE_RECIPE, peer_settings, pyg_tuned_settings

    if model_name not in PEERS:
        result, model = run_graphrec_job(dataset, model_name, quick=quick, root=root, seed=seed,
                                         cache_dir=cache_dir, time_cap=time_cap, curve_every=curve_every)
        result["versions"] = versions()
        return result, model
    t0 = time.perf_counter()
    ds = load_bench_dataset(dataset, root)
    load_seconds = time.perf_counter() - t0
    features, features_what = diversity_features(ds, cache_dir)
    if model_name == "pyg-lightgcn":
        ours_cls = gr.models.get_model_class("lightgcn")  # KeyError if ours is not registered: the suite skips
        ours = model_params("lightgcn", dataset, quick, seed, ours_cls)
        tuned = pyg_tuned_settings(dataset)
        if tuned is not None:
            return _pyg_tuned(dataset, ds, ours_cls, ours, tuned, quick, seed, features, load_seconds,
                              features_what, t0, curve_every)
        return _compare_lightgcn(dataset, ds, ours_cls, ours, dict(PYG_EXAMPLE_RECIPE), quick, seed,
                                 features, load_seconds, features_what)
    params = {**peer_settings(model_name, dataset), **(PEER_QUICK.get(model_name, {}) if quick else {})}
    params.setdefault("random_state", seed)
    model = PEERS[model_name](**params)
    result = fit_job(model, ds, features, name=model_name, start=t0, curve_every=curve_every)
    history = result.pop("history", None)
    result.update(dataset=dataset, model=model_name, kind="peer", load_seconds=load_seconds,
                  diversity_features=features_what, data=data_stats(ds), settings_source="benchmarks/peers.py")
    if history is not None:
        result["history"] = history
    return _finish(result, quick), model


def pyg_row_params(tuned: dict[str, Any], ours: dict[str, Any], ours_defaults: dict[str, Any], *,
                   quick: bool, dataset: str, seed: int) -> dict[str, Any]:
    """The parameters of a recorded ``pyg-lightgcn`` setting as the suite fits it.

    Keys the setting lacks among embedding_dim, n_layers, batch_size and epochs come from our
    LightGCN's (``ours``, then its class defaults); ``random_state`` defaults to the suite's
    seed. It runs by its epochs (no time budget unless it records one); with ``quick`` its
    time budget is capped at :func:`pyg_budget_cap`.
    """
    shape = {k: ours.get(k, ours_defaults[k]) for k in ("embedding_dim", "n_layers", "batch_size", "epochs")}
    params = {**shape, **tuned}
    params.setdefault("random_state", seed)
    if quick:
        cap = pyg_budget_cap(dataset, quick)
        params["time_budget"] = cap if params.get("time_budget") is None else min(float(params["time_budget"]), cap)
    return params


def _pyg_tuned(dataset: str, ds: Dataset, ours_cls: type, ours: dict[str, Any], tuned: dict[str, Any],
               quick: bool, seed: int, features: np.ndarray, load_seconds: float, features_what: str,
               start: float, curve_every: int | None) -> tuple[dict[str, Any], Any]:
    """The pyg-lightgcn row from the setting recorded for ``dataset``; the example-recipe comparison beside it."""
    from peers import PYG_EXAMPLE_RECIPE, PyGLightGCN

    params = pyg_row_params(tuned, ours, ours_cls().get_params(), quick=quick, dataset=dataset, seed=seed)
    pyg = PyGLightGCN(**params)
    result = fit_job(pyg, ds, features, name="pyg-lightgcn", start=start, curve_every=curve_every)
    history = result.pop("history", None)
    result.update(dataset=dataset, model="pyg-lightgcn", kind="peer", load_seconds=load_seconds,
                  diversity_features=features_what, data=data_stats(ds), steps=pyg.steps_,
                  step_seconds=pyg.step_seconds_, epochs=pyg.epochs_done_,
                  settings_source="benchmarks/peers.py, recorded for this dataset (PEER_SETTINGS_BY_DATASET)")
    if history is not None:
        result["history"] = history
    example, _ = _compare_lightgcn(dataset, ds, ours_cls, ours, dict(PYG_EXAMPLE_RECIPE), quick, seed,
                                   features, load_seconds, features_what)
    result["comparison"] = example["comparison"]
    return _finish(result, quick), pyg


def _compare_lightgcn(dataset: str, ds: Dataset, ours_cls: type, ours: dict[str, Any],
                      recipe: dict[str, Any], quick: bool, seed: int, features: np.ndarray,
                      load_seconds: float, features_what: str) -> tuple[dict[str, Any], Any]:
    """PyG's LightGCN vs ours at equal dim/layers/batch: speed per step, accuracy at equal wall clock
    and at equal epochs (when PyG completes at least one epoch within the budget)."""
    import torch_geometric.nn  # noqa: F401  (imported before any timing)
    from peers import PyGLightGCN

    defaults = ours_cls().get_params()
    shape = {k: ours.get(k, defaults[k]) for k in ("embedding_dim", "n_layers", "batch_size", "epochs")}
    recorded_budget = ours.get("time_budget")
    cap = pyg_budget_cap(dataset, quick)
    budget = cap if recorded_budget is None else min(float(recorded_budget), cap)

    pyg = PyGLightGCN(**shape, **recipe, time_budget=budget, keep_epoch_embeddings=True, random_state=seed)
    result = fit_evaluate(pyg, ds, features)
    result.update(dataset=dataset, model="pyg-lightgcn", kind="peer", load_seconds=load_seconds,
                  diversity_features=features_what, data=data_stats(ds), history=pyg.history_, steps=pyg.steps_,
                  step_seconds=pyg.step_seconds_, epochs=pyg.epochs_done_,
                  settings_source="benchmarks/peers.py, PyG's example recipe at our LightGCN's shape and budget")

    # ours at the same wall clock (its recorded settings, budget cut to the comparison's)
    ours_wall = fit_evaluate(ours_cls(**{**ours, "time_budget": budget}), ds, features)
    comparison: dict[str, Any] = {
        "shape": shape, "budget_seconds": budget, "recorded_budget_seconds": recorded_budget,
        "pyg_recipe": recipe, "ours_settings": ours_wall["settings"],
        "steps_per_epoch": pyg.steps_per_epoch_,
        "pyg": {"step_seconds": pyg.step_seconds_, "epoch_seconds": pyg.step_seconds_ * pyg.steps_per_epoch_,
                "epochs": pyg.epochs_done_, "steps": pyg.steps_, "fit_seconds": result["fit_seconds"],
                "metrics": _headline(result["metrics"])},
        "ours_equal_time": _summary(ours_wall, pyg.steps_per_epoch_),
    }
    if comparison["ours_equal_time"].get("step_seconds"):
        comparison["speed_ratio"] = pyg.step_seconds_ / comparison["ours_equal_time"]["step_seconds"]
    # equal epochs: as many whole epochs as PyG completed, fewer if ours would need over 1.5x the
    # budget for them; PyG's state after that epoch comes from its per-epoch snapshots
    pyg_full = pyg.steps_ // pyg.steps_per_epoch_
    ours_epoch = comparison["ours_equal_time"].get("epoch_seconds") or 0.0
    equal = pyg_full if ours_epoch <= 0 else min(pyg_full, int(1.5 * budget // ours_epoch))
    pyg_at = None
    if equal >= 1:
        twin = pyg.snapshot_model(equal)
        pyg_at = _headline(result["metrics"] if twin is None else gr.evaluate(twin, ds.test, k=KS))
    if equal < 1:
        why = (f"PyG completed {pyg.epochs_done_:.2f} of one epoch in {budget:.0f} s" if pyg_full < 1 else
               f"one epoch of ours takes {ours_epoch:.0f} s, over 1.5x the {budget:.0f} s budget")
        comparison["equal_epochs"] = {"skipped": why}
    else:
        params = {**ours, "epochs": equal, "time_budget": None}
        if "patience" in params:
            params["patience"] = None  # a fixed number of epochs, as PyG ran
        ours_e = _summary(fit_evaluate(ours_cls(**params), ds, features), pyg.steps_per_epoch_)
        comparison["equal_epochs"] = {"epochs": equal, "ours": ours_e, "pyg_metrics": pyg_at}
    result["comparison"] = comparison
    return _finish(result, quick), pyg


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: metrics[k] for k in ("recall@20", "ndcg@20", "precision@20", "map@20") if k in metrics}


def _summary(res: dict[str, Any], steps_per_epoch: int) -> dict[str, Any]:
    out = {"fit_seconds": res["fit_seconds"], "epochs": res.get("epochs"), "steps": res.get("steps"),
           "step_seconds": res.get("step_seconds"), "metrics": _headline(res["metrics"])}
    if out["step_seconds"]:
        out["epoch_seconds"] = out["step_seconds"] * steps_per_epoch
    return out
