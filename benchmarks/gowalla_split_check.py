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

It also prints how much newer a user's test items are than their train items
(within-user AUC of :func:`item_newness`, a sign-up-order proxy for time), for the
published split, a uniform 21% carve of train and a 21% carve with newness-driven
overdispersion (:func:`dispersed_carve`, the carve behind
``lightgcn_gowalla.py --valid-dispersion``).
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
        empty = not m.any()  # NaN without numpy's empty-mean warning
        out["buckets"].append({"total": f"[{lo}, {hi if hi < 10**9 else 'inf'})", "items": int(m.sum()),
                               "share_sd": float("nan") if empty else float(share.std()),
                               "share_over_half": float("nan") if empty else float((share > 0.5).mean())})
    return out


def uniform_split_counts(full, test_per_user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Item test counts of a uniform per-user split with the given per-user test counts."""
    # rank each user's items by a random key and keep the first test_per_user[u]: vectorised
    keys = rng.random(full.nnz)
    order = np.lexsort((keys, np.repeat(np.arange(full.shape[0]), np.diff(full.indptr))))
    position = np.arange(full.nnz) - np.repeat(full.indptr[:-1], np.diff(full.indptr))
    chosen = order[position < np.repeat(test_per_user, np.diff(full.indptr))]
    return np.bincount(full.indices[chosen], minlength=full.shape[1]).astype(float)


def item_newness(train) -> np.ndarray:
    """Mean user id of each item's train visitors, standardised.

    Gowalla's user ids follow sign-up order, so an item visited mostly by recent
    users is likely a recent venue. A proxy for time, from train alone.
    """
    users = np.asarray(train.users.labels, dtype=float)[train.user_idx]
    mean = np.bincount(train.item_idx, users, train.n_items) / np.maximum(train.item_degrees, 1)
    return (mean - mean.mean()) / mean.std()


def within_user_auc(held, rest, score: np.ndarray) -> float:
    """Mean over users of P(score of a held-out item > score of a kept item).

    Mann-Whitney U per user from ranks within the user (one sort, no loop over users).
    """
    users = np.concatenate([held.user_idx, rest.user_idx])
    values = np.concatenate([score[held.item_idx], score[rest.item_idx]])
    is_held = np.concatenate([np.ones(held.nnz, bool), np.zeros(rest.nnz, bool)])
    order = np.lexsort((values, users))
    n_users = max(held.n_users, rest.n_users)
    size = np.bincount(users, minlength=n_users)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.empty(len(users))
    rank[order] = np.arange(len(users)) - start[users[order]] + 1
    n_held = np.bincount(held.user_idx, minlength=n_users).astype(float)
    n_rest = np.bincount(rest.user_idx, minlength=n_users).astype(float)
    rank_sum = np.bincount(users[is_held], rank[is_held], minlength=n_users)
    ok = (n_held > 0) & (n_rest > 0)
    u_stat = rank_sum[ok] - n_held[ok] * (n_held[ok] + 1) / 2
    return float(np.mean(u_stat / (n_held[ok] * n_rest[ok])))


def dispersed_carve(train, valid_size: float, target_variance: float, seed: int = 0,
                    effect: str = "random"):
    """Carve ``valid_size`` of each user's train items with item-level overdispersion.

    A uniform carve has no item effect (residual variance ~1); the published Gowalla
    test split has one (1.79). Here each item gets a random effect ``exp(beta * e)``,
    ``e ~ N(0, 1)``, and each user's validation items are a weighted sample without
    replacement (Efraimidis-Spirakis keys ``log(u) / w``); ``beta`` is bisected so
    that the carve's residual variance is ``target_variance``. Only that one scalar
    of the test split is used: which items are held-out-heavy is random, unrelated to
    test. With ``effect="newness"`` the item effect is :func:`item_newness` instead
    (recent venues held out more often, as a split by time would). Returns
    ``(split, beta, dispersion)``.
    """
    from graphrec.data.interactions import Interactions

    if effect not in ("random", "newness"):
        raise ValueError(f"effect must be 'random' or 'newness', got {effect!r}")
    rng = np.random.default_rng(seed)
    random_effect = rng.standard_normal(train.n_items)
    effect = item_newness(train) if effect == "newness" else random_effect
    log_u = np.log(rng.random(train.nnz))
    totals = train.item_degrees.astype(float)

    def carve(beta: float):
        keys = log_u / np.exp(beta * effect)[train.item_idx]
        keyed = Interactions(train.user_idx, train.item_idx, users=train.users,
                             items=train.items, timestamps=keys)
        split = gr.splits.leave_last_out(keyed, valid_size)
        return split, _dispersion(split.test.item_degrees.astype(float), totals)

    lo, hi = 0.0, 2.0
    for _ in range(20):  # the variance grows monotonically with beta
        mid = (lo + hi) / 2
        split, disp = carve(mid)
        lo, hi = (mid, hi) if disp["residual_variance"] < target_variance else (lo, mid)
        if abs(disp["residual_variance"] - target_variance) < 0.01:
            break
    return split, mid, disp


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
    newness = item_newness(ds.train)
    out["newness_auc_published"] = within_user_auc(ds.test, ds.train, newness)
    carve, beta, _ = dispersed_carve(ds.train, 0.21, 1.79, args.seed, "newness")
    out["newness_auc_newness_carve"] = within_user_auc(carve.test, carve.train, newness)
    uniform = gr.splits.validation_split(ds.train, 0.21, random_state=args.seed)
    out["newness_auc_uniform_carve"] = within_user_auc(uniform.valid, uniform.train, newness)
    print("within-user AUC of item newness (mean user id of the item's train visitors), "
          f"held-out vs kept: published test {out['newness_auc_published']:.3f}, 21% newness "
          f"carve (beta {beta:.2f}) {out['newness_auc_newness_carve']:.3f}, 21% uniform carve "
          f"{out['newness_auc_uniform_carve']:.3f}")
    if args.json:
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
