"""One benchmark run of a graphrec model: ``graphrec benchmark`` and the job inside ``benchmarks/``.

Application layer: it composes the public library (datasets, the model registry,
``evaluate``) with the recorded recipes of :mod:`graphrec.recipes`; no library
module imports it. It ships with the package, so ``graphrec benchmark`` works from
an installed graphrec, without a source checkout.

A run loads a dataset, fits one registered model with its recorded recipe, evaluates
it with the full-ranking protocol and returns a JSON-able dict (metrics, timings,
settings, peak memory, versions, machine); :func:`run_one` also writes
``OUT/<dataset>/<model>/results.json`` and the fitted model. The suite of a source
checkout (``python benchmarks/run.py --full``: peer libraries, one subprocess per
job, plots, ``benchmarks/RESULTS.md``) builds on these functions.

One module over the ~400-line guide, about half of it docstrings: the steps of a
run (settings, fit, evaluate, the record of machine and versions, the tables) fill
one result dict whose layout the suite's report reads, and are kept side by side.

Examples
--------
>>> res = run_one("synthetic", "popularity", quick=True, out=None, root=None)  # doctest: +SKIP
>>> print(format_table([res]))  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphrec.recipes import has_recorded_settings, settings_for

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from graphrec.data.datasets import Dataset
    from graphrec.data.interactions import Interactions

__all__ = [
    "FULL_DATASETS",
    "KS",
    "QUICK_DATASETS",
    "QUICK_TIME_CAP",
    "UNRECORDED_BUDGET",
    "curve_callback",
    "data_stats",
    "diversity_features",
    "finish",
    "fit_evaluate",
    "fit_job",
    "format_curve",
    "format_table",
    "load_bench_dataset",
    "machine",
    "median_step_seconds",
    "model_params",
    "peak_memory_mb",
    "run_job",
    "run_one",
    "settings_source",
    "source_revision",
    "versions",
    "write_json",
]

FULL_DATASETS = ("gowalla", "lastfm", "movielens-small")
QUICK_DATASETS = ("synthetic", "sample")
#: --quick caps every wall-clock budget (seconds) so smoke tests stay short
QUICK_TIME_CAP = 1.5
#: seconds of training for a model that graphrec.recipes has no settings for (full mode)
UNRECORDED_BUDGET = 120.0
#: ks reported everywhere
KS = (10, 20)

#: a job: (dataset, model name, quick=..., root=..., seed=..., cache_dir=..., time_cap=...,
#: curve_every=...) -> (result dict, fitted model)
Job = Callable[..., tuple[dict[str, Any], Any]]


# ---------------------------------------------------------------------- records
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
        cores = os.cpu_count() or 0
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {"cpu": _cpu_model(), "cores": cores, "memory_gb": mem_gb, "torch_threads": torch.get_num_threads(),
            "platform": platform.platform()}


def source_revision(root: str | Path | None = None) -> str:
    """The git commit of the code being benchmarked, marked "+ uncommitted changes" when graphrec/ or
    benchmarks/ differ from it ("unknown" outside a git checkout, e.g. an installed package).

    ``root`` is the checkout (default: the folder above the ``graphrec`` package).
    """
    import subprocess

    root = Path(__file__).resolve().parents[1] if root is None else Path(root)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "graphrec", "benchmarks"], cwd=root,
                               capture_output=True, text=True, check=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (" + uncommitted changes" if dirty else "")


def versions() -> dict[str, str]:
    """Versions of graphrec, Python and the libraries a run depends on."""
    import numpy as np
    import scipy
    import sklearn
    import torch

    import graphrec

    return {"graphrec": graphrec.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


# ---------------------------------------------------------------------- data and settings
def load_bench_dataset(name: str, root: str | None = None) -> Dataset:
    """A named dataset (``graphrec.datasets.load``) or ``"synthetic"`` (planted communities, no files)."""
    from graphrec.data.datasets import load
    from graphrec.data.synthetic import synthetic

    if name == "synthetic":
        return synthetic(n_users=400, n_items=300, n_communities=5, interactions_per_user=20, random_state=0)
    return load(name, root=root)


def diversity_features(ds: Dataset, cache_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """Model-independent item features for intra-list diversity, and what they are.

    Item categories when the dataset has them (MovieLens: first genre; synthetic: the
    planted community); otherwise 64 item factors of a seeded truncated SVD of the
    normalised train matrix (``graph.normalized_interactions``), the same for every
    model, so diversity is comparable within a dataset. Cached under ``cache_dir``.
    """
    import numpy as np

    if ds.item_info is not None and "category" in ds.item_info.columns:
        return ds.item_info["category"].astype(str).to_numpy(), "share of pairs in different categories"
    what = "1 - cosine of 64-d item SVD factors of the train matrix"
    path = None if cache_dir is None else Path(cache_dir) / "item_svd64.npy"
    if path is not None and path.is_file():
        return np.load(path), what
    from sklearn.utils.extmath import randomized_svd

    from graphrec.graph import normalized_interactions

    r = normalized_interactions(ds.train)
    k = min(64, min(r.shape) - 1)
    _, s, vt = randomized_svd(r, k, n_iter=4, random_state=0)
    feats = np.ascontiguousarray((vt.T * s).astype(np.float32))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, feats)
        tmp.replace(path)
    return feats, what


def model_params(model: str, dataset: str, quick: bool, seed: int, cls: type,
                 time_cap: float | None = None) -> dict[str, Any]:
    """Recorded settings of ``model`` on ``dataset`` (:mod:`graphrec.recipes`), quick caps applied.

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


