"""GraphFilter: the training-free graph filter of GF-CF (Shen et al., CIKM 2021).

Scores are a user's interaction row passed through two filters of the
normalised interaction matrix ``R~ = Du^-1/2 R Di^-1/2``:

* a linear low-pass filter, the item-item matrix ``R~^T R~``;
* an ideal low-pass filter, ``Di^-1/2 V V^T Di^1/2`` from the top
  ``n_components`` right singular vectors ``V`` of ``R~``,

    score(u) = r_u R~^T R~ + alpha * r_u Di^-1/2 V V^T Di^1/2.

New users need no fitting either: :meth:`GraphFilter.score_new_users` applies the
same two filters to their item rows (``r F + alpha * (r Di^-1/2 V)(Di^1/2 V)^T``),
and explanations use the normalised walk weighting, since both filters are built
on ``R~``.

The item-item matrix is kept sparse (on Gowalla it has ~42M non-zeros, 2.5% of
the dense 40,981^2 matrix, whose float32 copy alone would take 6.7 GB); each
batch of users costs one sparse-sparse product. Where even that matrix is too large
(its non-zeros grow with the squares of the degrees: 5.6e9 at 16x Gowalla), ``item_neighbors=m`` keeps only each item's ``m`` largest similarities; the
matrix is then built in blocks of item rows and pruned block by block, so it is never
whole in memory, and scoring costs ``m`` multiply-adds per interaction. The low-rank part is exposed as
``user_embeddings_ = R Di^-1/2 V`` and ``item_embeddings_ = Di^1/2 V`` so that
``alpha * user_embeddings_ @ item_embeddings_.T`` is the ideal filter's score.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.graph import normalized_interactions
from graphrec.models.base import Recommender
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng

__all__ = ["GraphFilter", "choose_n_components", "pruned_gram"]

logger = logging.getLogger(__name__)

SOLVERS = ("randomized", "arpack")


class GraphFilter(Recommender):
    """Linear plus ideal low-pass graph filter (GF-CF); no training, one truncated SVD.

    Parameters
    ----------
    n_components : int or "auto", default "auto"
        Singular vectors kept by the ideal low-pass filter (the paper's ``k``;
        named so that ``k`` keeps its one meaning, the list length). 0 keeps
        only the linear filter. "auto" is GF-CF's 256, shrunk to
        ``min(n_users, n_items) - 1`` on smaller data (logged); the number used
        is ``n_components_``.
    alpha : float, default 0.3
        Weight of the ideal low-pass filter (GF-CF uses 0.3).
    solver : {"randomized", "arpack"}, default "randomized"
        ``sklearn.utils.extmath.randomized_svd`` (fast, approximate) or
        ``scipy.sparse.linalg.svds`` (exact, slower).
    n_iter : int, default 4
        Power iterations of the randomized solver.
    random_state : int or None, default 0
        Seed of the SVD's random start (the default gives the same model twice;
        None draws a fresh one).
    device : str, default "auto"
        Where the low-rank product runs ("auto": CUDA when available).
    verbose : bool, default False
        Log the time of each fitting stage.
    memory_budget : float, default 2.0
        GiB the item-item matrix may take: when its estimated size (an upper bound,
        16 bytes per product term ``sum_u deg_u^2``, counting scipy's working copy)
        exceeds half of it, the linear filter is applied in factored form,
        ``(r R~^T) R~``, and no item-item matrix is built (same scores; see
        ``propagation_``). On Gowalla the estimate is 0.93 GiB. With ``item_neighbors``
        set, half of it bounds one block of the pruned filter's construction instead.
    item_neighbors : int or None, default None
        Keep, for each item ``j``, only its ``item_neighbors`` largest similarities
        ``P[j, i]`` (``i != j``) of ``P = R~^T R~``, plus its diagonal ``P[j, j]``;
        None keeps the whole filter (the exact GF-CF). ``P`` is symmetric, so row
        ``j`` of ``item_filter_`` is item ``j``'s column of ``P`` cut to its top
        ``item_neighbors``; scoring ``r_u item_filter_`` lets every item of the user
        vote for its ``item_neighbors`` nearest items (item-based top-N, Deshpande and
        Karypis, TOIS 2004; implicit's ``ItemItemRecommender(K=...)``), so scoring all
        users costs ``(item_neighbors + 1)`` multiply-adds per interaction whatever the
        item popularity (keeping each item's top *incoming* entries instead would leave
        popular items' rows unbounded). The diagonal is kept outside the count: it only
        adds to items the user already has (never to an unseen item's rank) and keeps
        their scores those of the exact filter, so it would waste a neighbour slot.
        Ties at the ``item_neighbors``-th value keep the lower item index. The filter
        is built from sparse products ``R~[:, block]^T R~`` over blocks of item rows,
        each pruned before the next (block size from ``memory_budget``): peak memory
        ``O(block x n_items + n_items x item_neighbors)``, never the full ``P``.
        ``item_neighbors >= n_items - 1`` gives the exact filter.

    Attributes
    ----------
    n_components_ : int
        Singular vectors used.
    propagation_ : str
        "sparse" (the item-item matrix is built), "factored" or "pruned"
        (``item_neighbors`` set).
    normalized_ : scipy.sparse.csr_array, shape (n_users, n_items)
        ``R~`` (float32).
    item_filter_ : scipy.sparse.csr_array, shape (n_items, n_items)
        The linear filter ``R~^T R~`` (float32); an empty (0, 0) matrix when
        ``propagation_ == "factored"``; each row cut to its diagonal and its
        ``item_neighbors`` largest other entries when ``propagation_ == "pruned"``.
    user_embeddings_ : ndarray of float32, shape (n_users, n_components)
        ``R Di^-1/2 V``.
    item_embeddings_ : ndarray of float32, shape (n_items, n_components)
        ``Di^1/2 V``.
    singular_values_ : ndarray of float32, shape (n_components,)
        Descending.

    Raises
    ------
    ValueError
        (at ``fit``) ``n_components`` negative or not smaller than
        ``min(n_users, n_items)``, ``alpha`` negative, unknown ``solver``,
        ``n_iter < 0``, ``item_neighbors`` not an integer >= 1.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 1, 2, 2], n_users=3, n_items=3)
    >>> m = GraphFilter(n_components=1).fit(x)
    >>> m.recommend([0], k=1)[0].tolist()
    [[2]]
    """

    def __init__(
        self,
        *,
        n_components: int | str = "auto",
        alpha: float = 0.3,
        solver: str = "randomized",
        n_iter: int = 4,
        random_state: int | None = 0,
        device: str = "auto",
        verbose: bool = False,
        memory_budget: float = 2.0,
        item_neighbors: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.memory_budget = memory_budget
        self.alpha = alpha
        self.solver = solver
        self.n_iter = n_iter
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.item_neighbors = item_neighbors

    def _check_params(self) -> None:
        if self.n_components != "auto":
            check_positive_int(self.n_components, "n_components", minimum=0)
        check_positive_float(self.alpha, "alpha", allow_zero=True)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        check_positive_int(self.n_iter, "n_iter", minimum=0)
        check_positive_float(self.memory_budget, "memory_budget")
        if self.item_neighbors is not None:
            check_positive_int(self.item_neighbors, "item_neighbors")

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        limit = min(train.n_users, train.n_items) - 1
        self.n_components_ = choose_n_components(self.n_components, limit, default=256, owner="GraphFilter")
        start = time.perf_counter()
        norm = normalized_interactions(train)  # binary R~ = Du^-1/2 R Di^-1/2
        item_degree = np.bincount(train.item_idx, minlength=train.n_items).astype(np.float64)
        self.normalized_ = sp.csr_array(norm, dtype=np.float32)
        deg_u = np.diff(norm.indptr).astype(np.float64)
        estimate = 16.0 * float((deg_u**2).sum()) + 8.0 * train.n_items
        if self.item_neighbors is not None:
            self.propagation_ = "pruned"
            block = _block_rows(train.n_items, float(self.memory_budget) * (1 << 30) / 2)
            self.item_filter_ = pruned_gram(norm, int(self.item_neighbors), block_rows=block)
            self._log("pruned item-item filter (%d non-zeros, blocks of %d items)", start,
                      self.item_filter_.nnz, block)
        elif estimate <= float(self.memory_budget) * (1 << 30) / 2:
            self.propagation_ = "sparse"
            self.item_filter_ = _gram(norm)
            self._log("item-item filter (%d non-zeros)", start, self.item_filter_.nnz)
        else:
            self.propagation_ = "factored"
            self.item_filter_ = sp.csr_array((0, 0), dtype=np.float32)
            logger.info("GraphFilter: item-item matrix estimated at %.2f GiB, over half of memory_budget=%s GiB; "
                        "applying R~^T R~ in factored form", estimate / (1 << 30), self.memory_budget)
        k = self.n_components_
        if k == 0:
            vt = np.zeros((0, train.n_items), np.float32)
            s = np.zeros(0, np.float32)
        else:
            vt, s = self._svd(norm, k)
            self._log("truncated SVD (%d components)", start, k)
        d_sqrt = np.sqrt(item_degree)
        d_inv_sqrt = np.divide(1.0, d_sqrt, out=np.zeros_like(d_sqrt), where=d_sqrt > 0)
        binary = _binary(self.seen_)
        self.user_embeddings_ = np.asarray(binary @ (vt.T * d_inv_sqrt[:, None]), dtype=np.float32)
        self.item_embeddings_ = np.ascontiguousarray(vt.T * d_sqrt[:, None], dtype=np.float32)
        self.singular_values_ = s.astype(np.float32)

    def _svd(self, norm: sp.csr_array, k: int) -> tuple[NDArray, NDArray]:
        rng = numpy_rng(self.random_state)
        if self.solver == "arpack":
            v0 = rng.uniform(-1, 1, min(norm.shape))
            _, s, vt = sp.linalg.svds(norm, k=k, v0=v0)
            order = np.argsort(-s)
            return vt[order], s[order]
        return _randomized_right_svd(norm, k, n_iter=int(self.n_iter), seed=int(rng.integers(2**31 - 1)))

    def _log(self, message: str, start: float, *args: object) -> None:
        if self.verbose:
            logger.info(message + " after %.1f s", *args, time.perf_counter() - start)

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        if similarity not in (None, "dot"):
            raise ValueError(f"GraphFilter scores are fixed; similarity must be None or 'dot', got {similarity!r}")
        rows = _binary(self.seen_[users])
        linear = self._linear(rows)
        dev = self._device
        out = torch.from_numpy(np.asarray(linear, dtype=np.float32)).to(dev)
        if self.item_embeddings_.shape[1] and self.alpha:
            user_vecs, item_vecs = self._embedding_tensors()
            out.addmm_(user_vecs[torch.from_numpy(users).to(dev)], item_vecs.T, alpha=float(self.alpha))
        return out

    # ------------------------------------------------------------------ cold start, explanations
    def fold_in(
        self,
        rows: sp.sparray | sp.spmatrix,
        *,
        method: str = "auto",
        alpha: float = 10.0,
        regularization: float = 1.0,
    ) -> NDArray[np.float32]:
        """The low-rank user vectors ``r Di^-1/2 V`` of new users (exact, no fitting).

        For a training user's items this is its ``user_embeddings_`` row. The
        interaction pattern counts, not the weights; ``method``, ``alpha`` and
        ``regularization`` are checked but unused (the closed form needs none).

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_components)
        """
        return self._low_rank_vectors(_new_user_pattern(self, rows, (method, alpha, regularization)))

    def score_new_users(self, rows: sp.sparray | sp.spmatrix, **fold_in_params: Any) -> NDArray[np.float32]:
        """Both filters applied to new users' item rows: ``r F + alpha * (r Di^-1/2 V)(Di^1/2 V)^T``.

        ``F`` is ``item_filter_`` (pruned when ``item_neighbors`` is set) or, on the
        factored path, ``R~^T R~`` applied as ``(r R~^T) R~``.

        For a training user's items these are its :meth:`score` row; ``fold_in_params``
        are accepted and ignored (see :meth:`fold_in`).

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_items)
        """
        binary = _new_user_pattern(self, rows)
        out = self._linear(binary)
        if self.item_embeddings_.shape[1] and self.alpha:
            out += float(self.alpha) * (self._low_rank_vectors(binary) @ self.item_embeddings_.T)
        return out

    def _linear(self, rows: sp.csr_array) -> NDArray[np.float32]:
        """``rows R~^T R~`` (dense float32), from the item-item matrix or in factored form."""
        if getattr(self, "propagation_", "sparse") != "factored":
            return np.asarray((rows @ self.item_filter_).toarray(), np.float32)
        norm = self.normalized_
        return np.asarray(((rows @ norm.T) @ norm).toarray(), np.float32)

    def explain_weighting(self) -> str:
        """"normalized": both filters are built on the normalised interactions ``R~``."""
        return "normalized"

    def _low_rank_vectors(self, binary: sp.csr_array) -> NDArray[np.float32]:
        """``r Di^-1/2 V`` from binary rows (``item_embeddings_ = Di^1/2 V``)."""
        deg = np.bincount(self.seen_.indices, minlength=self.n_items_).astype(np.float64)
        scale = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
        return np.asarray(
            binary @ (np.asarray(self.item_embeddings_, np.float64) * scale[:, None]), np.float32
        )


def choose_n_components(requested: int | str, limit: int, *, default: int, owner: str) -> int:
    """The number of singular vectors to use: ``requested``, or for "auto" ``min(default, limit)``.

    ``limit`` is ``min(n_users, n_items) - 1`` (the most a truncated SVD gives).
    "auto" shrinking below ``default`` is logged (INFO).

    Raises
    ------
    ValueError
        An int ``requested`` above ``limit``.

    Examples
    --------
    >>> choose_n_components("auto", 19, default=256, owner="GraphFilter")
    19
    >>> choose_n_components(8, 19, default=256, owner="GraphFilter")
    8
    """
    limit = max(int(limit), 0)
    if requested == "auto":
        k = min(int(default), limit)
        if k < default:
            logger.info("%s: n_components='auto' uses %d singular vectors (min(n_users, n_items) - 1; "
                        "default %d)", owner, k, default)
        return k
    k = int(requested)
    if k > limit:
        raise ValueError(
            f"n_components must be < min(n_users, n_items) = {limit + 1} for this data, got {requested}"
        )
    return k


def _randomized_right_svd(a: sp.csr_array, k: int, *, n_iter: int, seed: int,
                          oversample: int = 10) -> tuple[NDArray, NDArray]:
    """Top-``k`` right singular vectors and values of ``a`` (Halko et al.'s randomized SVD).

    Same range finder as ``sklearn.utils.extmath.randomized_svd``, but the small
    projected matrix ``B`` (``k + oversample`` rows, n_items columns) is
    decomposed through the eigenvectors of ``B B^T`` rather than a dense SVD of
    ``B``: on Gowalla that SVD alone took 18 s of a 35 s fit (profiled on a loaded
    2-core machine), the (k+p) x (k+p) eigenproblem well under a second.
    """
    from sklearn.utils.extmath import randomized_range_finder

    size = min(k + oversample, min(a.shape))
    q = randomized_range_finder(a, size=size, n_iter=n_iter, random_state=seed)
    b = np.asarray(a.T @ q, dtype=np.float64).T  # (size, n_items)
    evals, evecs = np.linalg.eigh(b @ b.T)
    order = np.argsort(-evals)[:k]
    s = np.sqrt(np.maximum(evals[order], 0.0))
    vt = (evecs[:, order].T @ b) / np.where(s > 0, s, 1.0)[:, None]
    return vt, s


def _new_user_pattern(model: Recommender, rows: sp.sparray | sp.spmatrix,
                     fold_in_params: tuple[str, float, float] | None = None) -> sp.csr_array:
    """New users' rows as a training-free filter reads them: checked, then binarised.

    The cold-start door shared by :class:`GraphFilter` and
    :class:`~graphrec.models.spectral.SpectralFilter`: their filters act on the
    interaction pattern (as ``seen_`` is binarised in training), and their fold-in is a
    closed form, so ``fold_in_params`` (``method, alpha, regularization`` of
    :meth:`~graphrec.models.base.Recommender.fold_in`), when given, are checked but unused.

    Parameters
    ----------
    model : Recommender
        A fitted filter.
    rows : sparse matrix, shape (n_new_users, n_items)
        The new users' items (weights >= 0; only the positions of stored entries count).
    fold_in_params : (str, float, float), optional
        ``(method, alpha, regularization)`` to check.

    Returns
    -------
    scipy.sparse.csr_array of float32, shape (n_new_users, n_items)
        1 where a new user has an item.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        ``model`` is not fitted.
    ValueError
        Bad ``fold_in_params`` or ``rows`` (shape, weights).
    TypeError
        ``rows`` is not a scipy sparse matrix.
    """
    check_is_fitted(model)
    if fold_in_params is not None:
        from graphrec.coldstart import check_fold_in_params

        check_fold_in_params(*fold_in_params)
    return _binary(model._new_user_rows(rows))


def _binary(r: sp.csr_array) -> sp.csr_array:
    """The same sparsity pattern with all stored values 1 (float32)."""
    r = sp.csr_array(r)
    return sp.csr_array((np.ones(r.nnz, np.float32), r.indices, r.indptr), shape=r.shape)


def _gram(norm: sp.csr_array) -> sp.csr_array:
    """``R~^T R~`` as float32 CSR with sorted indices."""
    g = sp.csr_array(norm.T @ norm, dtype=np.float32)
    g.sort_indices()
    return g


#: Bytes per (item row x item) cell of one block of :func:`pruned_gram`, at most: the sparse
#: product (float64 value + int32 index, 12; scipy's row accumulators are O(n_items)), its
#: float32 values (4), the dense rows (4), two boolean masks (2), rounded up for the kept
#: entries' indices and the tie counts.
_BLOCK_CELL_BYTES = 32


def _block_rows(n_items: int, budget_bytes: float) -> int:
    """Item rows per block of :func:`pruned_gram` so one block stays within ``budget_bytes``."""
    return int(min(max(n_items, 1), max(1, budget_bytes // (_BLOCK_CELL_BYTES * max(n_items, 1)))))


def pruned_gram(norm: sp.csr_array | sp.csr_matrix, neighbors: int, *, block_rows: int = 1024) -> sp.csr_array:
    """``R~^T R~`` with each row cut to its diagonal and its ``neighbors`` largest other entries.

    Built in blocks of ``block_rows`` item rows, ``R~[:, block]^T R~`` (one sparse
    product each), every block pruned before the next: memory is one block
    (``block_rows x n_items``, sparse then dense) plus the kept entries, never the
    whole matrix. Each row's kept values equal the exact filter's (``R~^T R~`` cast
    to float32: the same product
    row by row), so ``neighbors >= n_items - 1`` gives that filter exactly; ties at the
    ``neighbors``-th value keep the lower item index, so the result does not depend
    on ``block_rows``. Selection is vectorised per block (``torch.topk`` along the
    item axis of the dense block for each row's threshold where the block is more
    than 10% non-zero, else one sort of its non-zeros); the loop runs over blocks
    only.

    Parameters
    ----------
    norm : sparse matrix, shape (n_users, n_items)
        The normalised interactions ``R~`` (non-negative).
    neighbors : int
        Largest off-diagonal entries kept per row (>= 1).
    block_rows : int, default 1024
        Item rows per block.

    Returns
    -------
    scipy.sparse.csr_array of float32, shape (n_items, n_items)
        Sorted indices; at most ``neighbors + 1`` entries per row.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> r = sp.csr_array(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]))
    >>> (r.T @ r).toarray()
    array([[2., 2., 1.],
           [2., 2., 1.],
           [1., 1., 1.]])
    >>> pruned_gram(r, 1).toarray()
    array([[2., 2., 0.],
           [2., 2., 0.],
           [1., 0., 1.]], dtype=float32)
    """
    neighbors = check_positive_int(neighbors, "neighbors")
    block_rows = check_positive_int(block_rows, "block_rows")
    norm = sp.csr_array(norm)
    n_items = norm.shape[1]
    norm_t = sp.csr_array(norm.T)  # item rows, users in order: the rows _gram's product uses
    counts = np.zeros(n_items, np.int64)
    cols: list[NDArray] = []
    vals: list[NDArray] = []
    for start in range(0, n_items, block_rows):
        block = sp.csr_array(norm_t[start:start + block_rows] @ norm)
        r, c, v = _prune_block(block, start, neighbors)
        del block
        counts[start:start + block_rows] = np.bincount(r - start, minlength=min(block_rows, n_items - start))
        cols.append(c)
        vals.append(v)
    indptr = np.zeros(n_items + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(cols) if cols else np.zeros(0, np.int32)  # 8 B per kept entry, twice at most
    del cols
    data = np.concatenate(vals) if vals else np.zeros(0, np.float32)
    del vals
    out = sp.csr_array((data, indices, indptr), shape=(n_items, n_items))
    out.has_sorted_indices = True  # each block lists its entries row by row, columns ascending
    return out


#: Share of non-zero cells above which :func:`_prune_block` selects on the dense block
#: (measured on 16x Gowalla blocks: ~12 ns per cell dense, ~120 ns per non-zero sorted, one core).
_DENSE_ABOVE = 0.1


def _prune_block(block: sp.csr_array, start: int, m: int, *,
                 dense: bool | None = None) -> tuple[NDArray, NDArray, NDArray]:
    """(row, column, value) kept from one block of rows ``start...`` of the item-item filter.

    The diagonal and, per row, the ``m`` largest other values (ties: lower column
    first), in row-major order with columns ascending. ``dense`` picks the method (both
    give the same entries): None picks the dense one where more than ``_DENSE_ABOVE``
    of the block's cells are non-zero (16x Gowalla: ~20%), else the sparse one
    (Gowalla: ~2.5%).
    """
    if dense is None:
        dense = block.nnz > _DENSE_ABOVE * block.shape[0] * block.shape[1]
    return _prune_dense(block, start, m) if dense else _prune_sparse(block, start, m)


def _prune_sparse(block: sp.csr_array, start: int, m: int) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`_prune_block` on the block's non-zeros: work grows with them, not its cells.

    Hand-written because scipy and numpy have no row-wise top-k of a sparse matrix: one
    stable ``argsort`` of a key that orders the non-zeros by row, then diagonal first,
    then value descending (the float32 bit pattern of a value >= 0 orders like the
    value), then column (stability, columns sorted); each row's first ``m`` entries
    (plus its diagonal) are kept.
    """
    block.sort_indices()  # in place: the block is pruned_gram's own temporary
    rows = np.repeat(np.arange(block.shape[0], dtype=np.int64), np.diff(block.indptr))
    vals = block.data.astype(np.float32)
    cols = block.indices
    diag = cols == rows + start
    low = np.uint64(0xFFFFFFFF) - vals.view(np.uint32).astype(np.uint64)  # > 0 for every value >= 0
    low[diag] = 0  # the diagonal sorts first and is kept outside the m neighbours
    key = (rows.astype(np.uint64) << np.uint64(32)) | low
    del low
    order = np.argsort(key, kind="stable")
    del key
    ranked_rows = rows[order]
    rank = np.arange(len(order)) - block.indptr[:-1][ranked_rows]
    has_diag = np.zeros(block.shape[0], np.int64)
    has_diag[rows[diag]] = 1
    kept = np.sort(order[(rank < m + has_diag[ranked_rows]) & (vals[order] > 0)])  # row-major again
    return rows[kept] + start, cols[kept].astype(np.int32), vals[kept]


