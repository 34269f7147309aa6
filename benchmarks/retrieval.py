"""Retrieval, ANN, re-ranking and cold-start benchmark (issue 5).

    python benchmarks/retrieval.py                         # SVD-64 embeddings (cached)
    python benchmarks/retrieval.py --model-dir DIR         # a saved Gowalla model (gr.load)
    python benchmarks/retrieval.py --quick                 # fewer users, for a smoke run
    python benchmarks/retrieval.py --fold-in-models gowalla --budget 240   # MF + LightGCN fold-in only

Writes OUT/retrieval.json, OUT/retrieval.md and OUT/accuracy_diversity.png (OUT
defaults to benchmarks/out/retrieval) and prints the markdown. Sections:
exact top-20 for all Gowalla users (seen items excluded) and single-user
latency; FAISS flat/HNSW recall@20 against exact and speed-up; MMR/DPP
100 -> 20 per-user cost; accuracy-diversity curves (Gowalla: embedding
cosine; MovieLens: genres); cold start (fold-in users, content-mapped items).
Timings on a shared machine are noisy: the load average is recorded beside each.

One script over the ~400-line guide on purpose: its sections (one ``bench_*``
function each) share one loaded dataset, one model and one report, and are run
and read together.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
import torch

import graphrec as gr
from graphrec.coldstart import ContentItemMapper, content_features, recommend_new_users
from graphrec.graph import normalized_interactions
from graphrec.metrics import intra_list_diversity, recall_at_k
from graphrec.models.base import EmbeddingRecommender
from graphrec.rerank import dpp, mmr

HERE = Path(__file__).resolve().parent
WEIGHTS = {
    "mmr": (1.0, 0.9, 0.8, 0.7, 0.5, 0.3, 0.1, 0.0),
    "dpp": (1.0, 0.99, 0.95, 0.9, 0.8, 0.7, 0.5, 0.0),
}


class Fixed(EmbeddingRecommender):
    """Given embeddings behind the Recommender interface (SVD stand-in for encoders)."""

    def __init__(self, *, user_embeddings: Any = None, item_embeddings: Any = None) -> None:
        self.user_embeddings = user_embeddings
        self.item_embeddings = item_embeddings

    def _fit(self, train, valid):
        self.user_embeddings_ = np.asarray(self.user_embeddings, np.float32)
        self.item_embeddings_ = np.asarray(self.item_embeddings, np.float32)


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def svd_model(train: gr.Interactions, dim: int, cache: Path | None) -> Fixed:
    """64-d truncated SVD of D_u^-1/2 R D_i^-1/2, embeddings U sqrt(S), V sqrt(S)."""
    if cache is not None and cache.exists():
        z = np.load(cache)
        u, v = z["u"], z["v"]
    else:
        a, s, bt = sla.svds(
            normalized_interactions(train).astype(np.float64), k=dim, random_state=0
        )
        u = (a * np.sqrt(s)).astype(np.float32)
        v = (bt.T * np.sqrt(s)).astype(np.float32)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, u=u, v=v)
    return Fixed(user_embeddings=u, item_embeddings=v).fit(train)


def timed(fn, repeats: int = 3) -> tuple[float, Any]:
    """Median wall seconds of ``fn()`` and its last result (CPU seconds in ``timed.cpu``)."""
    times, cpu, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    timed.cpu = float(np.median(cpu))
    return float(np.median(times)), out


def latency(fn, n: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds of ``n`` calls ``fn(j)``."""
    wall, cpu = [], []
    for j in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn(j)
        wall.append(1e3 * (time.perf_counter() - t))
        cpu.append(1e3 * (time.process_time() - c))
    return wall, cpu