def settings_source(model: str, dataset: str) -> str:
    """Where a graphrec model's settings in a run came from (shown in the report)."""
    if has_recorded_settings(model, dataset):
        return "graphrec/recipes.py"
    return f"class defaults: none recorded in graphrec/recipes.py (time_budget capped at {UNRECORDED_BUDGET:.0f} s)"


# ---------------------------------------------------------------------- fit and evaluate
def curve_callback(target: Interactions, every: int, start: float, points: list[dict[str, Any]],
                   *, last_epoch: int | None = None) -> Callable[[Any, dict[str, Any]], None]:
    """An epoch callback recording Recall/NDCG@20 on ``target`` every ``every`` epochs (and at
    ``last_epoch``) into ``points``, printing each point as a JSON line.

    For the record only (the Recall@20-vs-minutes curve): nothing is selected on
    it. ``minutes`` count from ``start`` (``time.perf_counter()``) to the point, so they
    include loading and the earlier points' evaluations.
    """
    from graphrec.evaluation import evaluate

    def record(model: Any, rec: dict[str, Any]) -> None:
        if rec["epoch"] % every and rec["epoch"] != last_epoch:
            return
        t = time.perf_counter()
        r = evaluate(model, target, k=(20,))
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
    from graphrec.evaluation import evaluate

    t0 = time.perf_counter()
    kwargs = {"callbacks": list(callbacks)} if callbacks else {}
    if ds.valid is not None:
        model.fit(ds.train, valid=ds.valid, **kwargs)
    else:
        model.fit(ds.train, **kwargs)
    fit_seconds = time.perf_counter() - t0
    metrics = evaluate(model, ds.test, k=KS, item_features=features)
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
    import numpy as np

    per, previous = [], 0
    for h in history:
        n = h["steps"] - previous
        previous = h["steps"]
        if n > 0:
            per.append(h["seconds"] / n)
    return float(np.median(per[:-1] if len(per) > 1 else per)) if per else float("nan")


def data_stats(ds: Dataset) -> dict[str, Any]:
    """Users, items and interactions of each split of ``ds``."""
    return {"n_users": ds.n_users, "n_items": ds.n_items, "n_train": ds.train.nnz, "n_test": ds.test.nnz,
            "n_valid": None if ds.valid is None else ds.valid.nnz}


