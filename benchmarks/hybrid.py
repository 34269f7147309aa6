"""Hybrid graphs (issue 19): side features, social links and time against pure CF and LightFM.

``python benchmarks/hybrid.py --out DIR`` runs every setting and writes
``DIR/hybrid.json``: rows ``{"dataset", "setting", "model", "recall@20", "ndcg@20",
"recall@20_se", "ndcg@20_se", "n_users", "recipe"}`` (standard errors over users).

Settings (each choice made on a validation part carved from train; test read once
per recorded recipe, at the end):

* ``warm`` -- MovieLens latest-small, its temporal split (each user's latest 20% test,
  latest 10% of the rest valid). ``hybrid`` = HybridLightGCN with genres, tags and
  title decade, ``features_as`` ("sum" or "both") chosen on valid; ``lightgcn`` the
  same recipe without features; ``lightfm`` = LightFM WARP with the same item features (plus identity),
  a grid of the same size over no_components x learning_rate, epochs by validation.
* ``cold-items`` -- 20% of the movies held out entirely (all their ratings are test;
  the models see their genres, tags and decade only), another 10% of the movies held
  out the same way for validation. Ranked among the held-out movies only.
  ``content-mapper`` = ContentItemMapper (ridge, alpha chosen on valid) from the same
  features onto LightGCN's item embeddings; ``popularity`` = popularity placement (a
  new movie scores the mean training popularity of the movies sharing its features).
* ``sparse-users`` -- Last.fm with the trust network (friendship edges): 20% of the
  users (with test items) keep only 1-5 random training interactions (for every model);
  scored on them. ``hybrid`` = HybridLightGCN with user-user edges (weight on valid).
* ``friends-only`` -- Last.fm: 10% of the users (with a friend) held out entirely;
  the hybrid model places them from their friends only (graphrec.coldstart), without
  retraining; relevant = all their interactions; ``popularity`` for comparison.
* ``time`` -- the warm split with time-decayed edges (half-life chosen on valid
  between none and 180 days; age from each user's latest interaction).

The budget is fixed epochs with early stopping on valid for every trained model
(ours and LightFM alike), so the machine's load changes the time, not the result.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import graphrec as gr
from graphrec.coldstart import ContentItemMapper, new_user_vectors
from graphrec.metrics import ndcg_at_k, recall_at_k

K = 20
DAY = 86_400.0
log = logging.getLogger("hybrid")


# ---------------------------------------------------------------------- evaluation
def evaluate_scores(
    scores: np.ndarray, relevant: sp.csr_array, *, seen: sp.csr_array | None = None,
    candidates: np.ndarray | None = None, users: np.ndarray | None = None,
) -> dict[str, float]:
    """Recall/NDCG@20 (mean and per-user standard error) from a score matrix (n_users, n_items)."""
    scores = np.array(scores, np.float32, copy=True)
    if seen is not None:
        s = sp.csr_array(seen)
        r = np.repeat(np.arange(s.shape[0]), np.diff(s.indptr))
        scores[r, s.indices] = -np.inf
    if candidates is not None:
        mask = np.ones(scores.shape[1], bool)
        mask[candidates] = False
        scores[:, mask] = -np.inf
    rel = sp.csr_array(relevant)
    if users is None:
        users = np.flatnonzero(np.diff(rel.indptr) > 0)
    sc = scores[users]
    top = np.argpartition(-sc, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(sc, top, 1), axis=1)
    ranked = np.take_along_axis(top, order, 1)
    rel_u = rel[users]
    rec, nd = recall_at_k(ranked, rel_u, K), ndcg_at_k(ranked, rel_u, K)
    n = len(users)
    se = (lambda v: float(np.std(v, ddof=1) / np.sqrt(n)) if n > 1 else float("nan"))
    return {"recall@20": float(rec.mean()), "ndcg@20": float(nd.mean()),
            "recall@20_se": se(rec), "ndcg@20_se": se(nd), "n_users": int(n)}


def emb_scores(model: Any, item_vectors: np.ndarray | None = None) -> np.ndarray:
    v = model.item_embeddings_ if item_vectors is None else item_vectors
    return model.user_embeddings_ @ v.T


# ---------------------------------------------------------------------- LightFM peer
def lightfm_available() -> bool:
    try:
        import lightfm  # noqa: F401
    except ImportError:
        return False
    return True


class LightFMPeer:
    """LightFM (WARP) with identity + side features; epochs chosen by validation Recall@20."""

    def __init__(self, no_components: int, learning_rate: float, max_epochs: int, every: int,
                 random_state: int = 0) -> None:
        self.no_components, self.learning_rate = no_components, learning_rate
        self.max_epochs, self.every, self.random_state = max_epochs, every, random_state

    def fit(self, train: gr.Interactions, item_features: sp.csr_array | None,
            user_features: sp.csr_array | None, valid_fn: Any) -> LightFMPeer:
        from lightfm import LightFM

        def with_identity(f: sp.csr_array | None, n: int) -> sp.csr_array:
            eye = sp.identity(n, format="csr", dtype=np.float32)
            if f is None or f.shape[1] == 0:
                return sp.csr_matrix(eye)
            from sklearn.preprocessing import normalize

            return sp.csr_matrix(normalize(sp.hstack([eye, f], format="csr"), norm="l1"))

        self.uf = with_identity(user_features, train.n_users)
        self.itf = with_identity(item_features, train.n_items)
        m = LightFM(no_components=self.no_components, learning_rate=self.learning_rate,
                    loss="warp", random_state=self.random_state)
        r = train.to_csr()
        r = sp.coo_matrix((np.ones(r.nnz, np.float32), (np.repeat(np.arange(r.shape[0]), np.diff(r.indptr)), r.indices)), shape=r.shape)
        self.best, self.best_epoch, self.best_state = -1.0, 0, None
        for epoch in range(1, self.max_epochs + 1):
            m.fit_partial(r, user_features=self.uf, item_features=self.itf, epochs=1, num_threads=2)
            if epoch % self.every == 0 or epoch == self.max_epochs:
                self.model = m
                score = valid_fn(self)
                if score > self.best:
                    self.best, self.best_epoch = score, epoch
                    self.best_state = self._vectors(self.itf)
        self.user_vec, self.item_vec, self.item_bias = self.best_state  # type: ignore[misc]
        return self

    def _vectors(self, itf: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, uv = self.model.get_user_representations(self.uf)
        ib, iv = self.model.get_item_representations(itf)
        return uv.copy(), iv.copy(), ib.copy()

    def scores(self, item_features: sp.csr_array | None = None) -> np.ndarray:
        """Scores for every user over the training items, or over new items given by features."""
        if item_features is None:
            uv, iv, ib = (self.user_vec, self.item_vec, self.item_bias) if hasattr(self, "user_vec") else self._vectors(self.itf)
        else:
            uv = self.user_vec if hasattr(self, "user_vec") else self._vectors(self.itf)[0]
            ib, iv = self.model.get_item_representations(item_features)
        return uv @ iv.T + ib[None, :]


# ---------------------------------------------------------------------- helpers
def fit_time(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t, 1)


def restrict(x: gr.Interactions, keep: np.ndarray) -> gr.Interactions:
    return x.subset(np.flatnonzero(keep)) if not keep.all() else x


def row(dataset: str, setting: str, model: str, metrics: dict[str, float], **recipe: Any) -> dict[str, Any]:
    out = {"dataset": dataset, "setting": setting, "model": model, **metrics, "recipe": recipe}
    log.info("%-8s %-13s %-15s R@20 %.4f (±%.4f)  N@20 %.4f  %s", dataset, setting, model,
             metrics["recall@20"], metrics["recall@20_se"], metrics["ndcg@20"], recipe)
    return out


def recipe(dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    """The recorded LightGCN recipe of ``dataset`` (graphrec.recipes), shared by every graphrec fit."""
    from graphrec.recipes import settings_for

    engine = settings_for("lightgcn", dataset, quick=args.quick)
    if args.epochs is not None:
        engine["epochs"] = args.epochs
    engine.update(eval_every=max(1, min(10, engine["epochs"] // 2)), random_state=0, device="cpu")
    return engine


# ---------------------------------------------------------------------- MovieLens
def movielens(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ds = gr.datasets.load("movielens-small", root=args.root)
    feats = gr.datasets.load_features("movielens-small", ds, root=args.root)
    train, valid, test = ds.train, ds.valid, ds.test
    assert valid is not None
    engine = recipe("movielens-small", args)
    seen = train.to_csr()

    def valid_recall(model: Any) -> float:
        return evaluate_scores(emb_scores(model), valid.to_csr(), seen=seen)["recall@20"]

    # ---- warm: lightgcn, hybrid (features_as on valid), lightfm (grid on valid), popularity
    lgcn, t_l = fit_time(lambda: gr.LightGCN(**engine).fit(train, valid))
    rows.append(row("movielens", "warm", "lightgcn", evaluate_scores(emb_scores(lgcn), test.to_csr(), seen=seen),
                    epochs=lgcn.best_epoch_, fit_s=t_l, valid_recall=round(valid_recall(lgcn), 4)))
    best = None
    for mode in args.modes:
        m, t_h = fit_time(lambda mode=mode: gr.HybridLightGCN(
            features_as=mode, cold_readout="ridge", **engine).fit(train, valid, features=feats))
        v = valid_recall(m)
        log.info("warm hybrid features_as=%s valid R@20 %.4f (%.0f s, epoch %s)", mode, v, t_h, m.best_epoch_)
        if best is None or v > best[0]:
            best = (v, mode, m, t_h)
    assert best is not None
    v_h, mode, hyb, t_h = best
    rows.append(row("movielens", "warm", "hybrid", evaluate_scores(emb_scores(hyb), test.to_csr(), seen=seen),
                    features_as=mode, epochs=hyb.best_epoch_, fit_s=t_h, valid_recall=round(v_h, 4)))
    pop = np.bincount(train.item_idx, minlength=train.n_items).astype(np.float32)
    rows.append(row("movielens", "warm", "popularity",
                    evaluate_scores(np.tile(pop, (train.n_users, 1)), test.to_csr(), seen=seen)))
    lfm_best = None
    if lightfm_available():
        for nc, lr in args.lightfm_grid:
            def vf(p: LightFMPeer) -> float:
                return evaluate_scores(p.scores(), valid.to_csr(), seen=seen)["recall@20"]

            p, t_p = fit_time(lambda nc=nc, lr=lr: LightFMPeer(nc, lr, args.lightfm_epochs, 5).fit(
                train, feats.item_features, None, vf))
            log.info("warm lightfm no_components=%d lr=%g valid R@20 %.4f (%.0f s, epoch %d)", nc, lr, p.best, t_p, p.best_epoch)
            if lfm_best is None or p.best > lfm_best[0].best:
                lfm_best = (p, nc, lr, t_p)
        assert lfm_best is not None
        p, nc, lr, t_p = lfm_best
        rows.append(row("movielens", "warm", "lightfm", evaluate_scores(p.scores(), test.to_csr(), seen=seen),
                        no_components=nc, learning_rate=lr, epochs=p.best_epoch, fit_s=t_p,
                        valid_recall=round(p.best, 4)))

    # ---- time: half-life chosen on valid (the no-decay fit is the warm hybrid)
    tbest = (v_h, None, hyb)
    for days in args.half_lives:
        m = gr.HybridLightGCN(features_as=mode, cold_readout="ridge", half_life=days * DAY,
                              time_reference="user", **engine).fit(train, valid, features=feats)
        v = valid_recall(m)
        log.info("time half_life=%s days valid R@20 %.4f", days, v)
        if v > tbest[0]:
            tbest = (v, days, m)
    rows.append(row("movielens", "time", "hybrid", evaluate_scores(emb_scores(tbest[2]), test.to_csr(), seen=seen),
                    half_life_days=tbest[1], features_as=mode, valid_recall=round(tbest[0], 4),
                    valid_recall_no_decay=round(v_h, 4)))
    rows.append(row("movielens", "time", "lightgcn", evaluate_scores(emb_scores(lgcn), test.to_csr(), seen=seen),
                    half_life_days=None))
    return rows


def cold_items(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ds = gr.datasets.load("movielens-small", root=args.root)
    feats = gr.datasets.load_features("movielens-small", ds, root=args.root)
    engine = recipe("movielens-small", args)
    x = ds.all
    rng = np.random.default_rng(0)
    perm = rng.permutation(x.n_items)
    n_test, n_valid = int(0.2 * x.n_items), int(0.1 * x.n_items)
    test_items, valid_items = np.sort(perm[:n_test]), np.sort(perm[n_test : n_test + n_valid])
    part = np.zeros(x.n_items, np.int8)
    part[test_items], part[valid_items] = 2, 1
    p = part[x.item_idx]
    train, valid, test = restrict(x, p == 0), restrict(x, p == 1), restrict(x, p == 2)
    f = feats.item_features

    def cold_eval(scores: np.ndarray, target: gr.Interactions, items: np.ndarray) -> dict[str, float]:
        return evaluate_scores(scores, target.to_csr(), candidates=items)

    # our hybrid: cold items are in the IdMaps with features only (no interaction);
    # features_as and id_dropout chosen on the validation cold items
    best_h = None
    for mode, drop in args.cold_grid:
        m, t_h = fit_time(lambda mode=mode, drop=drop: gr.HybridLightGCN(
            features_as=mode, id_dropout=drop, cold_readout="ridge", **engine).fit(train, features=feats))
        for alpha in (0.1, 1.0, 10.0):  # the readout is refitted without retraining
            m.fit_readouts(feats, alpha)
            v = cold_eval(emb_scores(m), valid, valid_items)["recall@20"]
            log.info("cold hybrid features_as=%s id_dropout=%s readout alpha %s: valid R@20 %.4f (%.0f s)",
                     mode, drop, alpha, v, t_h)
            if best_h is None or v > best_h[0]:
                best_h = (v, mode, drop, alpha, m, t_h)
    assert best_h is not None
    v_h, mode, drop, alpha, hyb, t_h = best_h
    hyb.fit_readouts(feats, alpha)
    # the test items through the cold-start door (as items new after fitting: same vectors)
    vecs = hyb.item_embeddings_.copy()
    vecs[test_items] = gr.coldstart.new_item_vectors(hyb, f[test_items])
    rows.append(row("movielens", "cold-items", "hybrid", cold_eval(emb_scores(hyb, vecs), test, test_items),
                    features_as=mode, id_dropout=drop, cold_readout="ridge", readout_alpha=alpha,
                    epochs=engine["epochs"], fit_s=t_h,
                    valid_recall=round(v_h, 4)))
    # LightGCN + ContentItemMapper (alpha on valid cold items)
    lgcn = gr.LightGCN(**engine).fit(train)
    warm = np.flatnonzero(part == 0)
    best = None
    for alpha in (0.1, 1.0, 10.0):
        mapper = ContentItemMapper(alpha=alpha).fit(f[warm], lgcn.item_embeddings_[warm])
        v = lgcn.item_embeddings_.copy()
        v[valid_items] = mapper.transform(f[valid_items])
        r = cold_eval(emb_scores(lgcn, v), valid, valid_items)["recall@20"]
        if best is None or r > best[0]:
            best = (r, alpha, mapper)
    v = lgcn.item_embeddings_.copy()
    v[test_items] = best[2].transform(f[test_items])
    rows.append(row("movielens", "cold-items", "content-mapper", cold_eval(emb_scores(lgcn, v), test, test_items),
                    alpha=best[1], valid_recall=round(best[0], 4)))
    rows.append(row("movielens", "cold-items", "lightgcn", cold_eval(emb_scores(lgcn), test, test_items),
                    note="untrained item vectors of never-seen items (pure CF cannot place them)"))
    # popularity placement: a new movie scores the mean training popularity of its features
    pop = np.bincount(train.item_idx, minlength=x.n_items).astype(np.float64)
    fb = sp.csr_array(f[warm] > 0, dtype=np.float64)
    per_feature = (fb.T @ pop[warm]) / np.maximum(np.asarray(fb.sum(axis=0)).ravel(), 1)
    fn = sp.csr_array(f > 0, dtype=np.float64)
    place = (fn @ per_feature) / np.maximum(np.asarray(fn.sum(axis=1)).ravel(), 1)
    rows.append(row("movielens", "cold-items", "popularity",
                    cold_eval(np.tile(place.astype(np.float32), (x.n_users, 1)), test, test_items)))
    if lightfm_available():
        lfm_best = None
        for nc, lr in args.lightfm_grid:
            def vf(pp: LightFMPeer) -> float:
                return cold_eval(pp.scores(), valid, valid_items)["recall@20"]

            peer, t_p = fit_time(lambda nc=nc, lr=lr, vf=vf: LightFMPeer(nc, lr, args.lightfm_epochs, 5).fit(train, f, None, vf))
            log.info("cold lightfm no_components=%d lr=%g valid R@20 %.4f (%.0f s, epoch %d)", nc, lr, peer.best, t_p, peer.best_epoch)
            if lfm_best is None or peer.best > lfm_best[0].best:
                lfm_best = (peer, nc, lr, t_p)
        assert lfm_best is not None
        peer, nc, lr, t_p = lfm_best
        rows.append(row("movielens", "cold-items", "lightfm", cold_eval(peer.scores(), test, test_items),
                        no_components=nc, learning_rate=lr, epochs=peer.best_epoch, fit_s=t_p,
                        valid_recall=round(peer.best, 4),
                        note="identity + side features; cold items scored through their side features"))
    return rows


# ---------------------------------------------------------------------- Last.fm
def lastfm(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ds = gr.datasets.load("lastfm", root=args.root)
    feats = gr.datasets.load_features("lastfm", ds, root=args.root)
    test = ds.test
    engine = recipe("lastfm", args)
    # sparse users: 20% of the users (with test items) keep only 1-5 random training
    # interactions (the rest of their training rows are dropped for every model)
    rng = np.random.default_rng(0)
    has_test = np.flatnonzero(np.diff(test.to_csr().indptr) > 0)
    chosen = np.sort(rng.choice(has_test, int(0.2 * len(has_test)), replace=False))
    keep_n = np.full(ds.n_users, np.iinfo(np.int64).max)
    keep_n[chosen] = rng.integers(1, 6, len(chosen))
    order = rng.permutation(ds.train.nnz)
    u_sorted = ds.train.user_idx[order]
    rank = np.empty(ds.train.nnz, np.int64)
    srt = np.argsort(u_sorted, kind="stable")
    starts = np.searchsorted(u_sorted[srt], np.arange(ds.n_users))
    rank[order[srt]] = np.arange(ds.train.nnz) - starts[u_sorted[srt]]
    full_train = restrict(ds.train, rank < keep_n[ds.train.user_idx])
    sp_ = gr.splits.validation_split(full_train, 0.1, random_state=0)
    train, valid = sp_.train, sp_.valid
    seen = full_train.to_csr()
    sparse_users = chosen
    lgcn = gr.LightGCN(**engine).fit(train, valid)
    rows.append(row("lastfm", "sparse-users", "lightgcn",
                    evaluate_scores(emb_scores(lgcn), test.to_csr(), seen=seen, users=sparse_users),
                    epochs=lgcn.best_epoch_, n_sparse_users=len(chosen)))
    best = None
    vt = valid.to_csr()
    v_sparse = np.flatnonzero((np.bincount(train.user_idx, minlength=ds.n_users) <= 5) & (np.diff(vt.indptr) > 0))
    for w in args.social_weights:
        m = gr.HybridLightGCN(relation_weights={"user-user": w}, **engine).fit(train, valid, features=feats)
        v = evaluate_scores(emb_scores(m), vt, seen=train.to_csr(), users=v_sparse)["recall@20"]
        log.info("lastfm hybrid user-user weight %s: valid R@20 (sparse users) %.4f", w, v)
        if best is None or v > best[0]:
            best = (v, w, m)
    assert best is not None
    rows.append(row("lastfm", "sparse-users", "hybrid",
                    evaluate_scores(emb_scores(best[2]), test.to_csr(), seen=seen, users=sparse_users),
                    user_user_weight=best[1], epochs=best[2].best_epoch_, valid_recall_sparse=round(best[0], 4)))
    pop = np.bincount(full_train.item_idx, minlength=ds.n_items).astype(np.float32)
    rows.append(row("lastfm", "sparse-users", "popularity",
                    evaluate_scores(np.tile(pop, (ds.n_users, 1)), test.to_csr(), seen=seen, users=sparse_users)))

    # ---- friends only: 10% of the users with a friend held out entirely
    rel = feats.user_relations
    assert rel is not None
    has_friend = np.flatnonzero(np.diff(rel.indptr) > 0)
    rng = np.random.default_rng(0)
    new = np.sort(rng.choice(has_friend, int(0.1 * ds.n_users), replace=False))
    is_new = np.zeros(ds.n_users, bool)
    is_new[new] = True
    kept = restrict(ds.train, ~is_new[ds.train.user_idx])
    mask = sp.diags_array((~is_new).astype(np.float32))
    feats_kept = gr.Features(users=feats.users, items=feats.items,
                             user_relations=sp.csr_array(mask @ rel @ mask))
    m = gr.HybridLightGCN(relation_weights={"user-user": best[1]}, **engine).fit(
        kept, features=feats_kept)
    friends = [rel.indices[rel.indptr[u] : rel.indptr[u + 1]] for u in new]
    friends = [fr[~is_new[fr]] for fr in friends]
    ok = np.array([len(fr) > 0 for fr in friends])
    new, friends = new[ok], [fr for fr, o in zip(friends, ok) if o]
    vec = new_user_vectors(m, friends=friends)
    relevant = ds.all.to_csr()[new]
    scores = vec @ m.item_embeddings_.T
    rows.append(row("lastfm", "friends-only", "hybrid", evaluate_scores(scores, relevant),
                    user_user_weight=best[1], n_new_users=len(new), epochs=engine["epochs"]))
    pop_k = np.bincount(kept.item_idx, minlength=ds.n_items).astype(np.float32)
    rows.append(row("lastfm", "friends-only", "popularity",
                    evaluate_scores(np.tile(pop_k, (len(new), 1)), relevant)))
    return rows


PARTS = {"movielens-warm": movielens, "movielens-cold": cold_items, "lastfm": lastfm}


def _run_part(job: tuple[str, argparse.Namespace]) -> list[dict[str, Any]]:
    name, args = job
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t = time.perf_counter()
    rows = PARTS[name](args)
    log.info("part %s done in %.0f s", name, time.perf_counter() - t)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="benchmarks/out/hybrid", help="output directory (hybrid.json)")
    ap.add_argument("--root", default=None, help="data root (default: GRAPHREC_DATA / ../shared/data)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs of every graphrec fit (default: the recorded LightGCN recipe's)")
    ap.add_argument("--lightfm-epochs", type=int, default=30, help="max LightFM epochs")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny budgets, one choice each")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {list(PARTS)}")
    ap.add_argument("--jobs", type=int, default=1, help="run the parts in this many processes")
    args = ap.parse_args(argv)
    # grids kept small (the machine is shared): 2 hybrid settings per choice, LightFM 3
    args.modes = ["sum", "both"]
    args.cold_grid = [("sum", 0.5), ("both", 0.5)]
    args.lightfm_grid = [(64, 0.05), (64, 0.01), (32, 0.05)]
    args.half_lives = [180]
    args.social_weights = [0.5, 1.0]
    if args.quick:
        args.lightfm_epochs = 2
        args.modes, args.lightfm_grid, args.half_lives, args.social_weights = ["both"], [(16, 0.05)], [180], [1.0]
        args.cold_grid = [("both", 0.5)]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"unknown parts {unknown}; known: {list(PARTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if args.jobs > 1 and len(parts) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(args.jobs, len(parts))) as pool:
            for part_rows in pool.map(_run_part, [(p, args) for p in parts]):
                rows += part_rows
    else:
        for p in parts:
            rows += _run_part((p, args))
    if not lightfm_available():
        log.warning("lightfm is not importable: no lightfm rows (see RESULTS.md for how it was installed)")
    path = out / "hybrid.json"
    meta = {"command": "python benchmarks/hybrid.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "seconds": round(time.perf_counter() - t0, 1), "machine": platform.platform(),
            "lightfm": lightfm_available()}
    path.write_text(json.dumps(rows, indent=1))
    (out / "hybrid_meta.json").write_text(json.dumps(meta, indent=1))
    print(f"{'dataset':9} {'setting':13} {'model':15} {'R@20':>14} {'N@20':>14}")
    for r in rows:
        print(f"{r['dataset']:9} {r['setting']:13} {r['model']:15} "
              f"{r['recall@20']:.4f}±{r['recall@20_se']:.4f} {r['ndcg@20']:.4f}±{r['ndcg@20_se']:.4f}")
    print(f"wrote {path} ({meta['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