def bench_topk(m, quick: bool) -> dict[str, Any]:
    users = np.arange(m.n_users_)
    load0 = load_avg()
    sec, (idx, _) = timed(lambda: m.recommend(users, k=20), 1 if quick else 3)
    cpu_all = timed.cpu
    rng = np.random.default_rng(0)
    sample = rng.choice(m.n_users_, 50 if quick else 300, replace=False)
    wall, cpu = latency(lambda j: m.recommend(sample[j : j + 1], k=20), len(sample))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(
        1, user_api="blas"
    ):  # a 1 x 64 x n_items GEMM gains nothing from threads
        wall1, cpu1 = latency(lambda j: m.recommend(sample[j : j + 1], k=20), len(sample))
    return {
        "all_users_top20_s": sec,
        "all_users_top20_cpu_s": cpu_all,
        "n_users": int(m.n_users_),
        "n_items": int(m.n_items_),
        "single_user_p50_ms": float(np.median(wall)),
        "single_user_p95_ms": float(np.percentile(wall, 95)),
        "single_user_cpu_p50_ms": float(np.median(cpu)),
        "single_user_blas1_p50_ms": float(np.median(wall1)),
        "single_user_blas1_cpu_p50_ms": float(np.median(cpu1)),
        "load_before": load0,
        "load": load_avg(),
    }, idx


def bench_ann(m, exact: np.ndarray, quick: bool) -> dict[str, Any]:
    if not gr.ann.faiss_available():
        return {"skipped": "faiss-cpu not installed"}
    users = np.arange(m.n_users_)
    exact_sec, _ = timed(lambda: m.recommend(users, k=20), 1)
    exact_cpu = timed.cpu
    out: dict[str, Any] = {
        "exact_s": exact_sec,
        "exact_cpu_s": exact_cpu,
        "faiss_threads": gr.ann._faiss().omp_get_max_threads(),
    }
    configs = [("flat", {})] + [
        ("hnsw", {"ef_search": ef}) for ef in ((64,) if quick else (32, 64, 128, 256))
    ]
    built: dict[str, Any] = {}
    for kind, params in configs:
        if kind not in built:
            t = time.perf_counter()
            built[kind] = gr.ann.AnnIndex(m.item_embeddings_, kind=kind)
            out[f"{kind}_build_s"] = time.perf_counter() - t
        index = built[kind]
        if "ef_search" in params:
            index.ef_search = params["ef_search"]
        sec, (idx, _) = timed(
            lambda index=index: gr.ann.ann_recommend(m, users, 20, index=index), 1
        )
        hits = gr.metrics.hit_matrix(idx, [set(r[r >= 0].tolist()) for r in exact])[0].sum(1)
        n_exact = (exact >= 0).sum(1)
        recall = float(np.mean(hits[n_exact > 0] / n_exact[n_exact > 0]))
        name = kind if not params else f"{kind}_ef{params['ef_search']}"
        out[name] = {
            "search_s": sec,
            "search_cpu_s": timed.cpu,
            "recall@20_vs_exact": recall,
            "speedup": exact_sec / sec,
            "cpu_speedup": exact_cpu / timed.cpu,
        }
    out["load"] = load_avg()
    return out


def curve(m, users, test_csr, features, quick: bool, label: str) -> list[dict[str, Any]]:
    """Recall@20 and intra-list diversity for MMR/DPP over a top-100 pool."""
    cand, sc = m.recommend(users, k=100)
    rows = []
    sim = np.asarray(features.toarray() if sp.issparse(features) else features, np.float32)
    for name, fn, key in (("mmr", mmr, "lambda_"), ("dpp", dpp, "theta")):
        for w in WEIGHTS[name]:
            t = time.perf_counter()
            idx, _ = fn(cand, sc, 20, sim, **{key: w})
            dt = time.perf_counter() - t
            rows.append(
                {
                    "dataset": label,
                    "method": name,
                    "weight": w,
                    "recall@20": float(np.nanmean(recall_at_k(idx, test_csr[users], 20))),
                    "ild@20": float(np.nanmean(intra_list_diversity(idx, sim))),
                    "ms_per_user": 1e3 * dt / len(users),
                }
            )
    return rows


def bench_rerank_cost(m, quick: bool) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    users = rng.choice(m.n_users_, 512 if quick else 2048, replace=False)
    cand, sc = m.recommend(users, k=100)
    feats = m.item_embeddings_
    out: dict[str, Any] = {"pool": 100, "k": 20, "n_users_batched": len(users)}
    for name, fn in (("mmr", mmr), ("dpp", dpp)):
        sec, _ = timed(lambda fn=fn: fn(cand, sc, 20, feats), 3)
        wall, cpu = latency(
            lambda j, fn=fn: fn(cand[j : j + 1], sc[j : j + 1], 20, feats), 50 if quick else 200
        )
        out[name] = {
            "batched_ms_per_user": 1e3 * sec / len(users),
            "batched_cpu_ms_per_user": 1e3 * timed.cpu / len(users),
            "single_user_p50_ms": float(np.median(wall)),
            "single_user_cpu_p50_ms": float(np.median(cpu)),
        }
    out["load"] = load_avg()
    return out


