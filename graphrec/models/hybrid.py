"""Hybrid encoders: collaborative, content-based and social signal in one embedding model.

:class:`HybridLightGCN` propagates over the heterogeneous graph of
:mod:`graphrec.hetero` (users, items, attribute nodes; user-item, attribute,
social and item-item edges, optionally time-decayed) and/or adds feature
embeddings to ID embeddings (LightFM's sum), chosen by ``features_as``:

* ``"sum"``: layer 0 of a user or item is its ID embedding plus the mean of its
  attribute embeddings (feature-weighted); propagation runs over user-item and
  relation edges only.
* ``"graph"``: attributes are nodes linked to their users/items; layer 0 is the
  ID embedding and attribute signal arrives by propagation.
* ``"both"``: the two together.

Users or items with no training interaction have no ID embedding (it would only
ever be pushed down as a negative): their representation comes from their
features and links, which is what serves cold-start items and users that are
already in the IdMaps. New nodes after fitting are folded in by the same layer
arithmetic (``embed_new_items`` and ``embed_new_users`` of every hybrid model; doors
in :mod:`graphrec.coldstart`).

:class:`HybridMF` is the same model without propagation (LightFM's model on the
shared engine); :class:`ContentBased` is its degenerate case with no item IDs, so
an item's embedding comes from its features only (content-based recommendation).

Relation weights are set per edge type (``relation_weights``), and with
``learn_relation_weights`` each type's block of the normalised adjacency is also
scaled by a learned positive gain ``exp(theta_t)`` (initialised 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.features import FeatureError, Features
from graphrec.data.interactions import Interactions
from graphrec.exceptions import TrainingError
from graphrec.graph import to_torch_csr
from graphrec.hetero import TIME_REFERENCES, build_hetero_graph, check_relation_weights
from graphrec.models.lightgcn import _MODEL_DOC, LightGCN, _GraphEmbeddingModel
from graphrec.training import engine_parameters
from graphrec.utils import check_positive_float

__all__ = ["FEATURE_MODES", "ContentBased", "HybridLightGCN", "HybridMF", "HybridModule"]

#: how features enter a hybrid model
FEATURE_MODES = ("sum", "graph", "both")


class _SpMM(torch.autograd.Function):
    """``A @ x`` for a fixed sparse ``A`` with a given transpose (gradient ``A^T g``).

    Hand-written because autograd's generic sparse-CSR backward builds the
    gradient of ``A``'s values too, which is never needed here (and is slower).
    """

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, at: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.at = at
        return a @ x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None, torch.Tensor]:
        return None, None, ctx.at @ grad.contiguous()


def _spmm(a: torch.Tensor, at: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return _SpMM.apply(a, at, x)


def _row_normalize(m: sp.csr_array) -> sp.csr_array:
    """Rows scaled to sum 1 (all-zero rows stay zero)."""
    s = np.asarray(m.sum(axis=1)).ravel()
    inv = np.zeros_like(s, dtype=np.float64)
    inv[s > 0] = 1.0 / s[s > 0]
    return sp.csr_array(sp.diags_array(inv) @ m, dtype=np.float32)


class HybridModule(torch.nn.Module):
    """Ego table of all nodes, feature sums and typed propagation (the engine's module protocol).

    ``forward()`` returns the final embeddings of users and items (users first);
    ``forward(rows, reg_weights)`` those of ``rows`` and the L2 penalty on their
    layer-0 embeddings (ID plus feature sum). ``ego`` holds one row per node of the
    heterogeneous graph (users, items, item attributes, user attributes).

    Parameters
    ----------
    n_users, n_items, n_nodes, embedding_dim : int
    blocks : list of sparse CSR Tensors, shape (n_nodes, n_nodes)
        Symmetric propagation blocks (one per edge type with learnable gains,
        else one summed matrix); empty for no propagation.
    learn_gains : bool
    layer_weights : tuple of float
    content : sparse CSR Tensor or None
        ``C`` (n_nodes, n_nodes): layer 0 is ``ego * id_mask + C @ ego``.
    content_t : sparse CSR Tensor or None
        ``C^T``.
    id_mask : Tensor, shape (n_nodes,)
        1 where a node has a trained ID embedding.
    isolated : Tensor of bool, shape (n_nodes,)
        Nodes without graph edges (their final embedding is layer 0 times the
        sum of the layer weights).
    init_std : float
    generator : torch.Generator
    device : torch.device
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_nodes: int,
        embedding_dim: int,
        blocks: list[torch.Tensor],
        learn_gains: bool,
        layer_weights: tuple[float, ...],
        content: torch.Tensor | None,
        content_t: torch.Tensor | None,
        id_mask: torch.Tensor,
        isolated: torch.Tensor,
        *,
        init_std: float,
        generator: torch.Generator,
        device: torch.device,
        id_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_users, self.n_items, self.n_nodes = n_users, n_items, n_nodes
        self.id_dropout = float(id_dropout)
        self._drop_generator = generator
        init = torch.randn(n_nodes, embedding_dim, generator=generator) * init_std
        self.ego = torch.nn.Parameter(init.to(device))
        self.blocks = blocks
        self.log_gains = torch.nn.Parameter(torch.zeros(len(blocks), device=device)) if learn_gains else None
        self.layer_weights = layer_weights
        self.content, self.content_t = content, content_t
        self.id_mask = id_mask.to(device)
        self.isolated = isolated.to(device)

    def gains(self) -> torch.Tensor:
        """The positive gain of each propagation block (ones when not learned)."""
        if self.log_gains is None:
            return torch.ones(len(self.blocks), device=self.ego.device)
        return self.log_gains.exp()

    def layer0(self, drop: bool = False) -> torch.Tensor:
        """Layer-0 embeddings; with ``drop``, user/item ID rows are dropped at rate ``id_dropout``."""
        mask = self.id_mask
        if drop and self.id_dropout > 0:
            keep = torch.rand(self.n_nodes, generator=self._drop_generator) >= self.id_dropout
            keep[self.n_users + self.n_items :] = True  # attribute rows are never dropped
            mask = mask * keep.to(mask.device, mask.dtype)
        x = self.ego * mask[:, None]
        if self.content is not None and self.content_t is not None:
            x = x + _spmm(self.content, self.content_t, self.ego)
        return x

    def layers(self, x0: torch.Tensor) -> list[torch.Tensor]:
        """Layer embeddings ``h_0 .. h_K`` of every node."""
        out, h = [x0], x0
        gains = self.gains() if self.log_gains is not None else None
        for _ in range(len(self.layer_weights) - 1):
            if not self.blocks:
                h = torch.zeros_like(h)
            elif gains is None:
                h = _spmm(self.blocks[0], self.blocks[0], h)
            else:
                h = sum(g * _spmm(b, b, h) for g, b in zip(gains, self.blocks))  # type: ignore[assignment]
            out.append(h)
        return out

    def final(self, x0: torch.Tensor) -> torch.Tensor:
        """Final embeddings of every node: the weighted layer combination."""
        hs = self.layers(x0)
        w = self.layer_weights
        out = sum(wk * h for wk, h in zip(w, hs))
        if len(w) > 1:  # isolated nodes keep their layer 0 with the full weight
            out = out + (self.isolated[:, None] * x0) * float(sum(w[1:]))
        return out  # type: ignore[return-value]

    def forward(
        self, rows: torch.Tensor | None = None, reg_weights: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x0 = self.layer0(drop=self.training and rows is not None)
        final = self.final(x0)[: self.n_users + self.n_items]
        if rows is None:
            return final
        out = final.index_select(0, rows)
        if reg_weights is None:
            return out, x0.new_zeros(())
        penalty = (x0.index_select(0, rows).square().sum(1) * reg_weights).sum()
        return out, penalty


class _HybridBase(_GraphEmbeddingModel):
    """Shared fit and cold start of the hybrid models (settings read with defaults)."""

    fold_in_default = "propagation"

    # settings a subclass may fix by not having the parameter
    def _setting(self, name: str, default: Any) -> Any:
        return getattr(self, name, default)

    def fit(  # type: ignore[override]
        self,
        train: Interactions,
        valid: Interactions | None = None,
        *,
        features: Features | None = None,
        callbacks: Any = (),
    ) -> _HybridBase:
        """Fit on ``train`` with side information ``features`` (refits from scratch).

        Parameters
        ----------
        train : Interactions
        valid : Interactions, optional
            Early stopping on Recall@20, as ``graphrec.LightGCN.fit``.
        features : Features, optional
            On ``train``'s IdMaps (:meth:`graphrec.Features.from_interactions`).
            Without it the model is LightGCN / MF (content-based: item embeddings
            are 0 without features).
        callbacks : sequence of callables, optional
            As ``graphrec.LightGCN.fit``.

        Returns
        -------
        self

        Raises
        ------
        FeatureError
            ``features`` on other IdMaps.
        ValueError
            Bad hyperparameters; ``half_life`` without timestamps.
        """
        if features is not None:
            if not isinstance(features, Features):
                raise TypeError(f"features must be Features, got {type(features).__name__}")
            features.check_aligned(train)
        self._fit_features = features
        try:
            return super().fit(train, valid, callbacks=callbacks)  # type: ignore[return-value]
        finally:
            self._fit_features = None

    def _check_params(self) -> None:
        super()._check_params()
        mode = self._setting("features_as", "sum")
        if mode not in FEATURE_MODES:
            raise ValueError(f"features_as must be one of {FEATURE_MODES}, got {mode!r}")
        check_relation_weights(self._setting("relation_weights", None))
        drop = self._setting("id_dropout", 0.0)
        if isinstance(drop, bool) or not isinstance(drop, (int, float)) or not 0 <= drop < 1:
            raise ValueError(f"id_dropout must be a number in [0, 1), got {drop!r}")
        hl = self._setting("half_life", None)
        if hl is not None:
            check_positive_float(hl, "half_life")
        if self._setting("cold_readout", "graph") not in ("graph", "ridge"):
            raise ValueError(f"cold_readout must be 'graph' or 'ridge', got {self._setting('cold_readout', None)!r}")
        check_positive_float(self._setting("readout_alpha", 1.0), "readout_alpha", allow_zero=True)
        ref = self._setting("time_reference", "global")
        if ref not in TIME_REFERENCES:
            raise ValueError(f"time_reference must be one of {TIME_REFERENCES}, got {ref!r}")

    def _graph(self, train: Interactions) -> Any:
        features = getattr(self, "_fit_features", None)
        mode = self._setting("features_as", "sum")
        propagate = len(self._layer_weights()) > 1
        graph_attrs = propagate and mode in ("graph", "both")
        half_life = self._setting("half_life", None)
        if half_life is not None and train.timestamps is None:
            raise ValueError("half_life needs timestamps; the training interactions have none")
        g = build_hetero_graph(
            train, features,
            item_attributes=graph_attrs, user_attributes=graph_attrs,
            relation_weights=self._setting("relation_weights", None),
            half_life=half_life, time_reference=self._setting("time_reference", "global"),
        )
        # attribute nodes always have ego rows (they serve the feature sum); they get
        # graph edges only when features are propagated as nodes
        n_attr = (0, 0) if features is None else (features.n_features("item"), features.n_features("user"))
        return n_attr, g, features

    def _build_module(  # type: ignore[override]  # the hybrid module, same engine protocol
        self, train: Interactions, device: torch.device, generator: torch.Generator
    ) -> HybridModule:
        (n_ia, n_ua), g, features = self._graph(train)
        u, i = train.n_users, train.n_items
        n = u + i + n_ia + n_ua
        weights = self._layer_weights()
        learn = bool(self._setting("learn_relation_weights", False))
        blocks_np: dict[str, sp.csr_array] = {}
        if len(weights) > 1:
            blocks_np = g.normalized_blocks()
            blocks_np = {t: _resize(b, n) for t, b in blocks_np.items()}
        if learn:
            types = list(blocks_np)
            mats = [blocks_np[t] for t in types]
        else:
            types = ["all"] if blocks_np else []
            mats = [_resize(g.normalized(), n)] if blocks_np else []
        self._block_types = types
        blocks = [to_torch_csr(m, device=device) for m in mats]
        mode = self._setting("features_as", "sum")
        content = None
        parts = []
        if mode in ("sum", "both") and features is not None:
            if n_ia:
                fi = _row_normalize(features.item_features).tocoo()
                parts.append((fi.row + u, fi.col + u + i, fi.data))
            if n_ua:
                fu = _row_normalize(features.user_features).tocoo()
                parts.append((fu.row, fu.col + u + i + n_ia, fu.data))
        if parts:
            r = np.concatenate([p[0] for p in parts])
            c = np.concatenate([p[1] for p in parts])
            v = np.concatenate([p[2] for p in parts]).astype(np.float32)
            cm = sp.csr_array((v, (r, c)), shape=(n, n))
            cm.sort_indices()
            ct = sp.csr_array(cm.T)
            ct.sort_indices()
            content = (to_torch_csr(cm, device=device), to_torch_csr(ct, device=device))
        id_mask = np.zeros(n, np.float32)
        id_mask[u + i :] = 1.0  # attribute nodes always have their own embedding
        deg_u = np.bincount(train.user_idx, minlength=u)
        deg_i = np.bincount(train.item_idx, minlength=i)
        if self._setting("user_ids", True):
            id_mask[:u] = deg_u > 0
        if self._setting("item_ids", True):
            id_mask[u : u + i] = deg_i > 0
        degree = g.degree() if len(weights) > 1 else np.zeros(g.n_nodes)
        isolated = np.ones(n, bool)
        isolated[: len(degree)] = degree <= 0
        self._graph_info = (g, (n_ia, n_ua), features)
        self._degrees = (deg_u, deg_i)
        return HybridModule(
            u, i, n, self.embedding_dim, blocks, learn, weights,
            None if content is None else content[0], None if content is None else content[1],
            torch.from_numpy(id_mask), torch.from_numpy(isolated),
            init_std=self.init_std, generator=generator, device=device,
            id_dropout=self._setting("id_dropout", 0.0),
        )

    def _store(self, module: Any) -> None:
        with torch.no_grad():
            x0 = module.layer0()
            hs = module.layers(x0)
            final = module.final(x0)
        if not torch.isfinite(final).all():
            raise TrainingError("embeddings became non-finite; lower the learning rate (lr)")
        n_ui = module.n_users + module.n_items
        arr = final[:n_ui].detach().float().cpu().numpy()
        self.user_embeddings_: NDArray[np.float32] = np.ascontiguousarray(arr[: module.n_users])
        self.item_embeddings_: NDArray[np.float32] = np.ascontiguousarray(arr[module.n_users :])
        self.__dict__.pop("_tensor_cache", None)
        g, (n_ia, n_ua), features = self._graph_info
        self.layer_embeddings_ = np.stack([h.detach().float().cpu().numpy() for h in hs])
        self.attribute_embeddings_ = module.ego.detach()[n_ui:].float().cpu().numpy().copy()
        self.n_item_attributes_ = n_ia
        self.n_user_attributes_ = n_ua
        degree = np.zeros(module.n_nodes)
        if len(self._layer_weights()) > 1:
            degree[: g.n_nodes] = g.degree()
        self.node_degree_ = degree
        gains = module.gains().detach().cpu().numpy()
        self.relation_gains_ = {t: float(v) for t, v in zip(self._block_types, gains)}
        self.feature_names_ = (
            () if features is None else (features.item_feature_names, features.user_feature_names)
        )
        self.readouts_: dict[str, tuple[NDArray[np.float32], NDArray[np.float32]]] = {}
        self.train_degrees_ = self._degrees
        if self._setting("cold_readout", "graph") == "ridge" and features is not None:
            self.fit_readouts(features)

    def fit_readouts(self, features: Features, alpha: float | None = None) -> _HybridBase:
        """(Re)fit the ridge readouts of ``cold_readout="ridge"`` without retraining.

        Ridge maps from features to the final embeddings of the users / items with
        training interactions; those without any get the map's output.

        Parameters
        ----------
        features : Features
            The features the model was fitted with.
        alpha : float, optional
            Ridge regularisation (default ``readout_alpha``).

        Returns
        -------
        self
        """
        from graphrec.coldstart import ContentItemMapper

        alpha = check_positive_float(
            self._setting("readout_alpha", 1.0) if alpha is None else alpha, "alpha", allow_zero=True
        )
        deg_u, deg_i = self.train_degrees_
        for side, deg, emb in (("item", deg_i, self.item_embeddings_), ("user", deg_u, self.user_embeddings_)):
            f = getattr(features, f"{side}_features")
            warm = np.flatnonzero(deg > 0)
            if f.shape[1] == 0 or len(warm) < 2:
                continue
            mapper = ContentItemMapper(alpha=alpha).fit(f[warm], emb[warm])
            self.readouts_[side] = (mapper.coef_, mapper.intercept_)
            cold = np.flatnonzero(deg == 0)
            if len(cold):
                emb[cold] = self._readout(side, f[cold])
        self.__dict__.pop("_tensor_cache", None)
        return self

    def _readout(self, side: str, f: Any) -> NDArray[np.float32]:
        coef, intercept = self.readouts_[side]
        return np.asarray(f @ coef.T.astype(np.float64) + intercept, np.float32)

    # ------------------------------------------------------------------ cold start
    def _gain(self, edge_type: str) -> float:
        gains = getattr(self, "relation_gains_", {})
        return float(gains.get(edge_type, gains.get("all", 1.0)))

    def _fold_in(
        self, x0: NDArray[np.float64], neighbours: sp.csr_array
    ) -> NDArray[np.float32]:
        """Final embeddings of new nodes from layer 0 and weighted links to existing nodes.

        ``h_{k+1} = sum_j a_j h_k[j] / sqrt(d_new d_j)``, ``d_new = sum_j a_j``, with
        the stored layer embeddings and degrees of the existing nodes (which the new
        links leave unchanged: the approximation of any fold-in). Nodes without
        links keep layer 0 with the full weight, as isolated nodes do in training.
        """
        w = self._layer_weights()
        out = w[0] * x0
        if len(w) > 1:
            d_new = np.asarray(neighbours.sum(axis=1), np.float64).ravel()
            d_old = self.node_degree_
            inv_old = np.zeros_like(d_old)
            inv_old[d_old > 0] = 1.0 / np.sqrt(d_old[d_old > 0])
            inv_new = np.zeros_like(d_new)
            inv_new[d_new > 0] = 1.0 / np.sqrt(d_new[d_new > 0])
            prop = sp.csr_array(sp.diags_array(inv_new) @ neighbours @ sp.diags_array(inv_old))
            for k in range(1, len(w)):
                out = out + w[k] * (prop @ self.layer_embeddings_[k - 1].astype(np.float64))
            out = out + (d_new <= 0)[:, None] * x0 * float(sum(w[1:]))
        return np.asarray(out, np.float32)

    def _content_x0(self, side: str, features: Any, n_new: int) -> tuple[NDArray[np.float64], sp.csr_array | None]:
        n_attr = self.n_item_attributes_ if side == "item" else self.n_user_attributes_
        if features is None:
            return np.zeros((n_new, self.item_embeddings_.shape[1])), None
        f = sp.csr_array(features, dtype=np.float32) if sp.issparse(features) else sp.csr_array(np.asarray(features, np.float32))
        if f.shape != (n_new, n_attr):
            raise FeatureError(f"{side} features must have shape ({n_new}, {n_attr}) (the fitted {side} feature columns), got {f.shape}")
        if not np.isfinite(f.data).all() or (f.data < 0).any():
            raise FeatureError(f"{side} features must be finite and >= 0")
        start = 0 if side == "item" else self.n_item_attributes_
        attr = self.attribute_embeddings_[start : start + n_attr].astype(np.float64)
        x0 = np.zeros((n_new, attr.shape[1]))
        if self._setting("features_as", "sum") in ("sum", "both"):
            x0 = _row_normalize(f) @ attr
        return x0, f

    def _links(self, side: str, f: sp.csr_array | None, links: dict[str, sp.csr_array], n_new: int) -> sp.csr_array:
        """The new nodes' weighted links (relation weight x gain) to all existing nodes."""
        u, i = self.n_users_, self.n_items_
        n = len(self.node_degree_)
        rw = check_relation_weights(self._setting("relation_weights", None))
        cols = []
        graph_attrs = self._setting("features_as", "sum") in ("graph", "both") and len(self._layer_weights()) > 1
        if f is not None and graph_attrs:
            off = u + i + (0 if side == "item" else self.n_item_attributes_)
            t = f"{side}-attribute"
            c = f.tocoo()
            cols.append((c.row, c.col + off, c.data * rw[t] * self._gain(t)))
        for t, (m, off) in links.items():
            c = m.tocoo()
            cols.append((c.row, c.col + off, c.data * rw[t] * self._gain(t)))
        if not cols:
            return sp.csr_array((n_new, n), dtype=np.float64)
        r = np.concatenate([c[0] for c in cols])
        cc = np.concatenate([c[1] for c in cols])
        v = np.concatenate([c[2] for c in cols]).astype(np.float64)
        return sp.csr_array((v, (r, cc)), shape=(n_new, n))

    def embed_new_items(self, features: Any, *, related: Any = None) -> NDArray[np.float32]:
        """Embeddings of new items from their features (and links to known items), no retraining.

        Parameters
        ----------
        features : array or sparse, shape (n_new, n_item_features)
            In the fitted item feature columns (``Features.item_feature_names``).
        related : sparse, shape (n_new, n_items), optional
            Links to known items (``"item-item"`` edges).

        Returns
        -------
        ndarray of float32, shape (n_new, embedding_dim)

        Raises
        ------
        FeatureError
            Wrong shape or values.
        """
        check_is_fitted(self)
        if not sp.issparse(features):
            features = np.atleast_2d(np.asarray(features, np.float32))
        n_new = features.shape[0]
        x0, f = self._content_x0("item", features, n_new)
        links = {}
        if related is not None:
            links["item-item"] = (_check_links(related, n_new, self.n_items_, "related"), self.n_users_)
        if "item" in getattr(self, "readouts_", {}) and not links:
            return self._readout("item", f)
        return self._fold_in(x0, self._links("item", f, links, n_new))

    def embed_new_users(
        self, *, features: Any = None, friends: Any = None, items: Any = None, n_new: int | None = None
    ) -> NDArray[np.float32]:
        """Embeddings of new users from features, friends and/or items, no retraining.

        Parameters
        ----------
        features : array or sparse, shape (n_new, n_user_features), optional
        friends : sparse or array, shape (n_new, n_users), optional
            Link weights to known users (``"user-user"`` edges).
        items : sparse or array, shape (n_new, n_items), optional
            Interaction weights (``"user-item"`` edges).
        n_new : int, optional
            Needed only when nothing else is given.

        Returns
        -------
        ndarray of float32, shape (n_new, embedding_dim)
        """
        check_is_fitted(self)
        features, friends, items = (
            m if m is None or sp.issparse(m) else np.atleast_2d(np.asarray(m, np.float32))
            for m in (features, friends, items)
        )
        given = [m for m in (features, friends, items) if m is not None]
        if not given and n_new is None:
            raise ValueError("give at least one of features, friends or items")
        n_new = given[0].shape[0] if given else int(n_new)  # type: ignore[arg-type]
        x0, f = self._content_x0("user", features, n_new)
        if "user" in getattr(self, "readouts_", {}) and f is not None and friends is None and items is None:
            return self._readout("user", f)
        links = {}
        if friends is not None:
            links["user-user"] = (_check_links(friends, n_new, self.n_users_, "friends"), 0)
        if items is not None:
            links["user-item"] = (_check_links(items, n_new, self.n_items_, "items"), self.n_users_)
        return self._fold_in(x0, self._links("user", f, links, n_new))


def _resize(m: sp.csr_array, n: int) -> sp.csr_array:
    """``m`` padded with empty rows/columns to ``n x n`` (attribute nodes without edges)."""
    if m.shape == (n, n):
        return m
    out = sp.csr_array((m.data, m.indices, np.concatenate([m.indptr, np.full(n - m.shape[0], m.indptr[-1])])), shape=(n, n))
    return out


def _check_links(m: Any, n_new: int, n_cols: int, name: str) -> sp.csr_array:
    m = sp.csr_array(m, dtype=np.float64) if sp.issparse(m) else sp.csr_array(np.asarray(m, np.float64))
    if m.shape != (n_new, n_cols):
        raise ValueError(f"{name} must have shape ({n_new}, {n_cols}), got {m.shape}")
    if not np.isfinite(m.data).all() or (m.data < 0).any():
        raise ValueError(f"{name} must hold finite weights >= 0")
    return m


_HYBRID_DOC = """    features_as : {"sum", "graph", "both"}, default "both"
        How features enter: summed into layer 0 (LightFM-style), as attribute nodes
        of the propagation graph, or both.
    item_ids, user_ids : bool, default True
        Learn an ID embedding per item / user (False: from features and links only;
        ``item_ids=False`` is content-based recommendation).
    id_dropout : float, default 0.0
        Share of user/item ID embeddings dropped at random in each training step
        (DropoutNet, Volkovs et al. 2017), so that features alone learn to place
        users and items: what cold-start nodes rely on.
    relation_weights : dict of str -> float, optional
        Weight per edge type of :data:`graphrec.hetero.EDGE_TYPES` (default 1 each;
        0 drops a type).
    learn_relation_weights : bool, default False
        Also learn a positive gain per edge type (initialised 1).
    half_life : float, optional
        Time decay of user-item edges, in the timestamps' unit (None: no decay).
    cold_readout : {"graph", "ridge"}, default "graph"
        How users and items without interactions (and new ones known by features
        only) are embedded: by the layer arithmetic of the graph (their feature
        embeddings propagated), or by a ridge map from features to the final
        embeddings of the nodes with interactions, fitted at the end of training.
    readout_alpha : float, default 1.0
        Ridge regularisation of ``cold_readout="ridge"``.
    time_reference : {"global", "user"}, default "global"
        Age from the latest training time, or from each user's latest interaction."""


@engine_parameters(after="readout_alpha")
class HybridLightGCN(_HybridBase):
    __doc__ = f"""LightGCN over the heterogeneous graph, with feature embeddings (hybrid recommender).

    Parameters
    ----------
    embedding_dim : int, default 64
    n_layers : int, default 3
    layer_weights : sequence of float, optional
        ``n_layers + 1`` weights of the layer combination; default the mean.
{_HYBRID_DOC}
    {{engine_parameters}}
{_MODEL_DOC}

    Attributes
    ----------
    user_embeddings_, item_embeddings_ : ndarray of float32
        Final embeddings of the users and items.
    layer_embeddings_ : ndarray of float32, shape (n_layers + 1, n_nodes, embedding_dim)
        Every node's layer embeddings (for folding in new nodes).
    attribute_embeddings_ : ndarray of float32, shape (n_item_features + n_user_features, embedding_dim)
    node_degree_ : ndarray of float64, shape (n_nodes,)
        Weighted degree in the normalised graph.
    relation_gains_ : dict of str -> float
        Learned gain per edge type ("all": 1 when not learned).
    history_, loss_history_, best_epoch_, stopped_ : see :class:`graphrec.LightGCN`

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2], n_users=3, n_items=3)
    >>> f = gr.Features.from_interactions(x).add_matrix("item", [[1, 0], [1, 0], [0, 1]])
    >>> m = gr.HybridLightGCN(embedding_dim=8, epochs=3, batch_size=4, random_state=0)
    >>> m.fit(x, features=f).item_embeddings_.shape
    (3, 8)
    >>> m.embed_new_items([[0, 1]]).shape
    (1, 8)
    """

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        n_layers: int = 3,
        layer_weights: Any = None,
        features_as: str = "both",
        item_ids: bool = True,
        user_ids: bool = True,
        id_dropout: float = 0.0,
        relation_weights: dict[str, float] | None = None,
        learn_relation_weights: bool = False,
        half_life: float | None = None,
        time_reference: str = "global",
        cold_readout: str = "graph",
        readout_alpha: float = 1.0,
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        **engine: Any,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.layer_weights = layer_weights
        self.features_as = features_as
        self.item_ids = item_ids
        self.user_ids = user_ids
        self.id_dropout = id_dropout
        self.relation_weights = relation_weights
        self.learn_relation_weights = learn_relation_weights
        self.half_life = half_life
        self.time_reference = time_reference
        self.cold_readout = cold_readout
        self.readout_alpha = readout_alpha
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._set_engine_params(engine)

    _layer_weights = LightGCN._layer_weights
    explain_weighting = LightGCN.explain_weighting


@engine_parameters(after="id_dropout")
class HybridMF(_HybridBase):
    __doc__ = f"""Matrix factorisation with feature embeddings (LightFM's model on the shared engine).

    A user's or item's vector is its ID embedding plus the mean of its feature
    embeddings; no propagation (``features_as="sum"``, no graph).

    Parameters
    ----------
    embedding_dim : int, default 64
    item_ids, user_ids : bool, default True
        Learn ID embeddings (False: features only).
    id_dropout : float, default 0.0
        See :class:`HybridLightGCN`.
    {{engine_parameters}}
{_MODEL_DOC}

    Attributes
    ----------
    user_embeddings_, item_embeddings_, attribute_embeddings_ : ndarray of float32
        See :class:`HybridLightGCN`.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2], n_users=3, n_items=3)
    >>> f = gr.Features.from_interactions(x).add_matrix("item", [[1, 0], [1, 0], [0, 1]])
    >>> gr.HybridMF(embedding_dim=4, epochs=2, batch_size=4, random_state=0).fit(x, features=f).item_embeddings_.shape
    (3, 4)
    """

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        item_ids: bool = True,
        user_ids: bool = True,
        id_dropout: float = 0.0,
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        **engine: Any,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.item_ids = item_ids
        self.user_ids = user_ids
        self.id_dropout = id_dropout
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._set_engine_params(engine)

    def _layer_weights(self) -> tuple[float, ...]:
        return (1.0,)


@engine_parameters(after="embedding_dim")
class ContentBased(_HybridBase):
    __doc__ = f"""Content-based recommendation: an item's embedding from its features only.

    The degenerate hybrid model (:class:`HybridMF` with ``item_ids=False``): item
    vectors are the mean of their feature embeddings, users keep an ID vector
    (a learned taste over features), trained on interactions with the shared
    engine. New items need only their features (``embed_new_items``).

    Parameters
    ----------
    embedding_dim : int, default 64
    {{engine_parameters}}
{_MODEL_DOC}

    Attributes
    ----------
    user_embeddings_, item_embeddings_, attribute_embeddings_ : ndarray of float32

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2], n_users=3, n_items=3)
    >>> f = gr.Features.from_interactions(x).add_matrix("item", [[1, 0], [1, 0], [0, 1]])
    >>> m = gr.ContentBased(embedding_dim=4, epochs=2, batch_size=4, random_state=0).fit(x, features=f)
    >>> bool((m.item_embeddings_[0] == m.item_embeddings_[1]).all())  # same features, same vector
    True
    """

    item_ids = False

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
        **engine: Any,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._set_engine_params(engine)

    def _layer_weights(self) -> tuple[float, ...]:
        return (1.0,)

    def _check_params(self) -> None:
        super()._check_params()
        if getattr(self, "_fit_features", None) is None:
            raise ValueError("ContentBased needs features: fit(train, features=Features(...))")
