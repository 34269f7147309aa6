"""The neighbourhood of a user or item as plain tables, with a seeded ring layout.

:func:`neighborhood_graph` does everything except drawing: it picks the nodes
(the k-hop ego graph under a node cap, the model's recommendations, the strongest
walks from the centre to each recommendation), their hop rings and positions, and
the edges. The matplotlib view (:mod:`graphrec.viz.neighborhood`) and the HTML view
(:mod:`graphrec.viz.html`) both draw this object, so they always show the same graph.
No plotting library is imported here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graphrec._ids import door_ids, to_index
from graphrec.data.interactions import Interactions
from graphrec.explain import (
    _resolve_weighting,
    node_labels,
    training_interactions,
    walks,
)
from graphrec.graph import bipartite_adjacency, ego_subgraph, normalized_adjacency
from graphrec.viz.options import NeighborhoodOptions, takes_options

__all__ = ["Neighborhood", "hop_distances", "neighborhood_graph"]


@dataclass
class Neighborhood:
    """A drawable neighbourhood: nodes, edges, recommendations and the paths to them.

    Attributes
    ----------
    x : Interactions
        The training graph.
    centre : int
        Graph node id of the centre (users first, then items: item i is n_users + i).
    nodes : DataFrame, indexed by graph node id
        ``kind`` ("user"/"item"), ``index`` (internal index), ``label`` (title or id,
        truncated to ``label_width``), ``title`` (the same, in full),
        ``hop`` (distance from the centre in the full graph, -1 if farther than 3),
        ``role`` ("centre", "neighbor", "path", "recommended"), ``ring``,
        ``weight`` (propagation weight from the centre), ``degree`` (in the full
        graph), ``rec_rank`` (1..k, 0 otherwise), ``has_path`` (recommended items: a
        path to the centre is drawn), ``n_walks`` (recommended items: walks from the
        centre in the full graph; 0 with ``has_path`` False means unreachable, more
        means the node cap left no room for one), ``x``, ``y``, ``angle`` (radians).
    edges : DataFrame
        ``src``, ``dst`` (node ids, src < dst), ``on_path`` (bool), ``path_weight``
        (summed ``share`` of the drawn walks using the edge, 0 if none),
        ``rec_rank`` (of the strongest recommendation whose path uses it, 0 if none).
    paths : DataFrame
        The drawn walks: ``rec_rank``, ``item``, ``rank``, ``nodes`` (tuple),
        ``contribution`` (of the walk), ``via_contribution`` (summed over all walks
        through the same first middle node, e.g. the user's item that leads to the
        recommendation) and ``share`` (``via_contribution`` over all walks' total).
    recommendations : DataFrame
        ``rank``, ``item``, ``score``, ``label``, ``has_path``, ``n_walks`` (walks of
        the path length in the full graph), ``total`` (their summed contribution).
    n_within : int
        Number of nodes within ``hops`` of the centre in the full graph (before the cap).
    title : str
    """

    x: Interactions
    centre: int
    nodes: pd.DataFrame
    edges: pd.DataFrame
    paths: pd.DataFrame
    recommendations: pd.DataFrame
    n_within: int
    title: str


def hop_distances(a: sp.csr_array, centre: int, max_hops: int) -> np.ndarray:
    """Hop distance of every node from ``centre`` (-1 beyond ``max_hops``), by sparse BFS."""
    n = a.shape[0]
    dist = np.full(n, -1, np.int64)
    dist[centre] = 0
    frontier = np.zeros(n, bool)
    frontier[centre] = True
    for h in range(1, max_hops + 1):
        reached = (a.T @ frontier.astype(np.float32)) > 0
        new = reached & (dist < 0)
        if not new.any():
            break
        dist[new] = h
        frontier = new
    return dist


def _recommendations(model: Any, user: int | None, item: int | None, k: int):
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if user is not None:
        idx, scores = model.recommend([user], k=k)
    elif getattr(model, "item_embeddings_", None) is not None:
        idx, scores = model.similar_items([item], k=k)
    else:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    keep = idx[0] >= 0
    return idx[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)


def _centre_ids(ids: str | None, model: Any, user: Any, train: Any, stacklevel: int = 4) -> str | None:
    """``ids`` of a neighbourhood view resolved where the user called it (for the warning's line)."""
    if ids is not None:
        return ids
    if model is not None and hasattr(model, "users_"):
        idmap = model.users_ if user is not None else model.items_
    elif train is not None:
        idmap = train.users if user is not None else train.items
    else:
        return None
    return door_ids(None, idmap, "the neighbourhood centre", stacklevel=stacklevel)


@takes_options
def neighborhood_graph(
    model: Any = None,
    user: int | None = None,
    item: int | None = None,
    *,
    ids: str | None = None,
    **options: Any,
) -> Neighborhood:
    """Select, rank and lay out the neighbourhood of a user (or item).

    Node cap. The centre, the ``k`` recommendations and the middle nodes of their
    ``paths_per_item`` strongest walks are kept first (a walk is added only whole).
    The remaining budget goes to the ego graph, split evenly across hops (unused
    quota rolls over to the next hop) and, within a hop, to the nodes with the largest
    propagation weight from the centre (:func:`graphrec.graph.ego_subgraph`'s order).
    An even split stops the first hop of a heavy user from filling the whole cap.
    Without recommendations (``k=0``) and with a cap at least as large as the ego
    graph, the nodes are exactly those within ``hops`` of the centre.

    Layout (deterministic, no random seed needed): concentric rings, the centre in
    the middle, hop h on ring h, recommendations on an outer ring. Recommendations
    are spread in rank order, then two passes of barycentric ordering pull each
    ring's nodes towards their neighbours on the next ring so paths run radially.

    Parameters
    ----------
    model : Recommender, optional
        Fitted. Gives the recommendations (user centre: ``recommend``; item centre:
        ``similar_items`` when it has item embeddings) and, without ``train``, the graph
        (from ``model.seen_``). May be None when ``train`` is given and ``k=0``.
    user, item : int or label
        The centre, exactly one: your own id with ``ids="raw"``, the internal index
        with ``ids="index"``.
    ids : {"raw", "index"}, optional
        How the centre is given. Not given: the internal index, with a
        ``FutureWarning`` where the model's ids differ from its indices (the default
        becomes ``"raw"`` in graphrec 0.3.0).
    **options
        ``hops=2``, ``k=10``, ``max_nodes=60``, ``paths_per_item=2``, ``train=None``,
        ``item_info=None``, ``weighting="auto"``, ``label_width=28``: see
        :class:`graphrec.viz.NeighborhoodOptions`, where they are documented once.

    Returns
    -------
    Neighborhood

    Raises
    ------
    ValueError
        Neither or both centres; ``hops < 1``; ``k < 0``; ``max_nodes <= k``; no model
        and no ``train``, or ``k > 0`` without a model.
    IndexError
        Centre out of range.
    graphrec.exceptions.UnknownIdError
        ``ids="raw"`` and an id the model does not know.
    """
    if (user is None) == (item is None):
        raise ValueError("give exactly one of user or item")
    opts = NeighborhoodOptions(**options)
    hops, k, max_nodes, paths_per_item = opts.hops, opts.k, opts.max_nodes, opts.paths_per_item
    train, item_info, label_width = opts.train, opts.item_info, opts.label_width
    if model is None and (train is None or k > 0):
        raise ValueError("give a fitted model (or train with k=0)")
    # train is not None when model is (checked above)
    x = training_interactions(model, train) if model is not None else cast(Interactions, train)
    ids = door_ids(ids, x.users if user is not None else x.items, "the neighbourhood centre")
    if ids == "raw" and user is not None:
        user = int(to_index([user], x.users, "user", "raw")[0])
    elif ids == "raw":
        item = int(to_index([cast(Any, item)], x.items, "item", "raw")[0])
    if user is not None:
        if not 0 <= int(user) < x.n_users:
            raise IndexError(f"user index {user} out of range [0, {x.n_users})")
        user, centre = int(user), int(user)
    else:
        item = int(item)  # type: ignore[arg-type]  # exactly one of user, item (checked above)
        if not 0 <= item < x.n_items:
            raise IndexError(f"item index {item} out of range [0, {x.n_items})")
        centre = x.n_users + item
    weighting = _resolve_weighting(opts.weighting, model)
    a_norm = normalized_adjacency(x)
    a_bin = bipartite_adjacency(x)
    a_path = a_norm if weighting == "normalized" else a_bin
    dist = hop_distances(a_norm, centre, max(hops, 3))

    # -- recommendations and their strongest walks
    rec_items, rec_scores = (
        _recommendations(model, user, item, k) if model is not None else ([], [])
    )
    rec_items, rec_scores = np.asarray(rec_items, np.int64), np.asarray(rec_scores, np.float32)
    length = 3 if user is not None else 2
    rec_nodes = rec_items + x.n_users
    walk_rows, n_walks, totals = [], [], []
    for rank, node in enumerate(rec_nodes.tolist(), 1):
        nodes_w, w = walks(a_path, centre, node, length)
        n_walks.append(len(w))
        totals.append(float(w.sum()))
        if len(w) == 0:
            continue
        # rank the first middle node by its summed contribution (the "because of" item),
        # then draw the strongest walk through each of the best ones
        mid, first, inv = np.unique(nodes_w[:, 1], return_index=True, return_inverse=True)
        via = np.bincount(inv.ravel(), weights=w, minlength=len(mid))
        for r, j in enumerate(np.lexsort((mid, -via))[:paths_per_item]):
            f = first[j]
            walk_rows.append(
                (
                    rank,
                    node - x.n_users,
                    r + 1,
                    tuple(nodes_w[f].tolist()),
                    w[f],
                    via[j],
                    via[j] / w.sum(),
                )
            )
    paths = pd.DataFrame(
        walk_rows,
        columns=["rec_rank", "item", "rank", "nodes", "contribution", "via_contribution", "share"],
    )

    # -- the node cap: centre, recommendations, whole walks (best ranks first), ego fill
    keep = [centre] + [n for n in rec_nodes.tolist() if n != centre]
    kept = set(keep)
    drawn = np.zeros(len(paths), bool)
    for j in (
        np.lexsort((paths["rec_rank"].to_numpy(), paths["rank"].to_numpy())) if len(paths) else []
    ):
        middle = [n for n in paths["nodes"].iat[j][1:-1] if n not in kept]
        if len(keep) + len(middle) <= max_nodes:
            keep += middle
            kept.update(middle)
            drawn[j] = True
    paths = paths[drawn].reset_index(drop=True)
    ego = ego_subgraph(x, user=user, item=item, hops=hops, adjacency=a_norm)
    n_within = len(ego)
    budget = max_nodes - len(keep)
    rest = ego[~np.isin(ego, np.fromiter(kept, np.int64))]
    for h in range(1, hops + 1):
        cand = rest[dist[rest] == h]
        take = min(len(cand), budget // (hops - h + 1))
        keep += cand[:take].tolist()
        budget -= take
    nodes = np.asarray(keep, np.int64)

    # -- node table
    deg = np.diff(a_bin.indptr)
    signal = np.zeros(a_norm.shape[0])
    signal[centre] = 1.0
    weight = np.zeros(a_norm.shape[0])
    for h in range(1, max(hops, 3) + 1):
        signal = a_norm.T @ signal
        weight[dist == h] = signal[dist == h]
    weight[centre] = 1.0
    rank_of = {n: r for r, n in enumerate(rec_nodes.tolist(), 1)}
    on_walk = {n for t in paths["nodes"] for n in t[1:-1]}
    role = np.where(
        nodes == centre,
        "centre",
        np.where(
            np.isin(nodes, rec_nodes),
            "recommended",
            np.where(np.isin(nodes, list(on_walk)) & (dist[nodes] > hops), "path", "neighbor"),
        ),
    )
    table = pd.DataFrame(
        {
            "kind": np.where(nodes < x.n_users, "user", "item"),
            "index": np.where(nodes < x.n_users, nodes, nodes - x.n_users),
            "label": node_labels(x, nodes, item_info, width=label_width),
            "title": node_labels(x, nodes, item_info),
            "hop": dist[nodes],
            "role": role,
            "weight": weight[nodes],
            "degree": deg[nodes],
            "rec_rank": [rank_of.get(n, 0) for n in nodes.tolist()],
            "on_path": np.isin(nodes, list(on_walk)),
        },
        index=pd.Index(nodes, name="node"),
    )
    has_path = set(paths["item"].tolist())
    table["has_path"] = [
        r > 0 and (i in has_path) for r, i in zip(table["rec_rank"], table["index"])
    ]
    walks_of = dict(zip(rec_nodes.tolist(), n_walks))
    table["n_walks"] = [walks_of.get(n, 0) for n in nodes.tolist()]
    max_ring = int(table.loc[table["role"] != "recommended", "hop"].clip(lower=0).max())
    table["ring"] = np.where(
        table["role"] == "recommended", max_ring + 1, table["hop"].clip(lower=0)
    )

    # -- edges: induced subgraph, walk edges marked
    sub = sp.csr_array(a_bin[nodes][:, nodes]).tocoo()
    upper = sub.row < sub.col
    src, dst = nodes[sub.row[upper]], nodes[sub.col[upper]]
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    edges = pd.DataFrame({"src": lo, "dst": hi})
    pw: dict[tuple[int, int], float] = {}
    pr: dict[tuple[int, int], int] = {}
    for t, c, r in zip(paths["nodes"], paths["share"], paths["rec_rank"]):
        for s, d in itertools.pairwise(t):
            e = (min(s, d), max(s, d))
            pw[e] = pw.get(e, 0.0) + float(c)
            pr[e] = min(pr.get(e, r), r)
    keys = list(zip(edges["src"].tolist(), edges["dst"].tolist()))
    edges["path_weight"] = [pw.get(e, 0.0) for e in keys]
    edges["rec_rank"] = [pr.get(e, 0) for e in keys]
    edges["on_path"] = edges["path_weight"] > 0

    _ring_layout(table, edges, paths)
    recs = pd.DataFrame(
        {
            "rank": np.arange(1, len(rec_items) + 1),
            "item": rec_items,
            "score": rec_scores,
            "label": node_labels(x, rec_nodes, item_info, width=label_width),
            "has_path": [i in has_path for i in rec_items.tolist()],
            "n_walks": np.asarray(n_walks, np.int64),
            "total": np.asarray(totals, np.float64),
        }
    )
    name = f"user {x.users.to_labels([user])[0]}" if user is not None else table.at[centre, "label"]
    title = (
        f"Neighbourhood of {name}: {hops} hops, {len(nodes)} of {n_within} nodes shown"
        + (f", top-{len(rec_items)} recommendations" if len(rec_items) else "")
        + (f" ({type(model).__name__})" if model is not None else "")
    )
    return Neighborhood(x, centre, table, edges, paths, recs, n_within, title)


def _spread(nodes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Evenly spaced angles for ``nodes`` in the circular order of their target angles."""
    n = len(nodes)
    if n == 0:
        return np.empty(0)
    order = np.lexsort((nodes, np.mod(target, 2 * np.pi)))
    base = 2 * np.pi * np.arange(n) / n
    # rotate the evenly spaced slots to best match the targets (circular mean of offsets)
    diff = np.mod(target[order], 2 * np.pi) - base
    offset = np.arctan2(np.sin(diff).sum(), np.cos(diff).sum()) if n > 1 else target[order][0]
    out = np.empty(n)
    out[order] = base + offset
    return out


def _ring_layout(table: pd.DataFrame, edges: pd.DataFrame, paths: pd.DataFrame) -> None:
    """Fill ``x``, ``y``, ``angle`` of ``table`` (see :func:`neighborhood_graph`)."""
    nodes = table.index.to_numpy()
    ring = table["ring"].to_numpy()
    angle = np.zeros(len(nodes))
    pos = {n: j for j, n in enumerate(nodes.tolist())}
    # neighbour lists within the drawn graph, walk edges counted 3 times (pull harder)
    nbr_a = np.array([pos[s] for s in edges["src"]] + [pos[d] for d in edges["dst"]], np.int64)
    nbr_b = np.array([pos[d] for d in edges["dst"]] + [pos[s] for s in edges["src"]], np.int64)
    w = np.tile(1.0 + 2.0 * edges["on_path"].to_numpy(), 2)
    rec = table["rec_rank"].to_numpy()
    rings = sorted(set(ring.tolist()) - {0})
    outer = rings[-1] if rings else 0
    # start: recommendations in rank order from the top, clockwise; inner rings by weight
    for r in rings:
        idx = np.flatnonzero(ring == r)
        if r == outer and (rec[idx] > 0).all():
            key = rec[idx]
        else:
            key = np.argsort(
                np.argsort(-table["weight"].to_numpy()[idx], kind="stable"), kind="stable"
            )
        angle[idx] = np.pi / 2 - 2 * np.pi * key / max(len(idx), 1)

    def barycentre(idx: np.ndarray, toward: set) -> np.ndarray:
        tgt = angle[idx].copy()
        for j, node in enumerate(idx):
            m = (nbr_a == node) & np.isin(ring[nbr_b], list(toward))
            if m.any():
                ang, ww = angle[nbr_b[m]], w[m]
                tgt[j] = np.arctan2((ww * np.sin(ang)).sum(), (ww * np.cos(ang)).sum())
        return tgt

    for _ in range(2):
        for r in reversed(rings[:-1]):  # inward: each ring toward the ring outside it
            idx = np.flatnonzero(ring == r)
            angle[idx] = _spread(nodes[idx], barycentre(idx, {r + 1}))
        for r in rings[1:]:  # outward, recommendations keep rank order only on pass 1
            idx = np.flatnonzero(ring == r)
            angle[idx] = _spread(nodes[idx], barycentre(idx, {r - 1}))
    # a ring of labelled items needs room for its radial labels before the next ring
    is_item = (table["kind"] == "item").to_numpy()
    radius_of = {0: 0.0}
    for r in rings:
        prev = radius_of.get(r - 1, 0.0)
        labelled = r > 1 and is_item[ring == r - 1].any() and (rec[ring == r - 1] == 0).all()
        gap = 1.3 if r == 1 else 2.1 if labelled else 1.0
        # at least 0.4 units of arc per node, so a crowded ring grows instead of overlapping
        radius_of[r] = max(prev + gap, 0.4 * (ring == r).sum() / (2 * np.pi))
    radius = np.array([radius_of[r] for r in ring.tolist()])
    table["angle"] = np.mod(angle, 2 * np.pi)
    table["x"] = radius * np.cos(angle)
    table["y"] = radius * np.sin(angle)