def bench_fold_in(m, test_csr, quick: bool, train, dim: int | None) -> dict[str, Any]:
    """Trained vs folded-in Recall@20 for test users (their train items given)."""
    rng = np.random.default_rng(2)
    users = rng.choice(
        np.flatnonzero(np.diff(test_csr.indptr) > 0), 500 if quick else 3000, replace=False
    )
    seen = m.seen_
    lists = [seen.indices[seen.indptr[u] : seen.indptr[u + 1]] for u in users]
    trained, _ = m.recommend(users, k=20)
    out: dict[str, Any] = {
        "n_users": len(users),
        "trained_recall@20": float(np.nanmean(recall_at_k(trained, test_csr[users], 20))),
    }
    for method in ("propagation", "ridge", "mean"):
        t = time.perf_counter()
        idx, _ = recommend_new_users(m, lists, 20, method=method, ids="index")
        out[f"{method}_recall@20"] = float(np.nanmean(recall_at_k(idx, test_csr[users], 20)))
        out[f"{method}_s"] = time.perf_counter() - t
    if dim is not None:  # strict: refit SVD without these users, then fold them in
        keep = ~np.isin(train.user_idx, users)
        held = svd_model(train.subset(np.flatnonzero(keep)), dim, None)
        held.seen_ = m.seen_  # exclude the held-out users' train items as well
        for method in ("propagation", "ridge"):
            idx, _ = recommend_new_users(held, lists, 20, method=method, ids="index")
            out[f"heldout_{method}_recall@20"] = float(
                np.nanmean(recall_at_k(idx, test_csr[users], 20))
            )
    out["load"] = load_avg()
    return out


def bench_fold_in_models(name: str, budget: float, n_users: int, cache: Path) -> dict[str, Any]:
    """Trained vs folded-in Recall@20 for MF and LightGCN fitted under a time budget."""
    ds = gr.datasets.load(name)
    train = ds.train if ds.valid is None else gr.datasets.concat_interactions([ds.train, ds.valid])
    test = ds.test.to_csr()
    rng = np.random.default_rng(2)
    cand = np.flatnonzero(np.diff(test.indptr) > 0)
    users = rng.choice(cand, min(n_users, len(cand)), replace=False)
    res: dict[str, Any] = {"dataset": name, "budget_s": budget, "n_users": len(users)}
    for cls_name in ("MF", "LightGCN"):
        path = cache / f"{name}_{cls_name}_{int(budget)}s"
        t = time.perf_counter()
        if path.exists():
            m = gr.load(path)
        else:
            cls = gr.models.get_model_class(cls_name)
            m = cls(embedding_dim=64, epochs=1000, time_budget=budget, random_state=0).fit(train)
            m.save(path)
        seen = m.seen_
        lists = [seen.indices[seen.indptr[u] : seen.indptr[u + 1]] for u in users]
        trained, _ = m.recommend(users, k=20)
        row = {
            "fit_or_load_s": time.perf_counter() - t,
            "epochs": len(getattr(m, "loss_history_", [])),
            "trained": float(np.nanmean(recall_at_k(trained, test[users], 20))),
        }
        for method in ("auto", "propagation", "ridge", "mean"):
            idx, _ = recommend_new_users(m, lists, 20, method=method, ids="index")
            row[method] = float(np.nanmean(recall_at_k(idx, test[users], 20)))
        res[cls_name] = row
        print(json.dumps({cls_name: row}), flush=True)
    res["load"] = load_avg()
    return res


