"""Do the skip-gram models' defaults hold across datasets? (issue 16, "defaults that fit the data")

For each dataset (Last.fm, MovieLens latest-small, and a planted-community generator at
three popularity skews) this fits Popularity, LightGCN and GraphFilter with their
defaults, and DeepWalk / Item2Vec under their defaults and a few candidate settings,
and reports each model's Recall@20 divided by Popularity's on the same split.

Candidates are compared on a **validation split carved from train** (each user's
interactions, 20% held out at random, seed 0); ``--stage test`` fits on the full train
and reads the test split once, for the settings named with ``--configs``.

Usage::

    python benchmarks/defaults_study.py --stage valid --out benchmarks/out/defaults_study
    python benchmarks/defaults_study.py --stage test --configs deepwalk:default,deepwalk:new \\
        --out benchmarks/out/defaults_study

Rows are appended to OUT/<stage>.jsonl as they finish (a rerun skips rows already
there), and OUT/<stage>.md holds the table of ratios.
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import graphrec as gr
from graphrec.data.datasets import Dataset
from graphrec.models import get_model_class

DATASETS = ("lastfm", "skew-1.5", "movielens-small", "skew-1", "skew-0")

#: candidate settings per model; "default" is the model's own defaults
CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "popularity": {"default": {}},
    "lightgcn": {"default": {}},
    "graphfilter": {"default": {}},
    "deepwalk": {
        "default": {},
        "neg0.75": {"neg_exponent": 0.75},
        "node": {"item_vectors": "node"},
        "win5": {"window": 5},
        "epochs2": {"epochs": 2},
        "epochs8": {"epochs": 8},
        "wpn10": {"walks_per_node": 10},
        "len40": {"walk_length": 40},
        "lr0.025": {"lr": 0.025},
    },
    "item2vec": {
        "default": {},
        "epochs40": {"epochs": 40},
        "win10": {"window": 10},
        "lr0.05": {"lr": 0.05},
        "neg0.75": {"neg_exponent": 0.75},
    },
}


def skewed(skew: float, *, n_users: int = 3000, n_items: int = 2000, n_communities: int = 8,
           per_user: int = 20, affinity: float = 8.0, random_state: int = 0) -> Dataset:
    """Planted communities with Zipf item popularity (exponent ``skew``; 0: uniform).

    Each user draws ``per_user`` distinct items with probability proportional to
    ``rank(i) ** -skew`` times ``affinity`` for items of the user's own community
    (Gumbel top-k, vectorised), and 20% of each user's items are held out at random.
    The news-click case in issue 16 is the high-skew end: a few items take most clicks.
    """
    rng = np.random.default_rng(random_state)
    user_comm = rng.integers(0, n_communities, n_users)
    item_comm = rng.integers(0, n_communities, n_items)
    pop = (1.0 + rng.permutation(n_items)) ** -float(skew)
    logw = np.log(pop)[None, :] + np.log(affinity) * (user_comm[:, None] == item_comm[None, :])
    keys = logw + rng.gumbel(size=(n_users, n_items))
    items = np.argpartition(-keys, per_user, axis=1)[:, :per_user]
    users = np.repeat(np.arange(n_users), per_user)
    items = items.ravel()
    x = gr.Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)
    sp = gr.splits.random_holdout(x, test_size=0.2, random_state=random_state)
    import pandas as pd

    info = pd.DataFrame({"category": item_comm}).rename_axis("item")
    return Dataset(f"skew-{skew:g}", sp.train, sp.test, item_info=info, source="defaults_study.skewed")


def load(name: str) -> Dataset:
    if name.startswith("skew-"):
        return skewed(float(name.split("-", 1)[1]))
    return gr.datasets.load(name)


def fit_eval(model_name: str, params: dict[str, Any], train: gr.Interactions,
             test: gr.Interactions) -> dict[str, Any]:
    cls = get_model_class(model_name)
    model = cls(**{"random_state": 0, **params}) if "random_state" in cls().get_params() else cls(**params)
    t0 = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    res = gr.evaluate(model, test, k=(20,), per_user=True)
    rec = res["per_user"]["recall@20"].to_numpy()
    return {"recall@20": float(rec.mean()), "se": float(rec.std(ddof=1) / np.sqrt(len(rec))),
            "ndcg@20": res["ndcg@20"], "fit_s": round(fit_s, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=("valid", "test"), default="valid")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--configs", default=None,
                    help="model:config,... (default: every candidate in CONFIGS)")
    ap.add_argument("--extra", default=None,
                    help='JSON {"model": {"name": {params}}} of further candidates')
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "defaults_study")
    args = ap.parse_args(argv)
    configs = {m: dict(c) for m, c in CONFIGS.items()}
    if args.extra:
        for m, more in json.loads(args.extra).items():
            configs.setdefault(m, {}).update(more)
    wanted = [(m, c) for m in configs for c in configs[m]]
    if args.configs:
        wanted = [tuple(s.split(":", 1)) for s in args.configs.split(",")]
    if ("popularity", "default") not in wanted:
        wanted.insert(0, ("popularity", "default"))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.stage}.jsonl"
    done = set()
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            done.add((r["dataset"], r["model"], r["config"]))
    for name in args.datasets.split(","):
        ds = load(name)
        if args.stage == "valid":
            carve = gr.splits.random_holdout(ds.train, test_size=0.2, random_state=0)
            train, test = carve.train, carve.test
        else:
            train, test = ds.train, ds.test
        for model_name, cfg in wanted:
            if (name, model_name, cfg) in done:
                continue
            params = configs[model_name][cfg]
            row = {"dataset": name, "stage": args.stage, "model": model_name, "config": cfg, "params": params,
                   **fit_eval(model_name, params, train, test),
                   "load": round(os.getloadavg()[0], 1), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
            print(json.dumps(row), flush=True)
            with path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    write_table(path, args.out / f"{args.stage}.md")


def write_table(jsonl: Path, md: Path) -> str:
    """Ratio of each row's Recall@20 to Popularity's on the same dataset, as Markdown."""
    rows = [json.loads(s) for s in jsonl.read_text().splitlines()]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    pop = {r["dataset"]: r["recall@20"] for r in rows if r["model"] == "popularity"}
    keys = list(dict.fromkeys((r["model"], r["config"]) for r in rows))
    by = {(r["dataset"], r["model"], r["config"]): r for r in rows}
    lines = ["| model | settings | " + " | ".join(datasets) + " | min ratio | mean ratio |",
             "|---|---|" + "---:|" * (len(datasets) + 2)]
    for key in keys:
        cells, ratios = [], []
        for d in datasets:
            r = by.get((d, *key))
            if r is None or d not in pop:
                cells.append("")
                continue
            ratio = r["recall@20"] / pop[d]
            ratios.append(ratio)
            cells.append(f"{r['recall@20']:.4f} ({ratio:.2f}x)")
        full = len(ratios) == len(datasets)
        lo = f"{min(ratios):.2f}" if full else ""
        mean = f"{np.mean(ratios):.2f}" if full else ""
        first = next(d for d in datasets if (d, *key) in by)
        params = json.dumps(by[(first, *key)]["params"])
        lines.append(f"| {key[0]} | {key[1]} `{params}` | " + " | ".join(cells) + f" | {lo} | {mean} |")
    text = "\n".join(lines) + "\n"
    md.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
