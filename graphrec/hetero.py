"""The heterogeneous graph: users, items and attribute nodes with typed, weighted edges.

:func:`build_hetero_graph` turns :class:`graphrec.Interactions` and
:class:`graphrec.Features` into a :class:`HeteroGraph`. Node numbering extends the
bipartite one of :mod:`graphrec.graph`: users ``0..U-1``, items ``U..U+I-1``, then
one node per item attribute (feature column), then one per user attribute.

Edge types (:data:`EDGE_TYPES`), each used in both directions:

======================  =========================  ===================================
edge type               between                    raw weight ``a_uv``
======================  =========================  ===================================
``"user-item"``         user, item                 1 (``binary``) or the interaction
                                                   weight, times the time decay
``"item-attribute"``    item, item attribute       the feature value
``"user-attribute"``    user, user attribute       the feature value
``"user-user"``         user, user                 the link weight (social links)
``"item-item"``         item, item                 the link weight
======================  =========================  ===================================

Normalisation (:meth:`HeteroGraph.normalized`): each type's block is scaled by its
relation weight ``r_t`` and the whole graph is normalised symmetrically,
``A~ = D^-1/2 (sum_t r_t A_t) D^-1/2`` with ``D`` the weighted degree over all types,
so entry ``(u, v)`` of type ``t`` is ``r_t a_uv / sqrt(d_u d_v)``. With one type it
is LightGCN's matrix. :meth:`HeteroGraph.normalized_blocks` returns the same matrix
split by type (the blocks sum to it), which a model scales by learnable gains.

Time decay (:func:`time_decay`): a user-item edge of age ``T - t`` weighs
``0.5 ** ((T - t) / half_life)``, ``T`` the latest training time overall
(``reference="global"``) or the user's own latest (``"user"``, a recency-aware user
representation).

:func:`to_hetero_data` and :func:`to_networkx` export the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from graphrec.data.features import Features
from graphrec.data.interactions import Interactions
from graphrec.utils import check_positive_float

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "EDGE_TYPES",
    "NODE_TYPES",
    "HeteroGraph",
    "build_hetero_graph",
    "check_relation_weights",
    "time_decay",
    "to_hetero_data",
    "to_networkx",
]

#: node types, in node-numbering order
NODE_TYPES = ("user", "item", "item_attribute", "user_attribute")
#: edge types and the node types they join
EDGE_TYPES: dict[str, tuple[str, str]] = {
    "user-item": ("user", "item"),
    "item-attribute": ("item", "item_attribute"),
    "user-attribute": ("user", "user_attribute"),
    "user-user": ("user", "user"),
    "item-item": ("item", "item"),
}
TIME_REFERENCES = ("global", "user")


def check_relation_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Relation weights for every edge type (default 1), validated.

    Raises
    ------
    ValueError
        An unknown edge type or a weight that is not a finite number >= 0.
    """
    out = dict.fromkeys(EDGE_TYPES, 1.0)
    if weights is None:
        return out
    if not isinstance(weights, Mapping):
        raise TypeError(f"relation_weights must be a dict of edge type -> weight, got {weights!r}")
    for key, value in weights.items():
        if key not in EDGE_TYPES:
            raise ValueError(f"relation_weights: unknown edge type {key!r}; known: {tuple(EDGE_TYPES)}")
        out[key] = check_positive_float(value, f"relation_weights[{key!r}]", allow_zero=True)
    return out


