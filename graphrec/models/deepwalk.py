"""DeepWalk and Item2Vec: skip-gram with negative sampling over node sequences.

DeepWalk (Perozzi et al., KDD 2014) walks the bipartite user-item graph and
trains skip-gram on the walks; Item2Vec (Barkan & Koenigstein, 2016) trains
skip-gram on pairs of items that share a user. Both use the same trainer,
:func:`_train_sgns`, a word2vec-style loop written for throughput on CPU:

* pairs are produced chunk by chunk (walks are cheap, :mod:`graphrec.walks`) and
  shuffled within the chunk, so memory stays bounded however many walks there are;
* updates are plain SGD with a linearly decaying learning rate, applied with
  ``index_select`` / ``index_add_`` (no autograd, no optimiser state); a row that
  occurs m times in a batch moves by the mean of its m updates (summing them
  overshoots and diverges on small graphs);
* each group of ``neg_share`` consecutive (shuffled) pairs shares its
  ``negatives`` noise nodes, which cuts the random row reads and writes for
  negatives by that factor; every pair still meets ``negatives`` of them.

Item2Vec is a separate class rather than a ``mode=`` switch: it has different
hyperparameters (no walks), a different vocabulary (items only) and a different
user representation (the mean of the user's item vectors), so one class with a
mode would carry parameters that mean nothing in the other mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray

from graphrec.data.interactions import Interactions
from graphrec.exceptions import TrainingError
from graphrec.graph import bipartite_adjacency
from graphrec.models.base import EmbeddingRecommender
from graphrec.training import cpu_threads
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng, torch_generator
from graphrec.walks import random_walks, skipgram_pairs, walk_starts

__all__ = ["DeepWalk", "Item2Vec"]

logger = logging.getLogger(__name__)

ITEM_VECTORS = ("context", "node")
_CHUNK_PAIRS = 2_000_000  # skip-gram pairs built and shuffled at once
_LOSS_CHECK = 200  # steps between finiteness checks of the running loss


class _SkipGramModel(EmbeddingRecommender):
    """Shared parameter checks and fitting of the skip-gram models."""

    def _check_common(self) -> None:
        check_positive_int(self.embedding_dim, "embedding_dim")
        check_positive_int(self.window, "window")
        check_positive_int(self.negatives, "negatives")
        check_positive_int(self.neg_share, "neg_share")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_float(self.lr, "lr")
        check_positive_float(self.neg_exponent, "neg_exponent", allow_zero=True)
        if self.item_vectors not in ITEM_VECTORS:
            raise ValueError(f"item_vectors must be one of {ITEM_VECTORS}, got {self.item_vectors!r}")
        if self.similarity not in (None, "dot", "cosine"):
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {self.similarity!r}")

    def _train(self, n_nodes: int, degree: NDArray, chunks: Callable[[np.random.Generator], Iterator],
               total_pairs: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        rng = numpy_rng(self.random_state)
        dev = self._device
        g = int(self.neg_share)
        self.batch_size_ = max(g, min(int(self.batch_size), n_nodes) // g * g)  # as _train_sgns cuts it
        if self.batch_size_ != int(self.batch_size):
            logger.info("%s: batch_size %d -> %d pairs, bounded by the %d nodes (a multiple of neg_share)",
                        type(self).__name__, int(self.batch_size), self.batch_size_, n_nodes)
        gen = torch_generator(None if self.random_state is None else int(rng.integers(2**31 - 1)), dev)
        # One intra-op thread: the loop is scatter/gather-bound, and index_add_ measured
        # 1.3-15x slower with 2 threads on a 2-core machine (more on small tables).
        with cpu_threads(1 if dev.type == "cpu" else None):
            node, context, history = _train_sgns(
                n_nodes, degree ** float(self.neg_exponent), lambda: chunks(rng), total_pairs,
                dim=int(self.embedding_dim), negatives=int(self.negatives), neg_share=int(self.neg_share),
                epochs=int(self.epochs), lr=float(self.lr), batch_size=int(self.batch_size),
                generator=gen, device=dev, verbose=bool(self.verbose),
            )
        self.loss_history_ = history
        return node, context


class DeepWalk(_SkipGramModel):
    """DeepWalk on the bipartite user-item graph (skip-gram with negative sampling).

    Users and items are nodes of one graph and get vectors in one space. As in
    word2vec each node has a *node* vector (as a walk's centre) and a *context*
    vector; a user is scored against an item by ``node(user) . context(item)``,
    the quantity skip-gram fits to how often the two meet on walks
    (``item_vectors="node"`` uses ``node(item)`` instead).

    Parameters
    ----------
    embedding_dim : int, default 64
    walk_length : int, default 20
        Nodes per walk (>= 2).
    walks_per_node : int, default 5
        Walks started from every non-isolated user and item, per epoch.
    window : int, default 3
        Largest distance along a walk between a centre and its contexts.
    negatives : int, default 5
        Noise nodes per pair.
    neg_exponent : float, default 0.0
        Noise nodes are drawn with probability ~ degree ** neg_exponent. word2vec
        uses 0.75; uniform noise (0) keeps item popularity in the scores, which
        full-ranking recall rewards (Gowalla Recall@20 0.111 vs 0.092, one epoch).
        On popularity-skewed data 0.75 collapses (validation Recall@20 0.002 against
        popularity's 0.575 and the default's 0.581 on the most skewed set of
        ``benchmarks/defaults_study.py``; RESULTS.md, issue 16).
    neg_share : int, default 8
        Consecutive shuffled pairs that share their noise nodes (1: none shared).
    p, q : float, default 1.0
        node2vec return / in-out parameters of the walks (1, 1: DeepWalk).
    epochs : int, default 4
        Passes, each over freshly drawn walks (Gowalla, lastfm, MovieLens: 3-5
        were best of those tried; 10 overfits the small ones).
    lr : float, default 0.05
        Initial SGD step, decayed linearly to ``lr * 1e-4``.
    batch_size : int, default 4096
        Pairs per update (at most the number of nodes).
    item_vectors : {"context", "node"}, default "context"
        Which vectors become ``item_embeddings_``.
    similarity : {"dot", "cosine"} or None, default None (dot)
    random_state : int or None, default 0
        Seeds walks, initialisation and sampling (None: fresh randomness each fit).
    device : str, default "auto"
    verbose : bool, default False
        Show a tqdm progress bar.

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
        Node vectors of the users.
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
        Context (or node) vectors of the items.
    loss_history_ : list of float
        Mean skip-gram loss per epoch.
    batch_size_ : int
        Pairs per update used: ``batch_size`` bounded by the number of nodes, in
        whole groups of ``neg_share`` (logged when it differs).

    Raises
    ------
    ValueError
        (at ``fit``) a hyperparameter out of range, named in the message.
    TrainingError
        The loss or the embeddings became non-finite (lower ``lr``).

    Examples
    --------
    >>> import graphrec as gr
    >>> ds = gr.datasets.synthetic(n_users=40, n_items=20, n_communities=2, random_state=0)
    >>> m = DeepWalk(embedding_dim=8, walks_per_node=2, random_state=0).fit(ds.train)
    >>> m.user_embeddings_.shape, m.item_embeddings_.shape
    ((40, 8), (20, 8))
    """

    def __init__(self, *, embedding_dim: int = 64, walk_length: int = 20, walks_per_node: int = 5,
                 window: int = 3, negatives: int = 5, neg_exponent: float = 0.0, neg_share: int = 8,
                 p: float = 1.0, q: float = 1.0, epochs: int = 4, lr: float = 0.05, batch_size: int = 4096,
                 item_vectors: str = "context", similarity: str | None = None,
                 random_state: int | None = 0, device: str = "auto", verbose: bool = False) -> None:
        self.embedding_dim = embedding_dim
        self.walk_length = walk_length
        self.walks_per_node = walks_per_node
        self.window = window
        self.negatives = negatives
        self.neg_exponent = neg_exponent
        self.neg_share = neg_share
        self.p = p
        self.q = q
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.item_vectors = item_vectors
        self.similarity = similarity
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self) -> None:
        self._check_common()
        check_positive_int(self.walk_length, "walk_length", minimum=2)
        check_positive_int(self.walks_per_node, "walks_per_node")
        check_positive_float(self.p, "p")
        check_positive_float(self.q, "q")

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        adj = bipartite_adjacency(train)
        degree = np.diff(adj.indptr).astype(np.float64)
        length, window = int(self.walk_length), min(int(self.window), int(self.walk_length) - 1)
        per_walk = 2 * sum(length - d for d in range(1, window + 1))
        n_walks = int((degree > 0).sum()) * int(self.walks_per_node)
        walks_per_chunk = max(1, _CHUNK_PAIRS // per_walk)

        def chunks(rng: np.random.Generator) -> Iterator[tuple[NDArray, NDArray]]:
            starts = walk_starts(adj, int(self.walks_per_node), rng=rng)
            for lo in range(0, len(starts), walks_per_chunk):
                walks = random_walks(adj, starts[lo : lo + walks_per_chunk], length, p=self.p, q=self.q, rng=rng)
                yield skipgram_pairs(walks, window)

        node, context = self._train(adj.shape[0], degree, chunks, n_walks * per_walk * int(self.epochs))
        n_users = train.n_users
        self.user_embeddings_ = node[:n_users]
        self.item_embeddings_ = (context if self.item_vectors == "context" else node)[n_users:].copy()


class Item2Vec(_SkipGramModel):
    """Item2Vec: skip-gram over items that share a user; users are their items' mean.

    Each epoch, every (user, item) interaction is paired with ``window`` items
    drawn uniformly from the same user's items (the item itself excluded), which
    samples the all-pairs "set as sentence" objective of Item2Vec. A user's
    vector is the mean node vector of the items they interacted with; it is
    scored against items' context vectors (or node vectors, see ``item_vectors``).

    Parameters
    ----------
    embedding_dim, negatives, neg_exponent, neg_share, batch_size, item_vectors,
    similarity, random_state, device, verbose
        As in :class:`DeepWalk`.
    window : int, default 5
        Context items drawn per interaction and epoch.
    epochs : int, default 20
    lr : float, default 0.2
        (lr 0.05 and 5 epochs left lastfm at Recall@20 0.04; lr 0.2 and 20 epochs
        reach 0.24, and the tiny contract graph is learnt in 3 epochs.)

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
        Mean item node vector over each user's training items.
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
    loss_history_ : list of float
    batch_size_ : int
        As in :class:`DeepWalk` (bounded by the number of items).

    Raises
    ------
    ValueError
        (at ``fit``) a hyperparameter out of range, named in the message.
    TrainingError
        The loss or the embeddings became non-finite (lower ``lr``).

    Examples
    --------
    >>> import graphrec as gr
    >>> ds = gr.datasets.synthetic(n_users=40, n_items=20, n_communities=2, random_state=0)
    >>> Item2Vec(embedding_dim=8, random_state=0).fit(ds.train).item_embeddings_.shape
    (20, 8)
    """

    def __init__(self, *, embedding_dim: int = 64, window: int = 5, negatives: int = 5,
                 neg_exponent: float = 0.0, neg_share: int = 8, epochs: int = 20, lr: float = 0.2,
                 batch_size: int = 4096, item_vectors: str = "context", similarity: str | None = None,
                 random_state: int | None = 0, device: str = "auto", verbose: bool = False) -> None:
        self.embedding_dim = embedding_dim
        self.window = window
        self.negatives = negatives
        self.neg_exponent = neg_exponent
        self.neg_share = neg_share
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.item_vectors = item_vectors
        self.similarity = similarity
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self) -> None:
        self._check_common()

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        r = sp.csr_array(self.seen_)
        indptr = r.indptr.astype(np.int64)
        user_deg = np.diff(indptr)
        rows = np.repeat(np.arange(r.shape[0], dtype=np.int64), user_deg)
        items = r.indices.astype(np.int64)
        window = int(self.window)
        per_chunk = max(1, _CHUNK_PAIRS // window)

        def chunks(rng: np.random.Generator) -> Iterator[tuple[NDArray, NDArray]]:
            order = rng.permutation(len(items))
            for lo in range(0, len(order), per_chunk):
                pos = np.repeat(order[lo : lo + per_chunk], window)
                u = rows[pos]
                ctx = items[indptr[u] + (rng.random(len(pos)) * user_deg[u]).astype(np.int64)]
                keep = ctx != items[pos]
                yield items[pos][keep], ctx[keep]

        degree = np.bincount(items, minlength=train.n_items).astype(np.float64)
        node, context = self._train(train.n_items, degree, chunks, len(items) * window * int(self.epochs))
        binary = sp.csr_array((np.ones(r.nnz, np.float32), r.indices, r.indptr), shape=r.shape)
        mean = sp.diags_array(1.0 / np.maximum(user_deg, 1).astype(np.float32)) @ binary
        self.user_embeddings_ = np.asarray(mean @ node, dtype=np.float32)
        self.item_embeddings_ = (context if self.item_vectors == "context" else node).copy()


def _noise_table(weights: NDArray, size: int) -> NDArray[np.int64]:
    """word2vec's unigram table: node ids repeated in proportion to ``weights``."""
    w = np.asarray(weights, np.float64)
    counts = np.floor(w / w.sum() * size).astype(np.int64)
    counts[(counts == 0) & (w > 0)] = 1  # every node with weight can be drawn
    return np.repeat(np.arange(len(w), dtype=np.int64), counts)


def _train_sgns(n_nodes: int, noise: NDArray, chunks: Callable[[], Iterator[tuple[NDArray, NDArray]]],
                total_pairs: int, *, dim: int, negatives: int, neg_share: int, epochs: int, lr: float,
                batch_size: int, generator: torch.Generator, device: torch.device,
                verbose: bool) -> tuple[NDArray[np.float32], NDArray[np.float32], list[float]]:
    """Skip-gram with negative sampling by SGD; returns node vectors, context vectors, losses."""
    table = torch.from_numpy(_noise_table(noise, max(1 << 20, 16 * n_nodes))).to(device)
    w = (torch.rand(n_nodes, dim, generator=generator, device=device) - 0.5) / dim
    c = torch.zeros(n_nodes, dim, device=device)
    k, g = negatives, neg_share
    # A batch larger than the vocabulary repeats every row, and repeated rows move by their
    # mean update, so the extra pairs would be wasted: cap the batch at n_nodes.
    batch = max(g, min(batch_size, n_nodes) // g * g)
    done, history = 0, []
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_pairs, unit="pair", unit_scale=True, desc="skip-gram")
    for epoch in range(epochs):
        loss_sum, n_steps = torch.zeros((), device=device), 0
        for centers_np, contexts_np in chunks():
            perm = torch.randperm(len(centers_np), generator=generator, device=device)
            centers = torch.from_numpy(centers_np).to(device)[perm]
            contexts = torch.from_numpy(contexts_np).to(device)[perm]
            for lo in range(0, len(centers) - g + 1, batch):
                ci = centers[lo : lo + batch]
                b = len(ci) // g * g
                ci, xi = ci[:b], contexts[lo : lo + b]
                neg = table[torch.randint(0, len(table), (b // g * k,), generator=generator, device=device)]
                rate = lr * max(1e-4, 1.0 - done / max(total_pairs, 1))
                ec, eo = w.index_select(0, ci), c.index_select(0, xi)
                en = c.index_select(0, neg).view(b // g, k, dim)
                pos = torch.sigmoid((ec * eo).sum(1))
                ecg = ec.view(b // g, g, dim)
                sn = torch.sigmoid(torch.bmm(ecg, en.transpose(1, 2)))  # (groups, g, k)
                loss_sum += -(torch.log(pos + 1e-7).mean() + torch.log(1 - sn + 1e-7).sum(2).mean()).detach()
                n_steps += 1
                if n_steps % _LOSS_CHECK == 0 and not torch.isfinite(loss_sum):
                    raise TrainingError(f"skip-gram loss became non-finite; lower lr (got {lr:g})")
                # A row met several times in one batch moves by the mean, not the sum, of its
                # updates: summed updates of a row repeated m times overshoot m-fold (they
                # diverge on small graphs, where every row repeats).
                w_share = 1.0 / torch.bincount(ci, minlength=n_nodes)[ci].to(w.dtype)
                both = torch.cat([xi, neg])
                c_share = 1.0 / torch.bincount(both, minlength=n_nodes)[both].to(w.dtype)
                gp = ((pos - 1.0) * -rate).unsqueeze(1)
                sn.mul_(-rate)
                w.index_add_(0, ci, (gp * eo + torch.bmm(sn, en).view(b, dim)) * w_share.unsqueeze(1))
                c.index_add_(0, xi, gp * ec * c_share[:b].unsqueeze(1))
                c.index_add_(0, neg, torch.bmm(sn.transpose(1, 2), ecg).reshape(-1, dim) * c_share[b:].unsqueeze(1))
                done += b
            if bar is not None:
                bar.update(len(centers))
        history.append(float(loss_sum) / max(n_steps, 1))
        if not np.isfinite(history[-1]):
            raise TrainingError(f"skip-gram loss became {history[-1]}; lower lr (got {lr:g})")
        logger.debug("epoch %d: loss %.4f", epoch + 1, history[-1])
    if bar is not None:
        bar.close()
    node, context = w.cpu().numpy(), c.cpu().numpy()
    if not (np.isfinite(node).all() and np.isfinite(context).all()):
        raise TrainingError(f"skip-gram embeddings became non-finite; lower lr (got {lr:g})")
    return node.astype(np.float32), context.astype(np.float32), history