def _prune_dense(block: sp.csr_array, start: int, m: int) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`_prune_block` through the dense block: work grows with its cells.

    Each row's ``m``-th largest off-diagonal value comes from ``torch.topk`` on the dense
    block (a linear-time selection, threaded; numpy's ``np.partition`` was 40x slower on
    these mostly-zero rows, and a sort of the non-zeros about 2x slower at 16x Gowalla);
    entries above it are kept, and entries equal to it in column order up to ``m``.
    """
    n_rows, n_items = block.shape
    dense = sp.csr_array((block.data.astype(np.float32), block.indices, block.indptr), shape=block.shape).toarray()
    local = np.arange(n_rows)
    diag_col = start + local
    diag = dense[local, diag_col].copy()
    dense[local, diag_col] = 0.0  # set aside: kept outside the m neighbours
    if m < n_items - 1:
        # entries are >= 0, so a threshold of 0 means "fewer than m non-zeros": keep them all
        thr = torch.topk(torch.from_numpy(dense), m, dim=1, sorted=False).values.min(dim=1).values.numpy()
        keep = dense > thr[:, None]
        need = m - keep.sum(axis=1)
        heavy = np.flatnonzero(thr > 0)
        tie = dense[heavy] == thr[heavy, None]
        extra = np.flatnonzero(tie.sum(axis=1) > need[heavy])  # more ties than slots: lower columns first
        if len(extra):
            tie[extra] &= np.cumsum(tie[extra], axis=1, dtype=np.int32) <= need[heavy[extra], None]
        keep[heavy] |= tie
        del tie
    else:
        keep = dense > 0
    keep[local, diag_col] = diag > 0
    dense[local, diag_col] = diag
    r, c = np.nonzero(keep)
    return (r + start).astype(np.int64), c.astype(np.int32), dense[r, c]