def time_decay(
    x: Interactions, half_life: float, *, reference: str = "global"
) -> NDArray[np.float32]:
    """Per-interaction weights ``0.5 ** (age / half_life)`` (1 for the latest).

    Parameters
    ----------
    x : Interactions
        With timestamps.
    half_life : float
        In the timestamps' unit (seconds for Unix times).
    reference : {"global", "user"}
        Age from the latest training time overall, or from each user's latest.

    Returns
    -------
    ndarray of float32, shape (x.nnz,)

    Raises
    ------
    ValueError
        No timestamps, a bad ``half_life`` or ``reference``.

    Examples
    --------
    >>> x = Interactions.from_arrays([0, 0, 1], [0, 1, 1], timestamps=[0, 10, 5])
    >>> time_decay(x, 10.0).tolist()
    [0.5, 1.0, 0.7071067690849304]
    >>> time_decay(x, 10.0, reference="user").tolist()
    [0.5, 1.0, 1.0]
    """
    half_life = check_positive_float(half_life, "half_life")
    if reference not in TIME_REFERENCES:
        raise ValueError(f"reference must be one of {TIME_REFERENCES}, got {reference!r}")
    if x.timestamps is None:
        raise ValueError("time decay needs timestamps; the interactions have none")
    t = np.asarray(x.timestamps, np.float64)
    if reference == "global":
        ref = np.full(len(t), t.max())
    else:
        last = np.full(x.n_users, -np.inf)
        np.maximum.at(last, x.user_idx, t)
        ref = last[x.user_idx]
    return np.power(0.5, (ref - t) / half_life).astype(np.float32)


