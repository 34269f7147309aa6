"""The ``graphrec demo``: the whole library on the bundled MovieLens sample, in minutes.

:func:`run_demo` loads ``graphrec.datasets.load("sample")`` (no data root, no
network), trains the registered models among LightGCN, MF, GraphFilter and
Popularity under time budgets, evaluates them with the full-ranking protocol, lists
top-10 recommendations with titles for a few users with and without diversity
re-ranking, draws the neighbourhood of one user (PNG and interactive HTML) and writes
a Markdown report. The steps are the public functions of :mod:`graphrec.workflow`;
the hyperparameters are the recorded recipes of :mod:`graphrec.recipes` for the sample
(each model's ``"sample"`` entry) plus the demo's time budgets. Application layer: no
library module imports it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from graphrec.data.datasets import load as load_dataset
from graphrec.models import get_model_class
from graphrec.models.base import Recommender
from graphrec.recipes import DEMO_FAST, demo_settings
from graphrec.workflow import (
    build_model,
    evaluate_model,
    make_reranker,
    parse_labels,
    recommend_table,
    save_model,
)

__all__ = ["DEMO_MODELS", "DEMO_SETTINGS", "DemoResult", "demo_folder", "demo_models", "run_demo"]

logger = logging.getLogger(__name__)

#: models the demo compares, in the order they are trained (unregistered ones are skipped)
DEMO_MODELS = ("popularity", "mf", "graphfilter", "lightgcn")
#: hyperparameters per model, derived (read-only view): the recorded recipe on the sample
#: (:func:`graphrec.recipes.demo_settings`) plus the demo's time budget; the recipes live in
#: :mod:`graphrec.recipes` alone
DEMO_SETTINGS: Mapping[str, dict[str, Any]] = MappingProxyType({name: demo_settings(name) for name in DEMO_MODELS})
#: overrides when the budgets are scaled down (``budget_scale < 1``, ``graphrec demo --fast``)
FAST_SETTINGS: Mapping[str, dict[str, Any]] = MappingProxyType(dict(DEMO_FAST))
_BUDGET_KEYS = ("time_budget",)
MANIFEST = ".graphrec-demo.json"  # what a demo run wrote into its folder (replaced by the next run)
RUN_FILE = "run.json"  # the run's facts (date, load, per model: settings, epochs, metrics): tools/readme_tables.py
METRIC_COLUMNS = ("recall@20", "ndcg@20", "precision@20", "recall@10", "ndcg@10", "coverage@20")


@dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    metrics : DataFrame
        One row per model (recall, NDCG, ... at 10 and 20, fit seconds).
    recommendations : DataFrame
        user, rank, item, score, title, genre and ``rerank`` ("none" or the re-ranker).
    best : str
        The model whose recommendations are shown (LightGCN when trained).
    files : dict of str to Path
        What was written: report, metrics, recommendations, neighbourhood, model.
    seconds : dict of str to float
        Wall time per stage and in total.
    notes : list of str
        Steps skipped and why (a model not registered).
    """

    metrics: pd.DataFrame
    recommendations: pd.DataFrame
    best: str
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def demo_models(names: Sequence[str] = DEMO_MODELS) -> tuple[list[str], list[str]]:
    """Split ``names`` into (registered, not registered) model names."""
    found, missing = [], []
    for name in names:
        try:
            get_model_class(name)
            found.append(name)
        except KeyError:
            missing.append(name)
    return found, missing


def _settings(name: str, scale: float) -> dict[str, Any]:
    known = get_model_class(name)().get_params()
    params = {}
    settings = demo_settings(name, fast=scale < 1)
    for key, value in settings.items():
        if key not in known:
            logger.warning("demo setting %s=%r is not a %s hyperparameter; skipped", key, value, name)
            continue
        if key in _BUDGET_KEYS:
            value = value * scale
        elif key == "epochs":
            value = max(1, round(value * scale))
        params[key] = value
    return params


