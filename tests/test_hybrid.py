"""Hybrid encoders: planted attribute signal recovered for cold items and users; cold-start doors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import graphrec as gr
from graphrec.metrics import recall_at_k

K = 10
FAST = {"embedding_dim": 16, "epochs": 40, "batch_size": 256, "lr": 0.02, "random_state": 0}


def _planted(n_users=120, n_items=90, n_groups=3, per_user=12, cold_share=0.3, seed=0):
    """Users and items in groups; a user interacts only with items of its group.

    Items carry their group as a one-hot attribute and users theirs; a share of
    the items is cold (no training interaction: all their rows go to test).
    """
    rng = np.random.default_rng(seed)
    ug = rng.integers(0, n_groups, n_users)
    ig = np.arange(n_items) % n_groups
    cold = rng.permutation(n_items)[: int(cold_share * n_items)]
    is_cold = np.zeros(n_items, bool)
    is_cold[cold] = True
    u, i = [], []
    for user in range(n_users):
        pool = np.flatnonzero(ig == ug[user])
        pick = rng.choice(pool, per_user, replace=False)
        u += [user] * per_user
        i += pick.tolist()
    u, i = np.array(u), np.array(i)
    hold = is_cold[i]
    train = gr.Interactions.from_arrays(u[~hold], i[~hold], n_users=n_users, n_items=n_items)
    test = gr.Interactions(u[hold], i[hold], users=train.users, items=train.items)
    f = gr.Features.from_interactions(train)
    f = f.add_matrix("item", np.eye(n_groups)[ig], [f"g{g}" for g in range(n_groups)])
    f = f.add_matrix("user", np.eye(n_groups)[ug], [f"ug{g}" for g in range(n_groups)])
    return train, test, f, ug, ig, cold


def _cold_recall(item_vectors, user_vectors, test, cold):
    scores = user_vectors @ item_vectors[cold].T
    ranked = cold[np.argsort(-scores, axis=1)[:, :K]]
    rel = test.to_csr()
    users = np.flatnonzero(np.diff(rel.indptr) > 0)
    return float(recall_at_k(ranked[users], rel[users], K).mean())


@pytest.fixture(scope="module")
def planted():
    return _planted()


@pytest.mark.parametrize(("mode", "readout"), [("sum", "graph"), ("graph", "graph"), ("both", "graph"),
                                               ("both", "ridge")])
def test_cold_items_recovered_from_attributes_where_pure_cf_cannot(planted, mode, readout):
    train, test, f, _ug, _ig, cold = planted
    hyb = gr.HybridLightGCN(n_layers=2, features_as=mode, cold_readout=readout, **FAST).fit(train, features=f)
    r_hyb = _cold_recall(hyb.item_embeddings_, hyb.user_embeddings_, test, cold)
    cf = gr.LightGCN(n_layers=2, **FAST).fit(train)
    r_cf = _cold_recall(cf.item_embeddings_, cf.user_embeddings_, test, cold)
    # popularity placement: every cold item has zero training count, so its order is arbitrary;
    # its expected recall is that of a random order over the cold items
    r_pop = K / len(cold)
    assert r_hyb > 0.9, (mode, r_hyb)
    assert r_cf < 2 * r_pop and r_hyb > 2.5 * r_pop, (r_cf, r_pop)
    # a cold item in the IdMaps is embedded exactly as a new item with the same features
    again = hyb.embed_new_items(f.item_features[cold])
    assert np.allclose(again, hyb.item_embeddings_[cold], atol=1e-5)
    door = gr.coldstart.new_item_vectors(hyb, f.item_features[cold])
    assert np.allclose(door, again)


def test_new_users_from_attributes_or_friends_only():
    train, _test, f, ug, _ig, _cold = _planted(cold_share=0.0, seed=1)
    n_new = 30  # the last users are held out entirely: features / friends only
    keep = train.user_idx < train.n_users - n_new
    tr = gr.Interactions(train.user_idx[keep], train.item_idx[keep], users=train.users, items=train.items)
    rng = np.random.default_rng(0)
    pairs = []  # each user befriends 3 users of its group
    for user in range(train.n_users):
        same = np.flatnonzero(ug == ug[user])
        pairs += [[user, v] for v in rng.choice(same, 3, replace=False) if v != user]
    pairs = np.array(pairs)
    old = (pairs < train.n_users - n_new).all(axis=1)  # the model sees links among known users
    f_fit = f.add_relations("user", pairs[old])
    m = gr.HybridLightGCN(n_layers=2, features_as="both", **FAST).fit(tr, features=f_fit)
    new = np.arange(train.n_users - n_new, train.n_users)
    rel = train.to_csr()[new]
    pop = np.bincount(tr.item_idx, minlength=tr.n_items).astype(float)
    r_pop = recall_at_k(np.tile(np.argsort(-pop)[:K], (n_new, 1)), rel, K).mean()
    # features only
    idx, _ = gr.coldstart.recommend_new_users_from(m, K, features=f.user_features[new])
    r_feat = recall_at_k(idx, rel, K).mean()
    # friends only (links to known users)
    friends = [pairs[(pairs[:, 0] == u) & (pairs[:, 1] < new[0]), 1] for u in new]
    idx, _ = gr.coldstart.recommend_new_users_from(m, K, friends=friends)
    r_friends = recall_at_k(idx, rel, K).mean()
    cf = gr.LightGCN(n_layers=2, **FAST).fit(tr)
    r_cf = recall_at_k(cf.recommend(new, K)[0], rel, K).mean()  # untrained rows of unseen users
    assert r_feat > 2 * r_pop and r_friends > 2 * r_pop, (r_feat, r_friends, r_pop)
    assert r_cf < r_feat / 2
    with pytest.raises(ValueError, match="different numbers"):
        gr.coldstart.new_user_vectors(m, friends=friends, features=f.user_features[new[:3]])
    with pytest.raises(TypeError, match="cannot place"):
        gr.coldstart.new_user_vectors(cf, friends=friends)


def test_content_based_is_the_degenerate_case(planted):
    train, test, f, _ug, ig, cold = planted
    m = gr.ContentBased(**FAST).fit(train, features=f)
    same = np.flatnonzero(ig == 0)
    assert np.allclose(m.item_embeddings_[same], m.item_embeddings_[same[0]])
    assert _cold_recall(m.item_embeddings_, m.user_embeddings_, test, cold) > 0.9
    with pytest.raises(ValueError, match="needs features"):
        gr.ContentBased(epochs=1).fit(train)
    mf = gr.HybridMF(**FAST).fit(train, features=f)
    assert _cold_recall(mf.item_embeddings_, mf.user_embeddings_, test, cold) > 0.9


def test_learned_relation_weights_and_time_decay(planted):
    train, _test, f, *_ = planted
    m = gr.HybridLightGCN(n_layers=2, learn_relation_weights=True, **FAST).fit(train, features=f)
    assert set(m.relation_gains_) == {"user-item", "item-attribute", "user-attribute"}
    assert all(v > 0 for v in m.relation_gains_.values())
    assert any(abs(v - 1) > 1e-3 for v in m.relation_gains_.values())
    with pytest.raises(ValueError, match="half_life needs timestamps"):
        gr.HybridLightGCN(half_life=10.0, epochs=1).fit(train, features=f)
    with pytest.raises(ValueError, match="features_as"):
        gr.HybridLightGCN(features_as="concat", epochs=1).fit(train)
    with pytest.raises(ValueError, match="id_dropout"):
        gr.HybridMF(id_dropout=1.0, epochs=1).fit(train)
    d = gr.HybridLightGCN(n_layers=1, id_dropout=0.5, **FAST).fit(train, features=f)
    assert np.isfinite(d.item_embeddings_).all()
    t = gr.Interactions(train.user_idx, train.item_idx, users=train.users, items=train.items,
                        timestamps=np.arange(train.nnz))
    a = gr.HybridLightGCN(n_layers=1, half_life=train.nnz / 4, **FAST).fit(t)
    b = gr.HybridLightGCN(n_layers=1, **FAST).fit(t)
    assert not np.allclose(a.item_embeddings_, b.item_embeddings_)
    assert a.node_degree_[: train.n_users].sum() < b.node_degree_[: train.n_users].sum()


def test_without_features_it_is_lightgcn_and_contract_holds():
    train, *_ = _planted(cold_share=0.0)  # every item has an interaction: no isolated nodes
    a = gr.HybridLightGCN(n_layers=2, **FAST).fit(train)
    b = gr.LightGCN(n_layers=2, **FAST).fit(train)
    assert np.allclose(a.user_embeddings_, b.user_embeddings_, atol=1e-4)
    idx, sc = a.recommend([0, 1], k=5)
    assert idx.shape == (2, 5) and (np.diff(sc, axis=1) <= 0).all()
    seen = train.to_csr()
    assert not any(seen[0, i] for i in idx[0])
    assert gr.HybridLightGCN(**FAST).get_params()["features_as"] == "both"
    with pytest.raises(gr.NotFittedError):
        gr.HybridLightGCN().embed_new_items(sp.csr_array((1, 3)))