@dataclass(frozen=True, eq=False)
class HeteroGraph:
    """A typed graph over users, items and attribute nodes (see the module docstring).

    Attributes
    ----------
    n_users, n_items, n_item_attributes, n_user_attributes : int
    blocks : dict of str -> csr_array
        Raw symmetric weights of each present edge type over all nodes (both
        directions), before relation weights and normalisation.
    relation_weights : dict of str -> float
    item_attribute_names, user_attribute_names : tuple of str
    """

    n_users: int
    n_items: int
    n_item_attributes: int
    n_user_attributes: int
    blocks: dict[str, sp.csr_array]
    relation_weights: dict[str, float]
    item_attribute_names: tuple[str, ...] = ()
    user_attribute_names: tuple[str, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        """All nodes: users, items and both kinds of attribute nodes."""
        return self.n_users + self.n_items + self.n_item_attributes + self.n_user_attributes

    @property
    def offsets(self) -> dict[str, int]:
        """First node id of each node type."""
        o = [0, self.n_users, self.n_users + self.n_items,
             self.n_users + self.n_items + self.n_item_attributes]
        return dict(zip(NODE_TYPES, o))

    def node_type(self) -> NDArray[np.int64]:
        """The type of every node as an index into :data:`NODE_TYPES`."""
        sizes = [self.n_users, self.n_items, self.n_item_attributes, self.n_user_attributes]
        return np.repeat(np.arange(4), sizes)

    def adjacency(self) -> sp.csr_array:
        """``sum_t r_t A_t`` (symmetric, float32, unnormalised)."""
        a = sp.csr_array((self.n_nodes, self.n_nodes), dtype=np.float32)
        for t, block in self.blocks.items():
            if self.relation_weights[t] > 0:
                a = a + block * np.float32(self.relation_weights[t])
        a = sp.csr_array(a, dtype=np.float32)
        a.sort_indices()
        return a

    def degree(self) -> NDArray[np.float64]:
        """Weighted degree of every node in :meth:`adjacency`."""
        return np.asarray(self.adjacency().sum(axis=1), np.float64).ravel()

    def normalized_blocks(self) -> dict[str, sp.csr_array]:
        """``D^-1/2 r_t A_t D^-1/2`` per present type with ``r_t > 0`` (they sum to :meth:`normalized`)."""
        d = self.degree()
        inv = np.zeros_like(d)
        inv[d > 0] = 1.0 / np.sqrt(d[d > 0])
        out = {}
        for t, block in self.blocks.items():
            r = self.relation_weights[t]
            if r <= 0 or block.nnz == 0:
                continue
            b = sp.csr_array(block, dtype=np.float32, copy=True)
            rows = np.repeat(np.arange(b.shape[0]), np.diff(b.indptr))
            b.data = (b.data * r * inv[rows] * inv[b.indices]).astype(np.float32)
            b.sort_indices()
            out[t] = b
        return out

    def normalized(self) -> sp.csr_array:
        """``A~ = D^-1/2 (sum_t r_t A_t) D^-1/2`` (float32 CSR, sorted indices; isolated rows 0).

        Examples
        --------
        >>> x = Interactions.from_arrays([0, 0, 1], [0, 1, 1], n_users=2, n_items=2)
        >>> g = build_hetero_graph(x)
        >>> round(float(g.normalized()[0, 2]), 4)  # as graphrec.graph.normalized_adjacency
        0.7071
        """
        blocks = list(self.normalized_blocks().values())
        if not blocks:
            return sp.csr_array((self.n_nodes, self.n_nodes), dtype=np.float32)
        a = blocks[0]
        for b in blocks[1:]:
            a = a + b
        a = sp.csr_array(a, dtype=np.float32)
        a.sort_indices()
        return a


def _bipartite(rows: NDArray, cols: NDArray, vals: NDArray, n: int) -> sp.csr_array:
    """Symmetric ``n x n`` CSR with entries at (rows, cols) and (cols, rows)."""
    m = sp.coo_array(
        (np.concatenate([vals, vals]).astype(np.float32),
         (np.concatenate([rows, cols]), np.concatenate([cols, rows]))),
        shape=(n, n),
    ).tocsr()
    m.sum_duplicates()
    return sp.csr_array(m)


def build_hetero_graph(
    x: Interactions,
    features: Features | None = None,
    *,
    item_attributes: bool = True,
    user_attributes: bool = True,
    relation_weights: Mapping[str, float] | None = None,
    binary: bool = True,
    half_life: float | None = None,
    time_reference: str = "global",
) -> HeteroGraph:
    """The heterogeneous graph of interactions, features and relations.

    Parameters
    ----------
    x : Interactions
    features : Features, optional
        On ``x``'s IdMaps. Its relations always become edges; its feature columns
        become attribute nodes when ``item_attributes`` / ``user_attributes``.
    item_attributes, user_attributes : bool, default True
    relation_weights : dict, optional
        Weight per edge type (default 1 each); 0 drops the type.
    binary : bool, default True
        User-item edges weigh 1, else the interaction weight.
    half_life : float, optional
        Time decay of user-item edges (see :func:`time_decay`).
    time_reference : {"global", "user"}

    Returns
    -------
    HeteroGraph

    Raises
    ------
    FeatureError
        Features on other IdMaps.
    ValueError
        Bad relation weights, time settings, or ``half_life`` without timestamps.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 1], [0, 1], n_users=2, n_items=2)
    >>> f = gr.Features.from_interactions(x).add_matrix("item", [[1.0], [1.0]], ["genre"])
    >>> g = build_hetero_graph(x, f)
    >>> g.n_nodes, sorted(g.blocks)
    (5, ['item-attribute', 'user-item'])
    """
    if not isinstance(x, Interactions):
        raise TypeError(f"x must be Interactions, got {type(x).__name__}")
    weights = check_relation_weights(relation_weights)
    if features is not None:
        if not isinstance(features, Features):
            raise TypeError(f"features must be Features, got {type(features).__name__}")
        features.check_aligned(x)
    u, i = x.n_users, x.n_items
    fi = features.item_features if features is not None and item_attributes else None
    fu = features.user_features if features is not None and user_attributes else None
    n_ia = 0 if fi is None else fi.shape[1]
    n_ua = 0 if fu is None else fu.shape[1]
    n = u + i + n_ia + n_ua
    vals = np.ones(x.nnz, np.float32) if binary or x.weights is None else x.weights.astype(np.float32)
    if half_life is not None:
        vals = vals * time_decay(x, half_life, reference=time_reference)
    elif time_reference not in TIME_REFERENCES:
        raise ValueError(f"time_reference must be one of {TIME_REFERENCES}, got {time_reference!r}")
    blocks = {"user-item": _bipartite(x.user_idx, x.item_idx + u, vals, n)}
    if fi is not None and fi.nnz:
        c = fi.tocoo()
        blocks["item-attribute"] = _bipartite(c.row + u, c.col + u + i, c.data, n)
    if fu is not None and fu.nnz:
        c = fu.tocoo()
        blocks["user-attribute"] = _bipartite(c.row, c.col + u + i + n_ia, c.data, n)
    if features is not None:
        for side, t, off in (("user", "user-user", 0), ("item", "item-item", u)):
            r = getattr(features, f"{side}_relations")
            if r is not None and r.nnz:
                c = sp.triu(r, k=1).tocoo()
                blocks[t] = _bipartite(c.row + off, c.col + off, c.data, n)
    return HeteroGraph(
        u, i, n_ia, n_ua, blocks, weights,
        item_attribute_names=features.item_feature_names if fi is not None else (),  # type: ignore[union-attr]
        user_attribute_names=features.user_feature_names if fu is not None else (),  # type: ignore[union-attr]
    )


def to_hetero_data(graph: HeteroGraph) -> Any:
    """A PyG ``HeteroData``: node types of :data:`NODE_TYPES` that have nodes, and per edge
    type both directions as ``(src, type, dst)`` and ``(dst, "rev_" + type, src)`` with
    ``edge_weight`` (the raw weights times the relation weight).

    Raises
    ------
    ImportError
        torch_geometric is not installed.
    """
    import torch
    from torch_geometric.data import HeteroData

    data = HeteroData()
    off = graph.offsets
    sizes = dict(zip(NODE_TYPES, (graph.n_users, graph.n_items, graph.n_item_attributes,
                                  graph.n_user_attributes)))
    for nt, size in sizes.items():
        if size:
            data[nt].num_nodes = size
    for t, block in graph.blocks.items():
        src_t, dst_t = EDGE_TYPES[t]
        c = block.tocoo()
        r, col = c.row, c.col
        # keep one direction: rows of the source type and columns of the destination type
        in_src = (r >= off[src_t]) & (r < off[src_t] + sizes[src_t])
        in_dst = (col >= off[dst_t]) & (col < off[dst_t] + sizes[dst_t])
        keep = in_src & in_dst & ((src_t != dst_t) | (r < col))
        ei = torch.stack([torch.from_numpy(r[keep] - off[src_t]).long(),
                          torch.from_numpy(col[keep] - off[dst_t]).long()])
        w = torch.from_numpy((c.data[keep] * graph.relation_weights[t]).astype(np.float32))
        data[src_t, t, dst_t].edge_index = ei
        data[src_t, t, dst_t].edge_weight = w
        data[dst_t, f"rev_{t}", src_t].edge_index = ei.flip(0)
        data[dst_t, f"rev_{t}", src_t].edge_weight = w
    return data


def to_networkx(graph: HeteroGraph) -> nx.Graph:
    """An undirected networkx graph: node attributes ``kind`` (node type), ``index`` (within
    the type) and ``label`` (the attribute name for attribute nodes); edge attributes
    ``type`` (edge type) and ``weight`` (raw weight times the relation weight).

    Raises
    ------
    ImportError
        networkx is not installed.
    """
    import networkx as nx

    g = nx.Graph()
    types = graph.node_type()
    off = graph.offsets
    names = {"item_attribute": graph.item_attribute_names, "user_attribute": graph.user_attribute_names}
    nodes = []
    for n, t in enumerate(types.tolist()):
        kind = NODE_TYPES[t]
        j = n - off[kind]
        attrs: dict[str, Any] = {"kind": kind, "index": j}
        if kind in names and j < len(names[kind]):
            attrs["label"] = names[kind][j]
        nodes.append((n, attrs))
    g.add_nodes_from(nodes)
    for t, block in graph.blocks.items():
        c = sp.triu(block, k=1).tocoo()
        w = c.data * graph.relation_weights[t]
        g.add_edges_from(
            (int(a), int(b), {"type": t, "weight": float(v)})
            for a, b, v in zip(c.row.tolist(), c.col.tolist(), w.tolist())
        )
    return g

