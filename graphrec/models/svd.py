"""PureSVD: the truncated SVD of the interaction matrix (Cremonesi, Koren, Turrin, RecSys 2010).

The top ``k`` right singular vectors ``V`` (n_items x k) of the interaction
matrix span the items' dominant co-occurrence subspace; a user's scores are
their interaction row projected onto it and back,

    score(u) = r_u V V^T.

So the model is an ordinary embedding model: ``item_embeddings_ = V`` and
``user_embeddings_ = R V`` (each user's row folded in), and scoring, retrieval,
ANN indexes and re-ranking use the library's dot product unchanged. A new user
is folded in exactly the same way (:meth:`PureSVD.fold_in` returns ``r V``),
with no fitting and no approximation.

The SVD may be taken of a degree-normalised matrix ``R~ = Du^-e R Di^-e``
(``normalize="symmetric"``, GF-CF's ``Du^-1/2 R Di^-1/2`` at ``e = 1/2``) or
``R~ = R Di^-e`` (``normalize="item"``), with the exponent ``e`` given by
``exponent``: dividing item columns by a power of their popularity stops the most
popular items from dominating the leading singular vectors (EigenRec,
Nikolakopoulos et al. 2017, studies such scalings). The scores are then the
rank-``k`` reconstruction of ``R~`` with the item normalisation undone,

    score(u) = r_u Di^-e V V^T Di^e

(the user factor ``Du^-e`` is one constant per user and cannot change a ranking),
which is GF-CF's ideal low-pass filter; so ``user_embeddings_ = R Di^-e V`` and
``item_embeddings_ = Di^e V``, and the fold-in is ``r Di^-e V``. With
``normalize=None`` (or ``e = 0``) this is plain PureSVD.

The SVD is the randomized solver (Halko et al. 2011) shared with
:class:`graphrec.GraphFilter` (``graph_filter._randomized_right_svd``: sklearn's
randomized range finder, then the small projected problem solved through a
``(k + p)``-square eigenproblem instead of a dense SVD of ``B``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.models.base import EmbeddingRecommender
from graphrec.models.graph_filter import _randomized_right_svd
from graphrec.retrieval import SIMILARITIES
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng

__all__ = ["PureSVD"]

logger = logging.getLogger(__name__)

#: what embedding_dim="auto" asks for before the data's size bounds it
AUTO_DIM = 64


def auto_dim(requested: int | str, limit: int, owner: str, *, strict: bool,
             log: logging.Logger = logger) -> int:
    """The rank to fit: ``requested``, or for "auto" ``min(AUTO_DIM, limit)`` (logged when shrunk).

    ``strict``: a requested int above ``limit`` raises ``ValueError`` (PureSVD: the SVD
    has at most ``limit`` useful components); else it is kept.
    """
    if limit < 1:
        raise ValueError(f"{owner} needs at least 2 users and 2 items, the data has a side of {limit + 1}")
    if requested == "auto":
        k = min(AUTO_DIM, limit)
        if k < AUTO_DIM:
            log.info("%s: embedding_dim='auto' uses %d (the data bounds it to %d; default %d)",
                        owner, k, limit, AUTO_DIM)
        return k
    k = int(requested)
    if strict and k > limit:
        raise ValueError(
            f"embedding_dim must be < min(n_users, n_items) = {limit + 1} for this data, got {k} "
            "(embedding_dim='auto' adapts)"
        )
    return k

NORMALIZATIONS = (None, "item", "symmetric")


class PureSVD(EmbeddingRecommender):
    """PureSVD (Cremonesi et al. 2010): scores ``r_u V V^T`` from a truncated SVD; no training.

    Parameters
    ----------
    embedding_dim : int or "auto", default "auto"
        Rank ``k`` of the truncated SVD (singular vectors kept); must be smaller
        than ``min(n_users, n_items)`` of the training data. "auto" is 64, shrunk
        to ``min(n_users, n_items) - 1`` on smaller data (logged); the rank used
        is ``embedding_dim_``.
    normalize : {None, "item", "symmetric"}, default None
        Matrix whose SVD is taken: None the interaction matrix ``R`` itself
        (Cremonesi et al.), "item" ``R Di^-e``, "symmetric" ``Du^-e R Di^-e``
        (``Du``, ``Di``: user and item degrees, or row and column sums when
        ``binary=False``; ``e`` = ``exponent``). Scores are
        ``r_u Di^-e V V^T Di^e`` (see the module docstring).
    exponent : float, default 0.5
        The exponent ``e`` of the degree normalisation (unused when
        ``normalize`` is None); 0 means no normalisation.
    binary : bool, default True
        Use 1 for every observed interaction; False keeps the stored weights
        (counts, ratings), both in the SVD and in the user rows ``r_u``.
    n_iter : int, default 4
        Power iterations of the randomized solver (more: closer to the exact SVD).
    n_oversamples : int, default 10
        Extra random directions of the randomized range finder.
    similarity : {"dot", "cosine"}, default "dot"
        Default scoring; "dot" is PureSVD's ``r_u V V^T``.
    random_state : int or None, default 0
        Seed of the solver's random start (None: a fresh one each fit).
    device : str, default "auto"
        Where scoring runs ("auto": CUDA when available).
    verbose : bool, default False
        Log the time of each fitting stage.

    Attributes
    ----------
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
        ``Di^e V``: the top right singular vectors ``V`` (orthonormal columns,
        not scaled by the singular values), times ``Di^e`` when normalised.
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
        ``R Di^-e V`` (the training rows folded in).
    item_scale_ : ndarray of float32, shape (n_items,)
        ``Di^-e`` (0 for items without interactions; all ones when not normalised).
    embedding_dim_ : int
        The rank used (``embedding_dim``, or what "auto" chose).
    singular_values_ : ndarray of float32, shape (embedding_dim,)
        Of the (normalised) matrix, descending.
    fit_time_ : float
        Seconds spent in :meth:`fit`.

    Raises
    ------
    ValueError
        (at ``fit``) ``embedding_dim`` < 1 or not smaller than
        ``min(n_users, n_items)``, an unknown ``normalize`` or ``similarity``,
        a negative ``exponent``, ``n_iter < 0`` or ``n_oversamples < 0``.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 1, 1, 2, 2, 3], [0, 0, 1, 0, 1, 2], n_users=4, n_items=3)
    >>> m = PureSVD(embedding_dim=1, random_state=0).fit(x)
    >>> m.recommend([0], k=1)[0].tolist()  # item 1 co-occurs with user 0's item 0
    [[1]]
    >>> bool(np.allclose(m.fold_in(x.to_csr()[[0]]), m.user_embeddings_[[0]]))
    True
    """

    def __init__(
        self,
        *,
        embedding_dim: int | str = "auto",
        normalize: str | None = None,
        exponent: float = 0.5,
        binary: bool = True,
        n_iter: int = 4,
        n_oversamples: int = 10,
        similarity: str = "dot",
        random_state: int | None = 0,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.exponent = exponent
        self.binary = binary
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.similarity = similarity
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.embedding_dim != "auto":
            check_positive_int(self.embedding_dim, "embedding_dim")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")
        check_positive_float(self.exponent, "exponent", allow_zero=True)
        if not isinstance(self.binary, (bool, np.bool_)):
            raise ValueError(f"binary must be True or False, got {self.binary!r}")  # noqa: TRY004
        check_positive_int(self.n_iter, "n_iter", minimum=0)
        check_positive_int(self.n_oversamples, "n_oversamples", minimum=0)
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {self.similarity!r}")

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        start = time.perf_counter()
        limit = min(train.n_users, train.n_items) - 1
        self.embedding_dim_ = k = auto_dim(self.embedding_dim, limit, "PureSVD", strict=True)
        r = self._rows(self.seen_)
        a, item_scale = self._normalized(r)
        seed = int(numpy_rng(self.random_state).integers(2**31 - 1))
        vt, s = _randomized_right_svd(a, k, n_iter=int(self.n_iter), seed=seed,
                                      oversample=int(self.n_oversamples))
        self._log("truncated SVD (rank %d)", start, k)
        v = np.asarray(vt.T, dtype=np.float64)
        inverse = np.divide(1.0, item_scale, out=np.zeros_like(item_scale), where=item_scale > 0)
        self.item_scale_ = item_scale.astype(np.float32)
        self.item_embeddings_ = np.ascontiguousarray(v * inverse[:, None], dtype=np.float32)
        self.user_embeddings_ = np.asarray(r @ (v * item_scale[:, None]), dtype=np.float32)
        self.singular_values_ = np.asarray(s, dtype=np.float32)
        self.fit_time_ = time.perf_counter() - start

    def _rows(self, r: sp.csr_array) -> sp.csr_array:
        """Interaction rows as float32 CSR: all ones when ``binary``, else the stored weights."""
        r = sp.csr_array(r)
        data = np.ones(r.nnz, np.float32) if self.binary else r.data.astype(np.float32)
        return sp.csr_array((data, r.indices, r.indptr), shape=r.shape)

    def _normalized(self, r: sp.csr_array) -> tuple[sp.csr_array, NDArray[np.float64]]:
        """The matrix whose SVD is taken (``r``, ``r Di^-e`` or ``Du^-e r Di^-e``) and ``Di^-e``."""
        e = float(self.exponent)
        if self.normalize is None or e == 0.0:
            return r, np.ones(r.shape[1])
        col = np.asarray(r.sum(axis=0), np.float64).ravel()
        scale = np.zeros_like(col)
        np.power(col, -e, out=scale, where=col > 0)
        data = r.data * scale[r.indices]
        if self.normalize == "symmetric":
            row = np.asarray(r.sum(axis=1), np.float64).ravel()
            row_scale = np.zeros_like(row)
            np.power(row, -e, out=row_scale, where=row > 0)
            data = data * np.repeat(row_scale, np.diff(r.indptr))
        return sp.csr_array((data.astype(np.float32), r.indices, r.indptr), shape=r.shape), scale

    def _log(self, message: str, start: float, *args: object) -> None:
        if self.verbose:
            logger.info(message + " after %.1f s", *args, time.perf_counter() - start)

    # ------------------------------------------------------------------ cold start
    def fold_in(
        self,
        rows: sp.sparray | sp.spmatrix,
        *,
        method: str = "auto",
        alpha: float = 10.0,
        regularization: float = 1.0,
    ) -> NDArray[np.float32]:
        """Exact user vectors ``r Di^-e V`` of new users (the projection PureSVD scores with).

        For a training user's items this is its ``user_embeddings_`` row, and
        ``fold_in(rows) @ item_embeddings_.T`` is ``r Di^-e V V^T Di^e``, the
        PureSVD score (``r V V^T`` without normalisation).
        ``method="auto"`` is this closed form; "propagation", "ridge" and
        "mean" use the generic fold-in of :class:`graphrec.models.base.Recommender`
        (``alpha`` and ``regularization`` apply to those only).

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)
            The new users' items (weights as values; binarised when ``binary``).
        method : {"auto", "propagation", "ridge", "mean"}, default "auto"
        alpha, regularization : float
            Ridge settings of the generic fold-in.

        Returns
        -------
        ndarray of float32, shape (n_new_users, embedding_dim)

        Raises
        ------
        ValueError
            A bad ``method``, ``alpha``, ``regularization`` or ``rows``.
        TypeError
            ``rows`` is not a scipy sparse matrix.
        """
        from graphrec.coldstart import check_fold_in_params

        check_is_fitted(self)
        check_fold_in_params(method, alpha, regularization)
        if method != "auto":
            return super().fold_in(rows, method=method, alpha=alpha, regularization=regularization)
        r = self._rows(self._new_user_rows(rows))
        scale = np.asarray(self.item_scale_, np.float64)
        v = np.asarray(self.item_embeddings_, np.float64) * (scale * scale)[:, None]  # Di^e V -> Di^-e V
        return np.asarray(r @ v, dtype=np.float32)

    def explain_weighting(self) -> str:
        """"normalized" when the SVD is of the symmetric ``Du^-1/2 R Di^-1/2``, else "count"."""
        if self.normalize == "symmetric" and float(self.exponent) == 0.5:
            return "normalized"
        return "count"
