"""The best graphrec model per dataset: an Ensemble of recorded members (``graphrec.recipes.BEST``).

Usage::

    # the recipe: fit the members on train, fuse with the recorded weights (or choose them on a
    # validation carve when none are recorded), evaluate on test once, save DIR/<dataset>/best/model
    python benchmarks/run.py --dataset gowalla --model best --out DIR

    # choose the weights: members fitted on train minus a 10% per-user carve, every weight of the
    # grid scored on the carve (test is not read); prints the grid and the members' own figures
    python benchmarks/best.py --select --dataset gowalla [--json OUT]

    # second opinion on a saved model: benchmarks/independent_eval.py (raw train.txt/test.txt,
    # no graphrec code) and the per-user standard error of graphrec's own figures
    python benchmarks/best.py --check-saved DIR/gowalla/best/model

The members and settings live in ``graphrec/recipes.py`` (``BEST``); see RESULTS.md,
issue 17, for the figures and where each choice came from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import graphrec as gr
from graphrec.benchmark import (
    KS,
    QUICK_TIME_CAP,
    data_stats,
    diversity_features,
    finish,
    load_bench_dataset,
    write_json,
)
from graphrec.recipes import BEST, QUICK

__all__ = ["build_best", "independent_check", "main", "run_best_job", "select_weights", "standard_errors"]


def _recipe(dataset: str, quick: bool, names: list[str] | None = None) -> dict[str, Any]:
    from graphrec.models import get_model_class

    key = dataset if dataset in BEST else "gowalla"  # other datasets run the Gowalla recipe's shape
    recipe = BEST[key]
    listed = recipe["members"] if names is None else [(n, {}) for n in names]
    members = []
    for name, params in listed:
        params = dict(params)
        if key != dataset or names is not None or not params:  # not tuned there: the members' own recorded recipes for that dataset
            params = gr.recipes.settings_for(name, dataset) | {"random_state": params.get("random_state", 0)}
        if quick:
            params.update(QUICK.get(name, {}))
            if "time_budget" in get_model_class(name)().get_params():
                params["time_budget"] = min(float(params.get("time_budget") or QUICK_TIME_CAP), QUICK_TIME_CAP)
        members.append((name, params))
    return {"members": members, "ensemble": dict(recipe["ensemble"]), "recipe_of": key}


def build_best(dataset: str, *, quick: bool = False, seed: int = 0, weights: Any = "recorded",
               members: list[str] | None = None) -> gr.Ensemble:
    """The unfitted best model of ``dataset`` (its ``BEST`` recipe; other datasets: Gowalla's
    members with their own recorded settings there, weights chosen on a carve).

    ``weights="recorded"`` keeps the recipe's weights; None chooses them on a validation carve.
    ``members`` (registry or method names) replaces the recipe's members by those names with
    their recorded settings for ``dataset`` (to try other ensembles with ``--select``).
    """
    from graphrec.models import get_model_class

    recipe = _recipe(dataset, quick, members)
    models = [get_model_class(name)(**params) for name, params in recipe["members"]]
    settings = recipe["ensemble"]
    if weights != "recorded":
        settings["weights"] = weights
    if recipe["recipe_of"] != dataset or members is not None:
        settings["weights"] = None
    settings.setdefault("random_state", seed)
    return gr.Ensemble(models, **settings)


def standard_errors(per_user: Any) -> dict[str, float]:
    """Standard error over test users of each per-user metric column at k = 20."""
    out = {}
    for name in ("recall@20", "ndcg@20"):
        x = per_user[name].to_numpy()
        out[name] = float(x.std(ddof=1) / np.sqrt(len(x)))
    return out


def run_best_job(dataset: str, model_name: str = "best", *, quick: bool, root: str | None = None, seed: int = 0,
                 cache_dir: Path | None = None, time_cap: float | None = None,
                 curve_every: int | None = None) -> tuple[dict[str, Any], gr.Ensemble]:
    """One ``--model best`` job: load, fit, evaluate (with per-user standard errors); (result, model).

    The signature is :func:`graphrec.benchmark.run_job`'s, so ``benchmarks/run.py`` saves the
    model and results like any other job.
    """
    if curve_every:
        raise ValueError("--curve-every: the best model is an ensemble, not trained by epochs")
    t0 = time.perf_counter()
    ds = load_bench_dataset(dataset, root)
    load_seconds = time.perf_counter() - t0
    features, features_what = diversity_features(ds, cache_dir)
    model = build_best(dataset, quick=quick, seed=seed)
    t1 = time.perf_counter()
    # with the dataset's own validation split (MovieLens): the members early-stop on it as they
    # do alone in the suite, and unrecorded weights are chosen on it; without one, the Ensemble
    # carves its validation part from train (Gowalla's weights are recorded: no carve)
    model.fit(ds.train, ds.valid)
    fit_seconds = time.perf_counter() - t1
    metrics = gr.evaluate(model, ds.test, k=KS, item_features=features, per_user=True)
    per_user = metrics.pop("per_user")
    eval_seconds = metrics.pop("seconds")
    members = [(type(m).__name__, m.get_params()) for m in model.models_]
    result: dict[str, Any] = {
        "dataset": dataset, "model": model_name, "kind": "graphrec",
        "settings": {k: v for k, v in model.get_params(deep=False).items() if k != "models"},
        "members": members,
        "weights": model.weights_.tolist(),
        "selection": model.selection_,
        "metrics": metrics,
        "standard_error": standard_errors(per_user),
        "load_seconds": load_seconds, "fit_seconds": fit_seconds, "eval_seconds": eval_seconds,
        "run_seconds": time.perf_counter() - t0,
        "load_average": os.getloadavg(),
        "member_fit_seconds": [getattr(m, "fit_time_", None) for m in model.models_],
        "diversity_features": features_what, "data": data_stats(ds),
        "settings_source": "graphrec/recipes.py (BEST)",
        "epochs": None, "stopped": None,
    }
    if dataset == "gowalla" and not quick:  # second opinion, timed apart from the run
        result["independent"] = independent_check(model, dataset, root, graphrec_metrics=(metrics, per_user))
        print(f"independent evaluator: {json.dumps(result['independent'])}", flush=True)
    print(f"best on {dataset}: Recall@20 {metrics['recall@20']:.4f} ± {result['standard_error']['recall@20']:.4f}, "
          f"NDCG@20 {metrics['ndcg@20']:.4f} ± {result['standard_error']['ndcg@20']:.4f}; weights "
          f"{np.round(model.weights_, 3).tolist()}; fit {fit_seconds:.0f} s, eval {eval_seconds:.0f} s", flush=True)
    return finish(result, quick), model


def select_weights(dataset: str, *, root: str | None = None, seed: int = 0, valid_size: float = 0.1,
                   quick: bool = False, members: list[str] | None = None,
                   max_valid_users: int | None = None) -> dict[str, Any]:
    """Weights of the best recipe chosen on a validation carve of train (test never read).

    Members are fitted on train minus a ``valid_size`` per-user carve; every weight vector of
    the Ensemble's grid is scored on the carve. Returns the grid, the scores and the timings.
    """
    ds = load_bench_dataset(dataset, root)
    carve = gr.splits.validation_split(ds.train, valid_size, random_state=seed)
    template = build_best(dataset, quick=quick, seed=seed, weights=None, members=members)
    t0 = time.perf_counter()
    fitted, seconds = [], []
    for m in template.models:
        t = time.perf_counter()
        fitted.append(m.fit(carve.train))
        seconds.append(time.perf_counter() - t)
        print(f"{type(m).__name__} fitted on the carve's train in {seconds[-1]:.0f} s", flush=True)
    params = template.get_params(deep=False) | {"models": fitted, "prefit": True}
    if max_valid_users:
        params["max_valid_users"] = max_valid_users
    ens = gr.Ensemble(**params).fit(carve.train, carve.valid)
    sel = ens.selection_ or {}
    out = {
        "dataset": dataset, "valid_size": valid_size, "seed": seed,
        "members": [(type(m).__name__, m.get_params()) for m in fitted],
        "member_fit_seconds": seconds, "selection_seconds": sel.get("seconds"),
        "candidates": sel.get("candidates"), "scores": sel.get("scores"), "metric": sel.get("metric"),
        "weights": ens.weights_.tolist(), "seconds": time.perf_counter() - t0,
        "load_average": os.getloadavg(),
    }
    print(f"| weights | valid {out['metric']} |\n|---|---|")
    for c, s in zip(out["candidates"] or [], out["scores"] or [], strict=True):
        print(f"| {', '.join(f'{w:.2f}' for w in c)} | {s:.4f} |")
    print(f"chosen: {out['weights']}", flush=True)
    return out


def independent_check(model: gr.Recommender, dataset: str = "gowalla", root: str | None = None,
                      graphrec_metrics: tuple[dict[str, Any], Any] | None = None) -> dict[str, Any]:
    """Recall/NDCG@20 of a fitted model by ``independent_eval.py`` (raw Gowalla files, no IdMaps),
    beside graphrec's own figures with their per-user standard errors (computed here unless
    ``graphrec_metrics``, an ``evaluate`` result and its per-user frame, is given)."""
    import torch
    from independent_eval import evaluate as plain_evaluate
    from independent_eval import load_gowalla

    if dataset != "gowalla":
        raise ValueError("the independent evaluator reads the LightGCN-format Gowalla files only")
    folder = gr.datasets.available(root).loc["gowalla", "path"]
    if folder is None:
        raise FileNotFoundError("gowalla not found under the data roots")
    train, test = load_gowalla(folder)
    user_of_raw = np.full(train.shape[0], -1, np.int64)
    user_of_raw[model.users_.labels.astype(np.int64)] = np.arange(model.n_users_)
    item_raw = torch.from_numpy(model.items_.labels.astype(np.int64))

    def score(raw_users: np.ndarray) -> torch.Tensor:
        internal = user_of_raw[raw_users]
        if (internal < 0).any():
            raise KeyError("a test user unknown to the model")
        out = torch.full((len(raw_users), train.shape[1]), -1e30)
        out[:, item_raw] = torch.from_numpy(model.score(internal))
        return out

    t = time.perf_counter()
    res = {k: float(v) for k, v in plain_evaluate(score, train, test, batch_size=1024).items()}
    res["seconds"] = time.perf_counter() - t
    if graphrec_metrics is None:
        ds = gr.datasets.load("gowalla", root=root)
        ours = gr.evaluate(model, ds.test, k=(20,), per_user=True)
        graphrec_metrics = (ours, ours["per_user"])
    ours, per_user = graphrec_metrics
    res["graphrec"] = {"recall@20": ours["recall@20"], "ndcg@20": ours["ndcg@20"],
                       "standard_error": standard_errors(per_user)}
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--select", action="store_true", help="choose the weights on a validation carve of train")
    p.add_argument("--check-saved", default=None, metavar="DIR", help="independent evaluation of a saved model")
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--root", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--valid-size", type=float, default=0.1)
    p.add_argument("--quick", action="store_true", help="smoke-test budgets")
    p.add_argument("--members", default=None,
                   help="--select: comma list of registry/method names to ensemble instead of the recipe's "
                        "(each with its recorded settings for the dataset)")
    p.add_argument("--max-valid-users", type=int, default=None,
                   help="--select: score the weights on this many random validation users (seeded)")
    p.add_argument("--json", default=None, help="write the result here")
    args = p.parse_args(argv)
    if args.check_saved:
        out = independent_check(gr.load(args.check_saved), args.dataset, args.root)
    elif args.select:
        out = select_weights(args.dataset, root=args.root, seed=args.seed, valid_size=args.valid_size,
                             quick=args.quick, members=args.members.split(",") if args.members else None,
                             max_valid_users=args.max_valid_users)
    else:
        p.error("give --select or --check-saved (the recipe itself runs as benchmarks/run.py --model best)")
    print(json.dumps({k: v for k, v in out.items() if k not in ("candidates", "scores")}, default=str))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