def bench_new_items(ml, dim: int) -> dict[str, Any]:
    """Content-mapped vs random vs popularity-placed embeddings of held-out MovieLens items.

    Item-side ranking: each cold item scores all users; Recall@20 of the users
    who rated it (any split) among the top 20, averaged over cold items.
    """
    full = gr.datasets.concat_interactions(
        [p for p in (ml.train, ml.valid, ml.test) if p is not None]
    )
    deg = full.item_degrees
    rng = np.random.default_rng(3)
    cold = rng.choice(np.flatnonzero(deg >= 5), int(0.1 * (deg >= 5).sum()), replace=False)
    train = ml.train.subset(np.flatnonzero(~np.isin(ml.train.item_idx, cold)))
    m = svd_model(train, dim, None)
    warm = np.flatnonzero(train.item_degrees > 0)
    feats = content_features(ml.item_info)
    v = m.item_embeddings_
    placements = {
        "content": ContentItemMapper(alpha=1.0).fit(feats[warm], v[warm]).transform(feats[cold]),
        "random": rng.normal(size=(len(cold), v.shape[1])).astype(np.float32) * v[warm].std(0),
        "popularity": np.tile(
            np.average(v[warm], axis=0, weights=train.item_degrees[warm]), (len(cold), 1)
        ),
    }
    truth = full.to_csr()[:, cold].T.tocsr()  # cold item -> users who rated it
    out: dict[str, Any] = {"n_cold_items": len(cold), "n_users": int(ml.train.n_users)}
    for name, e in placements.items():
        scores = torch.from_numpy(e.astype(np.float32) @ m.user_embeddings_.T)
        if name == "popularity":  # all cold items share one vector: ties broken at random
            scores = scores + 1e-6 * torch.rand(
                scores.shape, generator=torch.Generator().manual_seed(0)
            )
        idx, _ = gr.retrieval.top_k(scores, 20)
        out[f"{name}_item_recall@20"] = float(np.nanmean(recall_at_k(idx, truth, 20)))
    return out


