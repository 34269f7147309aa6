"""Is Gowalla's test split a uniform random 20% of each user's items? A check, no training.

Usage::

    python benchmarks/gowalla_split_check.py [--root DIR] [--json out.json]

Under a uniform per-user split, an item's test count given its total count is
close to binomial, so the standardised residuals ``(test - total * p) /
sqrt(total * p * (1 - p))`` have variance ~1 (a little less: each user's count
is fixed). The script prints that variance and the spread of items' test shares
by total count, for the published split and for a uniform per-user split of the
same interactions with the same per-user test counts. An overdispersed published
split means its test items differ from train in ways a random validation carve
of train cannot reproduce (for example a split by time within each user).
"""

from __future__ import annotations

import argparse

import numpy as np
from jobs import write_json

import graphrec as gr

BUCKETS = [(10, 11), (11, 13), (13, 20), (20, 40), (40, 100), (100, 10**9)]


def _dispersion(test_counts: np.ndarray, totals: np.ndarray) -> dict:
    p = test_counts.sum() / totals.sum()
    z = (test_counts - totals * p) / np.sqrt(totals * p * (1 - p))
    out = {"test_share": float(p), "residual_variance": float(z.var()), "buckets": []}
    for lo, hi in BUCKETS:
        m = (totals >= lo) & (totals < hi)
        share = test_counts[m] / totals[m]
        out["buckets"].append({"total": f"[{lo}, {hi if hi < 10**9 else 'inf'})", "items": int(m.sum()),
                               "share_sd": float(share.std()), "share_over_half": float((share > 0.5).mean())})
    return out


def uniform_split_counts(full, test_per_user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Item test counts of a uniform per-user split with the given per-user test counts."""
    # rank each user's items by a random key and keep the first test_per_user[u]: vectorised
    keys = rng.random(full.nnz)
    order = np.lexsort((keys, np.repeat(np.arange(full.shape[0]), np.diff(full.indptr))))
    position = np.arange(full.nnz) - np.repeat(full.indptr[:-1], np.diff(full.indptr))
    chosen = order[position < np.repeat(test_per_user, np.diff(full.indptr))]
    return np.bincount(full.indices[chosen], minlength=full.shape[1]).astype(float)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    ds = gr.datasets.load("gowalla", root=args.root)
    full = (ds.train.to_csr() + ds.test.to_csr()).tocsr()
    full.sort_indices()
    totals = np.asarray(full.sum(0)).ravel()
    test_items = ds.test.item_degrees.astype(float)
    user_totals = np.diff(full.indptr)
    test_per_user = ds.test.user_degrees
    out = {
        "min_item_total": int(totals.min()),
        "min_user_total": int(user_totals.min()),
        "users_with_test_n_minus_floor_0.8n": float(
            np.mean(test_per_user == user_totals - np.floor(0.8 * user_totals + 1e-9).astype(int))
        ),
        "published": _dispersion(test_items, totals),
        "uniform_per_user": _dispersion(
            uniform_split_counts(full, test_per_user, np.random.default_rng(args.seed)), totals
        ),
    }
    print(f"items {len(totals)}, min total per item {out['min_item_total']}, per user "
          f"{out['min_user_total']}; users whose test count is n - floor(0.8 n): "
          f"{out['users_with_test_n_minus_floor_0.8n']:.4f}")
    labels = [f"{lo}-{hi - 1}" if hi < 10**9 else f"{lo}+" for lo, hi in BUCKETS]
    print("sd of items' test share, by the item's total count:")
    print("| split | residual variance | " + " | ".join(labels) + " |")
    print("|---|---|" + "---|" * len(BUCKETS))
    for name in ("published", "uniform_per_user"):
        d = out[name]
        print(f"| {name} | {d['residual_variance']:.2f} | "
              + " | ".join(f"{b['share_sd']:.3f}" for b in d["buckets"]) + " |")
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
