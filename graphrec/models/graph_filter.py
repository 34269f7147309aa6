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
batch of users costs one sparse-sparse product. The low-rank part is exposed as
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

__all__ = ["GraphFilter", "choose_n_components"]

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
        ``propagation_``). On Gowalla the estimate is 0.93 GiB.

    Attributes
    ----------
    n_components_ : int
        Singular vectors used.
    propagation_ : str
        "sparse" (the item-item matrix is built) or "factored".
    normalized_ : scipy.sparse.csr_array, shape (n_users, n_items)
        ``R~`` (float32).
    item_filter_ : scipy.sparse.csr_array, shape (n_items, n_items)
        The linear filter ``R~^T R~`` (float32); an empty (0, 0) matrix when
        ``propagation_ == "factored"``.
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
        ``n_iter < 0``.

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
    ) -> None:
        self.n_components = n_components
        self.memory_budget = memory_budget
        self.alpha = alpha
        self.solver = solver
        self.n_iter = n_iter
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.n_components != "auto":
            check_positive_int(self.n_components, "n_components", minimum=0)
        check_positive_float(self.alpha, "alpha", allow_zero=True)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        check_positive_int(self.n_iter, "n_iter", minimum=0)
        check_positive_float(self.memory_budget, "memory_budget")

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        limit = min(train.n_users, train.n_items) - 1
        self.n_components_ = choose_n_components(self.n_components, limit, default=256, owner="GraphFilter")
        start = time.perf_counter()
        norm = normalized_interactions(train)  # binary R~ = Du^-1/2 R Di^-1/2
        item_degree = np.bincount(train.item_idx, minlength=train.n_items).astype(np.float64)
        self.normalized_ = sp.csr_array(norm, dtype=np.float32)
        deg_u = np.diff(norm.indptr).astype(np.float64)
        estimate = 16.0 * float((deg_u**2).sum()) + 8.0 * train.n_items
        if estimate <= float(self.memory_budget) * (1 << 30) / 2:
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
        from graphrec.coldstart import check_fold_in_params

        check_is_fitted(self)
        check_fold_in_params(method, alpha, regularization)
        return self._low_rank_vectors(_binary(self._new_user_rows(rows)))

    def score_new_users(self, rows: sp.sparray | sp.spmatrix, **fold_in_params: Any) -> NDArray[np.float32]:
        """Both filters applied to new users' item rows: ``r F + alpha * (r Di^-1/2 V)(Di^1/2 V)^T``.

        For a training user's items these are its :meth:`score` row; ``fold_in_params``
        are accepted and ignored (see :meth:`fold_in`).

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_items)
        """
        check_is_fitted(self)
        binary = _binary(self._new_user_rows(rows))
        out = self._linear(binary)
        if self.item_embeddings_.shape[1] and self.alpha:
            out += float(self.alpha) * (self._low_rank_vectors(binary) @ self.item_embeddings_.T)
        return out

    def _linear(self, rows: sp.csr_array) -> NDArray[np.float32]:
        """``rows R~^T R~`` (dense float32), from the item-item matrix or in factored form."""
        if getattr(self, "propagation_", "sparse") == "sparse":
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


def _binary(r: sp.csr_array) -> sp.csr_array:
    """The same sparsity pattern with all stored values 1 (float32)."""
    r = sp.csr_array(r)
    return sp.csr_array((np.ones(r.nnz, np.float32), r.indices, r.indptr), shape=r.shape)


def _gram(norm: sp.csr_array) -> sp.csr_array:
    """``R~^T R~`` as float32 CSR with sorted indices."""
    g = sp.csr_array(norm.T @ norm, dtype=np.float32)
    g.sort_indices()
    return g