def _pick_users(model: Recommender, n: int, users: Sequence[Any] | None) -> list[Any]:
    if users is not None:
        return parse_labels(model.users_, [str(u) for u in users]).tolist()
    degrees = np.diff(model.seen_.indptr)
    idx = np.flatnonzero((degrees >= 20) & (degrees <= 200))[:n]
    return model.users_.to_labels(idx).tolist()


def _genres(frame: pd.DataFrame, info: pd.DataFrame, model: Recommender) -> pd.Series:
    idx = model.items_.to_index(frame["item"].to_numpy())
    return pd.Series(info["category"].to_numpy()[idx], index=frame.index)


def run_demo(
    out: str | os.PathLike = "graphrec-demo",
    *,
    models: Sequence[str] = DEMO_MODELS,
    users: Sequence[Any] | None = None,
    n_users: int = 3,
    k: int = 10,
    rerank: str = "mmr",
    budget_scale: float = 1.0,
    random_state: int = 0,
    device: str = "auto",
    verbose: bool = False,
    echo: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo end to end and write its outputs to ``out``.

    Parameters
    ----------
    out : path, default "graphrec-demo"
        Output folder (created): ``report.md``, ``metrics.csv``,
        ``recommendations.csv``, ``neighborhood.png``/``.html``, ``model/`` and
        ``run.json`` (date, load, per model its settings, epochs and metrics: what
        ``tools/readme_tables.py`` records for README's demo table). A folder
        holding other files is never written into: see :func:`demo_folder`.
    models : sequence of str
        Registry names to compare; names not registered yet are skipped (noted).
    users : sequence of user ids, optional
        MovieLens user ids to show; default the first ``n_users`` with 20-200 ratings.
    n_users, k : int
    rerank : {"mmr", "dpp"}
        Diversity re-ranker shown beside the plain ranking.
    budget_scale : float, default 1.0
        Multiplies the epochs and time budgets of the recipes
        (:func:`graphrec.recipes.demo_settings`; 0.1 for a smoke run); below 1, the
        overrides of ``graphrec.recipes.DEMO_FAST`` also apply.
    random_state : int
    device : str
    verbose : bool
        Progress bars while training.
    echo : callable, optional
        Called with each progress line (e.g. ``print``).

    Returns
    -------
    DemoResult

    Examples
    --------
    >>> res = run_demo("gr-demo", models=["popularity"], budget_scale=0.1)  # doctest: +SKIP
    >>> res.metrics.loc["popularity", "recall@20"] > 0  # doctest: +SKIP
    True
    """
    say = echo or (lambda _msg: None)
    start = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = _load()
    out = demo_folder(out, say)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    notes: list[str] = []
    names, missing = demo_models(models)
    if missing:
        notes.append(f"not available in this graphrec (not registered yet): {', '.join(missing)}")
    if not names:
        raise ValueError(f"none of the models {list(models)} is registered")

    t0 = time.perf_counter()
    ds = load_dataset("sample")
    info = ds.item_info
    seconds["load"] = time.perf_counter() - t0
    say(f"data: {ds!r}")
    say("split: per user, the latest 20% of ratings are the test set, the latest 10% of the rest validation")

    results: dict[str, dict[str, Any]] = {}
    fitted: dict[str, Recommender] = {}
    runs: dict[str, dict[str, Any]] = {}
    for name in names:
        model = build_model(name, _settings(name, budget_scale), random_state=random_state,
                            device=device, verbose=verbose)
        say(f"training {type(model).__name__} ...")
        t0 = time.perf_counter()
        model.fit(ds.train, ds.valid)
        fit_s = time.perf_counter() - t0
        metrics = evaluate_model(model, ds.test, (10, 20), item_info=info)
        metrics["fit_s"] = fit_s
        results[name], fitted[name] = metrics, model
        runs[name] = {"settings": _settings(name, budget_scale), "fit_s": fit_s,
                      "epochs": len(getattr(model, "history_", None) or []) or None,
                      "stopped": getattr(model, "stopped_", None),
                      "metrics": {k: v for k, v in metrics.items() if "@" in k}}
        say(f"  {name}: recall@20={metrics['recall@20']:.4f} ndcg@20={metrics['ndcg@20']:.4f} "
            f"(fit {fit_s:.1f} s{_epochs_note(model)})")
    seconds["train+evaluate"] = time.perf_counter() - start - seconds["load"]
    table = metrics_table(results)
    best = "lightgcn" if "lightgcn" in fitted else str(table["ndcg@20"].idxmax())
    model = fitted[best]

    t0 = time.perf_counter()
    shown = _pick_users(model, n_users, users)
    frames = []
    plain = recommend_table(model, shown, k, item_info=info)
    plain["rerank"] = "none"
    frames.append(plain)
    reranked = recommend_table(model, shown, k, item_info=info, rerank=make_reranker(rerank, model, info))
    reranked["rerank"] = rerank
    frames.append(reranked)
    recs = pd.concat(frames, ignore_index=True)
    recs["genre"] = _genres(recs, info, model)
    seconds["recommend"] = time.perf_counter() - t0

    files = {"model": save_model(model, out / "model", item_info=info, data={"source": "sample"},
                                 overwrite=True)}
    t0 = time.perf_counter()
    files.update(_draw(model, shown[0], k, info, out))
    seconds["visualise"] = time.perf_counter() - t0

    table.to_csv(out / "metrics.csv")
    recs.to_csv(out / "recommendations.csv", index=False)
    files["metrics"], files["recommendations"] = out / "metrics.csv", out / "recommendations.csv"
    seconds["total"] = time.perf_counter() - start
    run = {"started": started, "load_before": load_before, "load_after": _load(), "budget_scale": budget_scale,
           "random_state": random_state, "seconds": seconds, "models": runs}
    (out / RUN_FILE).write_text(json.dumps(run, indent=1, default=str))
    files["run"] = out / RUN_FILE
    result = DemoResult(table, recs, best, files, seconds, notes)
    files["report"] = _write_report(result, ds, out)
    (out / MANIFEST).write_text(json.dumps(sorted({p.relative_to(out).parts[0] for p in files.values()})))
    say(f"done in {seconds['total']:.0f} s; report: {files['report']}")
    return result


def demo_folder(out: str | os.PathLike, echo: Callable[[str], None] | None = None) -> Path:
    """The folder the demo writes to: ``out``, or a fresh sibling if that would replace user files.

    ``out`` is used when it does not exist, is empty, or holds only what an earlier demo
    run wrote there (listed in its ``.graphrec-demo.json``; ``echo`` is told what is
    replaced). Otherwise (a file, or a folder with other files) the demo writes to the
    first free ``out-2``, ``out-3``, ... and says so: it never replaces what it did not write.

    Examples
    --------
    >>> demo_folder("no-such-demo-folder").name
    'no-such-demo-folder'
    """
    say = echo or (lambda _msg: None)
    out = Path(out)
    if not out.exists():
        return out
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir())
        if not entries:
            return out
        try:
            ours = set(json.loads((out / MANIFEST).read_text()))
        except (OSError, ValueError, TypeError):
            ours = set()
        if ours and set(entries) <= ours | {MANIFEST}:
            say(f"replacing the previous demo run in {out}: {', '.join(e for e in entries if e != MANIFEST)}")
            return out
    n = 2
    while Path(f"{out}-{n}").exists():
        n += 1
    fresh = Path(f"{out}-{n}")
    what = "is a file" if not out.is_dir() else "holds files the demo did not write"
    say(f"{out} {what}; writing this run to {fresh} instead (nothing is replaced)")
    logger.warning("%s %s; the demo writes to %s", out, what, fresh)
    return fresh


def _draw(model: Recommender, user: Any, k: int, info: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Neighbourhood PNG and HTML of ``user`` (matplotlib and plotly are imported here, when drawn)."""
    from graphrec import viz

    u = int(model.users_.to_index([user])[0])
    png = Path(viz.save_figure(viz.neighborhood(model, user=u, k=k, item_info=info, ids="index"),
                               out / "neighborhood.png"))
    viz.neighborhood_html(model, user=u, k=k, item_info=info, path=out / "neighborhood.html", ids="index")
    return {"neighborhood_png": png, "neighborhood_html": out / "neighborhood.html"}


def _epochs_note(model: Recommender) -> str:
    """", 2 of 60 epochs: its time budget stopped it" for a budget-bound model (figures move with them)."""
    done = len(getattr(model, "history_", None) or [])
    planned = getattr(model, "epochs", None)
    if not done:
        return ""
    note = f", {done} of {planned} epochs" if isinstance(planned, int) else f", {done} epochs"
    if getattr(model, "stopped_", None) == "time_budget":
        note += (f": its {getattr(model, 'time_budget', 0):.0f} s time budget stopped it (a busier machine fits "
                 "fewer epochs and gets lower figures)")
    return note


def _load() -> list[float] | None:
    """The 1/5/15-minute load averages (None where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _write_report(res: DemoResult, ds: Any, out: Path) -> Path:
    """A short Markdown report of the run."""
    lines = [
        "# graphrec demo report",
        "",
        (f"Data: the bundled MovieLens sample: {ds.n_users:,} users, {ds.n_items:,} movies; "
        f"{ds.train.nnz:,} train, {0 if ds.valid is None else ds.valid.nnz:,} validation and "
        f"{ds.test.nnz:,} test ratings (each user's latest 20% are the test set)."),
        "",
        "## Accuracy (full ranking, seen items excluded)",
        "",
        markdown_table(res.metrics),
        "",
        f"## Top recommendations of {res.best}",
        "",
    ]
    recs = res.recommendations
    for user, group in recs.groupby("user", sort=False):
        wide = pd.DataFrame({"rank": group.loc[group["rerank"] == "none", "rank"].to_numpy()})
        counts = []
        for mode, part in group.groupby("rerank", sort=False):
            label = "by relevance" if mode == "none" else f"re-ranked ({mode})"
            titles = list(part["title"].fillna(part["item"].astype(str)))
            wide[label] = (titles + [""] * len(wide))[: len(wide)]
            counts.append(f"{label}: {part['genre'].nunique()} genres")
        genres = ", ".join(counts)
        lines += [f"User {user} ({genres})", "", markdown_table(wide, index=False), ""]
    if "neighborhood_png" in res.files:
        lines += ["## Neighbourhood", "", f"![neighbourhood]({res.files['neighborhood_png'].name})", ""]
    if "neighborhood_html" in res.files:
        lines += [(f"Interactive version: [{res.files['neighborhood_html'].name}]"
                  f"({res.files['neighborhood_html'].name})"), ""]
    lines += ["## Run", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {s} | {v:.1f} |" for s, v in res.seconds.items()]
    if res.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in res.notes]
    lines += ["", (f"The model is saved in `model/`: `graphrec recommend --model {out / 'model'} --user "
              f"{recs['user'].iloc[0]}`."), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def metrics_table(results: dict[str, dict[str, Any]], columns: Sequence[str] = METRIC_COLUMNS) -> pd.DataFrame:
    """One row per model: the chosen metrics plus ``fit_s`` when recorded.

    Examples
    --------
    >>> metrics_table({"pop": {"recall@20": 0.06, "fit_s": 0.1}}, ["recall@20"]).loc["pop"].tolist()
    [0.06, 0.1]
    """
    rows = {}
    for name, r in results.items():
        rows[name] = {c: r.get(c, np.nan) for c in columns}
        if "fit_s" in r:
            rows[name]["fit_s"] = r["fit_s"]
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def markdown_table(frame: pd.DataFrame, *, index: bool = True, floatfmt: str = ".4f") -> str:
    """A GitHub Markdown table (no optional dependency).

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"model": ["pop"], "recall@20": [0.0629]}), index=False))
    | model | recall@20 |
    |---|---:|
    | pop | 0.0629 |
    """
    f = frame.reset_index() if index else frame

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(map(str, f.columns)) + " |"
    rule = "|" + "|".join("---:" if f[c].dtype.kind in "iuf" else "---" for c in f.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in f.itertuples(index=False)]
    return "\n".join([head, rule, *body])