def finish(result: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Mark ``result`` ok and add mode, peak memory, versions, machine and date."""
    result.update(status="ok", mode="quick" if quick else "full", peak_memory_mb=peak_memory_mb(),
                  versions=versions(), machine=machine(), date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    return result


def fit_job(model: Any, ds: Dataset, features: np.ndarray | None, *, name: str, start: float,
            curve_every: int | None = None) -> dict[str, Any]:
    """:func:`fit_evaluate` plus the test curve every ``curve_every`` epochs and the history.

    Raises
    ------
    ValueError
        ``curve_every`` for a model not trained by epochs (its ``fit`` takes no callbacks).
    """
    curve: list[dict[str, Any]] = []
    callbacks = []
    if curve_every:
        if "callbacks" not in inspect.signature(model.fit).parameters:
            raise ValueError(f"curve_every: {name} is not trained by epochs (its fit takes no callbacks)")
        callbacks.append(curve_callback(ds.test, int(curve_every), start, curve))
    result = fit_evaluate(model, ds, features, callbacks)
    if curve_every:
        result["curve"] = curve
    history = getattr(model, "history_", None)
    if isinstance(history, list):
        result["history"] = history
    return result


def run_job(dataset: str, model_name: str, *, quick: bool, root: str | None = None, seed: int = 0,
            cache_dir: Path | None = None, time_cap: float | None = None,
            curve_every: int | None = None) -> tuple[dict[str, Any], Any]:
    """Run one (dataset, graphrec model) job with its recorded recipe; return (result dict, fitted model).

    Raises
    ------
    KeyError
        ``model_name`` is not in graphrec's registry, or an unknown dataset.
    FileNotFoundError
        The dataset is not on disk.
    ValueError
        ``curve_every`` for a model not trained by epochs.
    """
    from graphrec.models import get_model_class

    t0 = time.perf_counter()
    cls = get_model_class(model_name)
    ds = load_bench_dataset(dataset, root)
    load_seconds = time.perf_counter() - t0
    features, features_what = diversity_features(ds, cache_dir)
    params = model_params(model_name, dataset, quick, seed, cls, time_cap)
    model = cls(**params)
    result = fit_job(model, ds, features, name=model_name, start=t0, curve_every=curve_every)
    result.update(dataset=dataset, model=model_name, kind="graphrec", load_seconds=load_seconds,
                  diversity_features=features_what, data=data_stats(ds),
                  settings_source=settings_source(model_name, dataset))
    if time_cap is not None and "time_budget" in params:
        recorded = settings_for(model_name, dataset).get("time_budget")
        result["time_cap"] = (f"time_budget {params['time_budget']:.0f} s set by the suite to fit its total time "
                              f"(recorded: {'no time budget' if recorded is None else f'{recorded} s'}, "
                              f"epochs {params.get('epochs', 'default')})")
    if "history" in result:  # after the other keys, where the results JSON has always had it
        result["history"] = result.pop("history")
    return finish(result, quick), model


def run_one(dataset: str, model_name: str, *, quick: bool, out: str | Path | None, root: str | None,
            seed: int = 0, time_cap: float | None = None, curve_every: int | None = None,
            job: Job = run_job) -> dict[str, Any]:
    """Load, fit, evaluate and save one (dataset, model) pair; return the results dict.

    Parameters
    ----------
    dataset : str
        A name of ``graphrec.datasets.available()`` or ``"synthetic"``.
    model_name : str
        A registered model (``graphrec models``).
    quick : bool
        Small budgets (``graphrec.recipes.QUICK``, training capped at ``QUICK_TIME_CAP`` s).
    out : path or None
        Writes ``out/<dataset>/<model>/results.json`` and, for graphrec models, the
        fitted model in ``out/<dataset>/<model>/model`` (``graphrec.load`` reads it back).
    root : str or None
        Data root for named datasets.
    seed : int, default 0
    time_cap : float, optional
        Cap on the model's ``time_budget`` in seconds.
    curve_every : int, optional
        Record the test Recall@20-vs-minutes curve every that many epochs (``result["curve"]``).
    job : callable, default :func:`run_job`
        What runs the job (``benchmarks/`` passes one that also knows the peer libraries).

    Returns
    -------
    dict
        The results (``metrics``, ``fit_seconds``, ``eval_seconds``, ``settings``, ...).
    """
    target = None if out is None else Path(out) / dataset / model_name
    result, model = job(dataset, model_name, quick=quick, root=root, seed=seed,
                        cache_dir=None if out is None else Path(out) / dataset, time_cap=time_cap,
                        curve_every=curve_every)
    if target is not None:
        target.mkdir(parents=True, exist_ok=True)
        if result["kind"] == "graphrec":
            model.save(target / "model", overwrite=True)  # the previous run of this job
            result["model_path"] = str(target / "model")
        write_json(target / "results.json", result)
    return result


# ---------------------------------------------------------------------- tables
def format_table(results: list[dict[str, Any]]) -> str:
    """A Markdown table of the headline figures of single runs."""
    cols = ["recall@20", "ndcg@20", "precision@20", "map@20", "recall@10", "ndcg@10", "coverage@20"]
    head = "| dataset | model | " + " | ".join(cols) + " | fit s | eval s | peak MB |"
    lines = [head, "|" + "---|" * (len(cols) + 5)]
    for r in results:
        m = r["metrics"]
        vals = " | ".join(f"{m.get(c, float('nan')):.4f}" for c in cols)
        lines.append(f"| {r['dataset']} | {r['model']} | {vals} | {r['fit_seconds']:.1f} | "
                     f"{r['eval_seconds']:.1f} | {r['peak_memory_mb']:.0f} |")
    return "\n".join(lines)


def format_curve(curve: list[dict[str, Any]]) -> str:
    """The Recall@20-vs-minutes curve of one run as a Markdown table."""
    lines = ["| epoch | minutes | Recall@20 | NDCG@20 |", "|---|---|---|---|"]
    lines += [f"| {p['epoch']} | {p['minutes']:.1f} | {p['recall@20']:.4f} | {p['ndcg@20']:.4f} |" for p in curve]
    return "\n".join(lines)
