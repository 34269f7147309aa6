"""One benchmark job: load a dataset, fit one model (ours or a peer), evaluate it.

A job runs inside one process (the suite starts a fresh one per job, so the peak
memory it reports is its own). ``run_job`` returns a JSON-able dict; ``run.py``
saves it with the fitted model.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import graphrec as gr
from graphrec.data.datasets import Dataset
from graphrec.data.interactions import Interactions

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from settings import SETTINGS, settings_for

__all__ = [
    "FULL_DATASETS",
    "QUICK_DATASETS",
    "diversity_features",
    "fit_evaluate",
    "load_bench_dataset",
    "machine",
    "model_params",
    "peak_memory_mb",
    "run_job",
    "source_revision",
    "versions",
    "write_json",
]

FULL_DATASETS = ("gowalla", "lastfm", "movielens-small")
QUICK_DATASETS = ("synthetic", "sample")
#: --quick caps every wall-clock budget (seconds) so smoke tests stay short
QUICK_TIME_CAP = 1.5
#: the wall-clock budget of the PyG-vs-ours comparison is capped at this many seconds
#: ("full" for datasets without their own entry)
PYG_BUDGET_CAP = {"quick": 1.0, "full": 45.0, "gowalla": 120.0}


def pyg_budget_cap(dataset: str, quick: bool) -> float:
    """The cap on the wall-clock budget of the PyG-vs-ours comparison on ``dataset``."""
    return PYG_BUDGET_CAP["quick"] if quick else PYG_BUDGET_CAP.get(dataset, PYG_BUDGET_CAP["full"])


#: seconds of training for a model that benchmarks/settings.py has no settings for (full mode)
UNRECORDED_BUDGET = 120.0
#: ks reported everywhere
KS = (10, 20)


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON: to a temporary file first, then renamed into place."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """CPU model, usable cores, memory and torch threads of this machine."""

    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count()
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {"cpu": _cpu_model(), "cores": cores, "memory_gb": mem_gb, "torch_threads": torch.get_num_threads(),
            "platform": platform.platform()}


def source_revision() -> str:
    """The git commit of the code being benchmarked, marked "+ uncommitted changes" when graphrec/ or
    benchmarks/ differ from it ("unknown" outside a git checkout)."""
    import subprocess

    root = HERE.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "graphrec", "benchmarks"], cwd=root,
                               capture_output=True, text=True, check=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def versions() -> dict[str, str]:
    """Versions of graphrec, Python and the libraries a benchmark depends on."""
    import scipy
    import sklearn
    import torch
    from peers import peer_versions

    return {"graphrec": gr.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
            **peer_versions()}


def load_bench_dataset(name: str, root: str | None = None) -> Dataset:
    """A named dataset (``graphrec.datasets.load``) or ``"synthetic"`` (planted communities, no files)."""
    if name == "synthetic":
        return gr.datasets.synthetic(n_users=400, n_items=300, n_communities=5, interactions_per_user=20,
                                     random_state=0)
    return gr.datasets.load(name, root=root)


def diversity_features(ds: Dataset, cache_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """Model-independent item features for intra-list diversity, and what they are.

    Item categories when the dataset has them (MovieLens: first genre; synthetic: the
    planted community); otherwise 64 item factors of a seeded truncated SVD of the
    normalised train matrix (``graph.normalized_interactions``), the same for every
    model, so diversity is comparable within a dataset. Cached under ``cache_dir``.
    """
    if ds.item_info is not None and "category" in ds.item_info.columns:
        return ds.item_info["category"].astype(str).to_numpy(), "share of pairs in different categories"
    what = "1 - cosine of 64-d item SVD factors of the train matrix"
    path = None if cache_dir is None else Path(cache_dir) / "item_svd64.npy"
    if path is not None and path.is_file():
        return np.load(path), what
    from sklearn.utils.extmath import randomized_svd

    r = gr.graph.normalized_interactions(ds.train)
    k = min(64, min(r.shape) - 1)
    _, s, vt = randomized_svd(r, k, n_iter=4, random_state=0)
    feats = np.ascontiguousarray((vt.T * s).astype(np.float32))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, feats)
        tmp.replace(path)
    return feats, what


def has_recorded_settings(model: str, dataset: str) -> bool:
    """Whether benchmarks/settings.py records settings of ``model`` for ``dataset`` (or for "*")."""
    per = SETTINGS.get(model, {})
    return dataset in per or "*" in per


def model_params(model: str, dataset: str, quick: bool, seed: int, cls: type,
                 time_cap: float | None = None) -> dict[str, Any]:
    """Recorded settings of ``model`` on ``dataset`` (benchmarks/settings.py), quick caps applied.

    A model without recorded settings runs with its class defaults, its ``time_budget``
    (when it has one) capped at ``UNRECORDED_BUDGET`` seconds; the report flags it.
    ``time_cap`` (the suite's, to fit its total time) caps ``time_budget`` likewise.
    """
    params = settings_for(model, dataset, quick)
    defaults = cls().get_params()
    if "random_state" in defaults:
        params.setdefault("random_state", seed)
    if time_cap is not None and "time_budget" in defaults:
        recorded = params.get("time_budget", defaults["time_budget"])
        params["time_budget"] = float(time_cap) if recorded is None else min(float(recorded), float(time_cap))
    unrecorded = not quick and not has_recorded_settings(model, dataset) and "time_budget" in defaults
    if unrecorded and params.get("time_budget", defaults["time_budget"]) is None:
        params["time_budget"] = UNRECORDED_BUDGET
    if quick and "time_budget" in defaults:
        budget = params.get("time_budget")
        params["time_budget"] = QUICK_TIME_CAP if budget is None else min(float(budget), QUICK_TIME_CAP)
    return params


def curve_callback(target: Interactions, every: int, start: float, points: list[dict[str, Any]],
                   *, last_epoch: int | None = None) -> Callable:
    """An epoch callback recording Recall/NDCG@20 on ``target`` every ``every`` epochs (and at
    ``last_epoch``) into ``points``, printing each point as a JSON line.

    For the record only (the Recall@20-vs-minutes curve): nothing is selected on
    it. ``minutes`` count from ``start`` (``time.perf_counter()``) to the point, so they
    include loading and the earlier points' evaluations.
    """

    def record(model: Any, rec: dict[str, Any]) -> None:
        if rec["epoch"] % every and rec["epoch"] != last_epoch:
            return
        t = time.perf_counter()
        r = gr.evaluate(model, target, k=(20,))
        point = {"epoch": rec["epoch"], "minutes": round((t - start) / 60, 3),
                 "train_loss": round(rec["loss"], 5),
                 "recall@20": round(r["recall@20"], 4), "ndcg@20": round(r["ndcg@20"], 4),
                 "eval_s": round(time.perf_counter() - t, 2), "load": round(os.getloadavg()[0], 2)}
        points.append(point)
        print(json.dumps(point), flush=True)

    return record


def fit_evaluate(model: Any, ds: Dataset, features: np.ndarray | None,
                 callbacks: Sequence[Callable] = ()) -> dict[str, Any]:
    """Fit (with the validation split when the dataset has one) and evaluate; timings included.

    ``callbacks`` go to ``fit`` (models trained by the engine call them after each epoch).
    """
    t0 = time.perf_counter()
    kwargs = {"callbacks": list(callbacks)} if callbacks else {}
    if ds.valid is not None:
        model.fit(ds.train, valid=ds.valid, **kwargs)
    else:
        model.fit(ds.train, **kwargs)
    fit_seconds = time.perf_counter() - t0
    metrics = gr.evaluate(model, ds.test, k=KS, item_features=features)
    history = getattr(model, "history_", None)
    out = {
        "settings": model.get_params(),
        "metrics": {k: v for k, v in metrics.items() if k != "seconds"},
        "fit_seconds": fit_seconds,
        "eval_seconds": metrics["seconds"],
        "epochs": len(history) if isinstance(history, list) else None,
        "stopped": getattr(model, "stopped_", None),
    }
    if isinstance(history, list) and history and "steps" in history[0]:
        out["steps"] = history[-1]["steps"]
        out["step_seconds"] = median_step_seconds(history)
    return out


def median_step_seconds(history: list[dict[str, Any]]) -> float:
    """Median over epochs of training seconds per step (``steps`` in history is cumulative).

    The last epoch counts only when it is the only one (it may be cut short by a budget).
    """
    per, previous = [], 0
    for h in history:
        n = h["steps"] - previous
        previous = h["steps"]
        if n > 0:
            per.append(h["seconds"] / n)
    return float(np.median(per[:-1] if len(per) > 1 else per)) if per else float("nan")


def _model_class(name: str) -> tuple[type, str]:
    from peers import PEERS

    if name in PEERS:
        return PEERS[name], "peer"
    from graphrec.models import get_model_class

    return get_model_class(name), "graphrec"


def run_job(dataset: str, model_name: str, *, quick: bool, root: str | None = None, seed: int = 0,
            cache_dir: Path | None = None, time_cap: float | None = None,
            curve_every: int | None = None) -> tuple[dict[str, Any], Any]:
    """Run one (dataset, model) job; return (result dict, fitted model).

    ``pyg-lightgcn`` also fits our LightGCN twice (same wall clock, same epochs) for
    the comparison in ``result["comparison"]``. ``curve_every`` (models trained by
    epochs only) records the test Recall@20-vs-minutes curve in ``result["curve"]``.
    """
    t0 = time.perf_counter()
    ds = load_bench_dataset(dataset, root)
    load_seconds = time.perf_counter() - t0
    features, features_what = diversity_features(ds, cache_dir)
    cls, kind = _model_class(model_name)
    if model_name == "pyg-lightgcn":
        from peers import PEER_SETTINGS

        ours_cls, _ = _model_class("lightgcn")  # KeyError if ours is not registered: the suite skips
        ours = model_params("lightgcn", dataset, quick, seed, ours_cls)
        return _compare_lightgcn(dataset, ds, ours_cls, ours, PEER_SETTINGS["pyg-lightgcn"], quick, seed,
                                 features, load_seconds, features_what)
    if kind == "peer":
        from peers import PEER_QUICK, PEER_SETTINGS

        params = {**PEER_SETTINGS.get(model_name, {}), **(PEER_QUICK.get(model_name, {}) if quick else {})}
        params.setdefault("random_state", seed)
    else:
        params = model_params(model_name, dataset, quick, seed, cls, time_cap)
    model = cls(**params)
    curve: list[dict[str, Any]] = []
    callbacks = []
    if curve_every:
        if "callbacks" not in inspect.signature(model.fit).parameters:
            raise ValueError(f"curve_every: {model_name} is not trained by epochs (its fit takes no callbacks)")
        callbacks.append(curve_callback(ds.test, int(curve_every), t0, curve))
    result = fit_evaluate(model, ds, features, callbacks)
    if curve_every:
        result["curve"] = curve
    result.update(dataset=dataset, model=model_name, kind=kind, load_seconds=load_seconds,
                  diversity_features=features_what, data=_data_stats(ds),
                  settings_source=_source(model_name, dataset, kind))
    if time_cap is not None and kind == "graphrec" and "time_budget" in params:
        recorded = settings_for(model_name, dataset).get("time_budget")
        result["time_cap"] = (f"time_budget {params['time_budget']:.0f} s set by the suite to fit its total time "
                              f"(recorded: {'no time budget' if recorded is None else f'{recorded} s'}, "
                              f"epochs {params.get('epochs', 'default')})")
    history = getattr(model, "history_", None)
    if isinstance(history, list):
        result["history"] = history
    return _finish(result, quick), model


def _source(model: str, dataset: str, kind: str) -> str:
    if kind == "peer":
        return "benchmarks/peers.py"
    if has_recorded_settings(model, dataset):
        return "benchmarks/settings.py"
    return ("class defaults: none recorded in benchmarks/settings.py "
            f"(time_budget capped at {UNRECORDED_BUDGET:.0f} s)")


def _data_stats(ds: Dataset) -> dict[str, Any]:
    return {"n_users": ds.n_users, "n_items": ds.n_items, "n_train": ds.train.nnz, "n_test": ds.test.nnz,
            "n_valid": None if ds.valid is None else ds.valid.nnz}


def _finish(result: dict[str, Any], quick: bool) -> dict[str, Any]:
    result.update(status="ok", mode="quick" if quick else "full", peak_memory_mb=peak_memory_mb(),
                  versions=versions(), machine=machine(), date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    return result


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
                  diversity_features=features_what, data=_data_stats(ds), history=pyg.history_, steps=pyg.steps_,
                  step_seconds=pyg.step_seconds_, epochs=pyg.epochs_done_)

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