def to_markdown(res: dict[str, Any]) -> str:
    t, a, r, c, n = res["topk"], res["ann"], res["rerank_cost"], res["fold_in"], res["new_items"]
    lines = [
        f"### Retrieval benchmark ({res['embeddings']}, load {t['load']})",
        "",
        (
            f"- exact top-20, all {t['n_users']:,} Gowalla users, seen excluded: "
            f"{t['all_users_top20_s']:.2f} s wall, {t['all_users_top20_cpu_s']:.2f} CPU-s "
            f"({res['threads']} threads)"
        ),
        (
            f"- single-user recommend(k=20): wall p50 {t['single_user_p50_ms']:.2f} ms, "
            f"p95 {t['single_user_p95_ms']:.2f} ms; CPU p50 {t['single_user_cpu_p50_ms']:.2f} ms; "
            f"with BLAS limited to 1 thread: wall p50 {t['single_user_blas1_p50_ms']:.2f} ms"
        ),
    ]
    for name in ("mmr", "dpp"):
        x = r[name]
        lines.append(
            f"- {name.upper()} 100->20: batched {x['batched_ms_per_user']:.3f} ms/user wall, "
            f"{x['batched_cpu_ms_per_user']:.3f} CPU-ms/user; single user p50 "
            f"{x['single_user_p50_ms']:.2f} ms wall, {x['single_user_cpu_p50_ms']:.2f} CPU-ms "
            f"(load {r['load']})"
        )
    lines.append("")
    if "skipped" not in a:
        lines += [
            (
                f"Exact (model.recommend): {a['exact_s']:.2f} s wall, {a['exact_cpu_s']:.2f} CPU-s "
                f"(load {a['load']})"
            ),
            "",
            (
                "| index | build s | search s (all users, seen excluded) | CPU-s | recall@20 vs exact "
                "| speed-up wall | speed-up CPU |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for key, val in a.items():
            if isinstance(val, dict):
                build = a.get(f"{key.split('_')[0]}_build_s", float("nan"))
                lines.append(
                    f"| {key} | {build:.1f} | {val['search_s']:.2f} | {val['search_cpu_s']:.2f} | "
                    f"{val['recall@20_vs_exact']:.4f} | {val['speedup']:.2f}x | "
                    f"{val['cpu_speedup']:.2f}x |"
                )
        lines.append("")
    lines += ["| dataset | method | lambda/theta | Recall@20 | ILD@20 |", "|---|---|---|---|---|"]
    for row in res["curve"]:
        lines.append(
            f"| {row['dataset']} | {row['method']} | {row['weight']} | "
            f"{row['recall@20']:.4f} | {row['ild@20']:.4f} |"
        )
    lines += [
        "",
        f"Fold-in ({c['n_users']} Gowalla test users): trained {c['trained_recall@20']:.4f}, "
        + ", ".join(
            f"{k.replace('_recall@20', '')} {v:.4f}"
            for k, v in c.items()
            if k.endswith("recall@20") and not k.startswith("trained")
        ),
        f"New MovieLens items ({n['n_cold_items']} held out, item-side Recall@20 over users): "
        + ", ".join(
            f"{k.replace('_item_recall@20', '')} {v:.4f}" for k, v in n.items() if "recall" in k
        ),
    ]
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4.2))
    for ax, ds in zip(np.atleast_1d(axes), datasets):
        for method, marker in (("mmr", "o"), ("dpp", "s")):
            pts = [r for r in rows if r["dataset"] == ds and r["method"] == method]
            ax.plot(
                [p["ild@20"] for p in pts],
                [p["recall@20"] for p in pts],
                marker=marker,
                label=method.upper(),
            )
            for p in pts:
                ax.annotate(
                    f"{p['weight']:g}",
                    (p["ild@20"], p["recall@20"]),
                    fontsize=7,
                    textcoords="offset points",
                    xytext=(3, 3),
                )
        ax.set_xlabel("intra-list diversity @20")
        ax.set_ylabel("Recall@20")
        ax.set_title(ds)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, help="saved Gowalla model to use instead of SVD")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "retrieval")
    parser.add_argument(
        "--fold-in-models", metavar="DATASET", help="only MF/LightGCN fold-in on DATASET"
    )
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds per model")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.fold_in_models:
        res = bench_fold_in_models(args.fold_in_models, args.budget, 3000, args.out / "models")
        (args.out / f"fold_in_models_{args.fold_in_models}.json").write_text(
            json.dumps(res, indent=1)
        )
        return res
    gw = gr.datasets.load("gowalla")
    if args.model_dir:
        m, label, dim = gr.load(args.model_dir), f"{args.model_dir}", None
    else:
        m = svd_model(gw.train, args.dim, args.out / f"gowalla_svd{args.dim}.npz")
        label, dim = f"Gowalla SVD-{args.dim} of the normalised interactions", args.dim
    res: dict[str, Any] = {"embeddings": label, "threads": args.threads}
    res["topk"], exact = bench_topk(m, args.quick)
    print(json.dumps(res["topk"]), flush=True)
    res["ann"] = bench_ann(m, exact, args.quick)
    print(json.dumps(res["ann"]), flush=True)
    res["rerank_cost"] = bench_rerank_cost(m, args.quick)
    print(json.dumps(res["rerank_cost"]), flush=True)
    test = gw.test.to_csr()
    rng = np.random.default_rng(4)
    users = rng.choice(
        np.flatnonzero(np.diff(test.indptr) > 0), 1000 if args.quick else 5000, replace=False
    )
    res["curve"] = curve(
        m, users, test, m.item_embeddings_, args.quick, "gowalla (embedding cosine)"
    )
    ml = gr.datasets.load("movielens-small")
    ml_train = gr.datasets.concat_interactions([ml.train, ml.valid])
    ml_m = svd_model(ml_train, args.dim, None)
    ml_test = ml.test.to_csr()
    ml_users = np.flatnonzero(np.diff(ml_test.indptr) > 0)
    genres = content_features(ml.item_info, title=None)
    res["curve"] += curve(ml_m, ml_users, ml_test, genres, args.quick, "movielens-small (genres)")
    res["fold_in"] = bench_fold_in(m, test, args.quick, gw.train, dim)
    print(json.dumps(res["fold_in"]), flush=True)
    res["new_items"] = bench_new_items(ml, args.dim)
    (args.out / "retrieval.json").write_text(json.dumps(res, indent=1))
    plot(res["curve"], args.out / "accuracy_diversity.png")
    md = to_markdown(res)
    (args.out / "retrieval.md").write_text(md + "\n")
    print(md)
    return res


if __name__ == "__main__":
    main()
