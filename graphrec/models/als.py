"""ALS: implicit-feedback weighted matrix factorisation (Hu, Koren & Volinsky, ICDM 2008).

Every (user, item) pair is a regression target: preference ``p_ui = 1`` where the
user interacted (weight ``r_ui > 0``), else 0, with confidence
``c_ui = 1 + alpha * s(r_ui)`` (``s(r) = r`` or ``log(1 + r / epsilon)``) and 1 on the
unobserved pairs. ALS alternates closed-form solves: with the item factors ``Y``
fixed, each user's factors are

    x_u = (Y^T Y + Y^T (C_u - I) Y + regularization * I)^-1  Y^T C_u p_u,

and symmetrically for items. ``Y^T Y`` is shared, so the per-user work is over the
user's own items only.

Solvers
    ``solver="cg"`` (default) runs ``cg_steps`` conjugate-gradient steps per sweep,
    warm-started from the previous factors (Takacs, Pilaszy & Tikk, RecSys 2011; the
    solver of the ``implicit`` library); ``A_u p`` is formed without ``A_u``:
    ``Y^T Y p + Y_u^T (w_u * (Y_u p))``. ``solver="cholesky"`` builds each ``A_u``
    and solves exactly (float64): the reference the tests check CG against, and the
    solver of cold start (:meth:`ALS.fold_in`, :meth:`ALS.fold_in_items`).

Implementation
    Vectorised per block of rows (users or items) of similar degree, padded to the
    block's longest row (:func:`padded_blocks`, built once per fit; ~``block_size``
    padded entries each). Per sweep a block's factor rows are gathered once into a
    reused buffer and all CG steps run on it as batched matrix-vector products while it
    is in cache; blocks are independent and run on a pool of ``n_threads`` workers, each
    with single-threaded BLAS. numpy was chosen over torch after measuring both on
    Gowalla at 128 factors (one ALS iteration on the shared 2-core machine, same blocks,
    single-threaded): 2.4-3.3 s numpy vs 3.6-4.1 s torch with a flat gather; torch's own
    2-thread OpenMP pool ran 10-30x slower than one thread under the machine's load
    (90 s vs 2.7 s), so parallelism comes from the block pool, not intra-op threads.
    The padded batched products took 1.0-1.2 s per iteration single-threaded, against
    1.7-3 s for a flat gather + ``np.repeat`` + sparse scatter; 8k-entry blocks beat
    32k (the gathered 8,192 x 128 float32 factors, 4 MB, stay in cache).

One piece (~650 lines, about half docstrings): the solver functions
(:func:`confidence_matrix`, :func:`padded_blocks`, :func:`least_squares`) serve this
estimator alone, and its cold start reuses them; split, neither half reads alone.

Sweep order is items, then users, so the user factors a fit leaves are the solve
against the final item factors: with ``solver="cholesky"`` :meth:`ALS.fold_in` of a
training user's row reproduces that user's ``user_embeddings_`` row exactly.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.exceptions import TrainingError
from graphrec.models.base import EmbeddingRecommender
from graphrec.models.svd import auto_dim
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng

__all__ = ["ALS", "confidence_matrix", "least_squares", "padded_blocks"]

logger = logging.getLogger(__name__)

SOLVERS = ("cg", "cholesky")
SCALINGS = ("linear", "log")
# float64 entries of one exact block's padded gathered factors and of its d x d systems
_GATHER_BUDGET = 1 << 21
_GRAM_BUDGET = 1 << 22


def confidence_matrix(
    weights: sp.sparray | sp.spmatrix, *, alpha: float, scaling: str = "linear", epsilon: float = 1.0
) -> sp.csr_array:
    """Confidences ``c = 1 + alpha * s(r)`` on the stored entries with ``r > 0`` (float32 CSR).

    Parameters
    ----------
    weights : sparse matrix
        Interaction counts or ratings (>= 0); stored zeros are dropped.
    alpha : float
    scaling : {"linear", "log"}
        ``s(r) = r`` or ``log(1 + r / epsilon)`` (Hu et al., eq. 6).
    epsilon : float

    Returns
    -------
    csr_array of float32, same shape, sorted indices

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> confidence_matrix(sp.csr_array(np.array([[0.0, 2.0]])), alpha=10).toarray().tolist()
    [[0.0, 21.0]]
    """
    r = sp.csr_array(weights, dtype=np.float64, copy=True)
    r.eliminate_zeros()
    r.sort_indices()
    s = r.data if scaling == "linear" else np.log1p(r.data / epsilon)
    return sp.csr_array(((1.0 + alpha * s).astype(np.float32), r.indices, r.indptr), shape=r.shape)


def _blocks(indptr: NDArray[np.int64], target: int, max_rows: int) -> list[tuple[int, int]]:
    """Row ranges of about ``target`` stored entries and at most ``max_rows`` rows (a heavy row alone)."""
    n = len(indptr) - 1
    cuts = np.searchsorted(indptr, np.arange(0, indptr[-1], max(1, target)), side="right") - 1
    edges = np.unique(np.concatenate([[0], cuts, np.arange(0, n, max(1, max_rows)), [n]]).clip(0, n))
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def padded_blocks(conf: sp.csr_array, target: int, max_rows: int = 8192) -> list[tuple[NDArray, NDArray, NDArray]]:
    """The rows of ``conf`` in blocks of similar degree, each padded to its longest row.

    Rows are ordered by degree, so padding costs little (2% on Gowalla's users at
    8,192 entries a block). Built once per fit and reused by every sweep.

    Returns
    -------
    list of (rows, columns, confidences)
        ``rows`` (n_b,) int64; ``columns`` (n_b, width) int64 (0 in the padding);
        ``confidences`` (n_b, width) float32 (0 in the padding).
    """
    indptr = conf.indptr.astype(np.int64)
    deg = np.diff(indptr)
    order = np.argsort(deg, kind="stable")
    sorted_ptr = np.concatenate([[0], np.cumsum(deg[order])])
    out = []
    for a, b in _blocks(sorted_ptr, target, max_rows):
        rows = order[a:b]
        slot = np.arange(max(1, int(deg[rows].max())))
        valid = slot[None, :] < deg[rows][:, None]
        pos = np.where(valid, indptr[rows][:, None] + slot[None, :], 0)
        if conf.nnz == 0:
            cols, c = np.zeros(pos.shape, np.int64), np.zeros(pos.shape, np.float32)
        else:
            cols = np.where(valid, conf.indices[pos], 0).astype(np.int64)
            c = np.where(valid, conf.data[pos], 0).astype(np.float32)
        out.append((rows, cols, c))
    return out


def _gather(fixed: NDArray, cols: NDArray, buf: NDArray) -> NDArray:
    """``fixed[cols]`` as (n_b, width, d), written into the reused buffer ``buf``."""
    n, width = cols.shape
    flat = buf[: n * width]
    np.take(fixed, cols.reshape(-1), axis=0, out=flat)
    return flat.reshape(n, width, fixed.shape[1])


def _cg_block(block: tuple[NDArray, NDArray, NDArray], fixed: NDArray[np.float32], gram: NDArray[np.float32],
              x: NDArray[np.float32], steps: int, buf: NDArray[np.float32]) -> float:
    """``steps`` CG steps on one block's rows of ``x`` (in place); returns the block's loss part.

    Batched matrix-vector products over the padded block (``matmul``, one pass over
    the gathered factors each) measured faster than a flat gather with
    ``np.repeat`` + row dots + a sparse scatter (1.0-1.2 s vs 1.7-3 s per Gowalla
    iteration at 128 factors, single-threaded).
    """
    rows, cols, c = block
    yg = _gather(fixed, cols, buf)
    w = np.where(c > 0, c - 1.0, 0.0).astype(np.float32)

    def a_times(p: NDArray) -> NDArray:
        s = np.matmul(yg, p[:, :, None])[:, :, 0]
        s *= w
        out = p @ gram
        out += np.matmul(s[:, None, :], yg)[:, 0, :]
        return out

    xb = x[rows]
    r = np.matmul(c[:, None, :], yg)[:, 0, :] - a_times(xb)
    p = r.copy()
    rs = np.einsum("nd,nd->n", r, r)
    for _ in range(steps):
        ap = a_times(p)
        denom = np.einsum("nd,nd->n", p, ap)
        step = np.divide(rs, denom, out=np.zeros_like(rs), where=denom > 0)
        xb += step[:, None] * p
        r -= step[:, None] * ap
        rn = np.einsum("nd,nd->n", r, r)
        beta = np.divide(rn, rs, out=np.zeros_like(rs), where=rs > 0)
        p *= beta[:, None]
        p += r
        rs = rn
    x[rows] = xb
    s = np.matmul(yg, xb[:, :, None])[:, :, 0]
    # the block's sum of c (p - s)^2 beyond the unweighted x F^T F x (added by the caller)
    return float(np.sum(c - 2.0 * c * s + w * s * s, dtype=np.float64))


def _exact_block(block: tuple[NDArray, NDArray, NDArray], fixed: NDArray[np.float32],
                 gram: NDArray[np.float64]) -> NDArray[np.float32]:
    """Exact solves of one padded block's rows (float64 Cholesky)."""
    _, cols, c32 = block
    c = c32.astype(np.float64)
    y = np.asarray(fixed, np.float64)[cols]
    w = np.where(c > 0, c - 1.0, 0.0)
    a = torch.from_numpy(np.matmul(y.transpose(0, 2, 1), w[:, :, None] * y) + gram)
    b = torch.from_numpy(np.einsum("nl,nld->nd", c, y))
    lower = torch.linalg.cholesky(a)
    return torch.cholesky_solve(b.unsqueeze(-1), lower).squeeze(-1).numpy().astype(np.float32)


def least_squares(
    confidence: sp.sparray | sp.spmatrix | list,
    fixed: NDArray[np.float32],
    *,
    regularization: float,
    solver: str = "cholesky",
    initial: NDArray[np.float32] | None = None,
    cg_steps: int = 3,
    block_size: int = 8192,
    n_threads: int = 1,
) -> tuple[NDArray[np.float32], float]:
    """One ALS half-sweep: the factors of every row of ``confidence`` given ``fixed``.

    Solves ``(F^T F + F^T (C_u - I) F + regularization * I) x_u = F^T C_u p_u`` for each
    row ``u``, with ``p_u = 1`` on the row's stored entries.

    Parameters
    ----------
    confidence : sparse matrix, shape (n_rows, n_fixed), or its :func:`padded_blocks`
        Confidences ``c_ui >= 1`` on the observed pairs (see :func:`confidence_matrix`).
        Pass CG the blocks (built with ``block_size``) to reuse them across sweeps;
        then ``initial`` is required.
    fixed : ndarray of float32, shape (n_fixed, d)
    regularization : float
    solver : {"cholesky", "cg"}
        Exact (float64) or ``cg_steps`` conjugate-gradient steps from ``initial``.
    initial : ndarray of float32, shape (n_rows, d), optional
        CG's start (default zeros); updated in place and returned with ``solver="cg"``.
    cg_steps : int
    block_size : int
        Padded entries per block (CG); the exact solver sizes its blocks by memory.
    n_threads : int
        Blocks solved at once.

    Returns
    -------
    factors : ndarray of float32, shape (n_rows, d)
    loss : float
        ``sum_{u,i} c_ui (p_ui - x_u . f_i)^2`` over all pairs (CG only; nan for "cholesky").

    Raises
    ------
    ValueError
        Blocks without ``initial``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> conf = sp.csr_array(np.array([[2.0, 0.0]], np.float32))
    >>> least_squares(conf, np.eye(2, dtype=np.float32), regularization=1.0)[0].astype(float).round(4).tolist()
    [[0.6667, 0.0]]
    """
    from threadpoolctl import threadpool_limits

    # single-threaded BLAS throughout: on the shared 2-core machine OpenBLAS's own 2-thread
    # pool made the d x d Gram products of a Gowalla half-sweep take ~1.8 s instead of ~0.1 s
    with threadpool_limits(1, "blas"):
        return _least_squares(confidence, fixed, regularization, solver, initial, cg_steps, block_size,
                              n_threads)


def _least_squares(confidence: sp.sparray | sp.spmatrix | list, fixed: NDArray[np.float32],
                   regularization: float, solver: str, initial: NDArray[np.float32] | None,
                   cg_steps: int, block_size: int, n_threads: int) -> tuple[NDArray[np.float32], float]:
    fixed = np.ascontiguousarray(fixed, np.float32)
    d = fixed.shape[1]
    if isinstance(confidence, list):
        if initial is None:
            raise ValueError("initial is required when confidence is given as padded blocks")
        blocks, n = confidence, len(initial)
    else:
        conf = sp.csr_array(confidence, dtype=np.float32)
        conf.sort_indices()
        n = conf.shape[0]
        if solver == "cholesky":
            blocks = padded_blocks(conf, max(1, _GATHER_BUDGET // d), max(1, _GRAM_BUDGET // (d * d)))
        else:
            blocks = padded_blocks(conf, block_size)
    if solver == "cholesky":
        gram64 = fixed.astype(np.float64).T @ fixed.astype(np.float64) + regularization * np.eye(d)
        out = np.empty((n, d), np.float32)

        def exact(slot: int, block: tuple[NDArray, NDArray, NDArray]) -> None:
            out[block[0]] = _exact_block(block, fixed, gram64)

        _map(exact, blocks, n_threads)
        return out, math.nan
    x = np.zeros((n, d), np.float32) if initial is None else initial
    fixed_gram = fixed.T @ fixed  # float32 BLAS: a float64 copy took ~1 s per Gowalla half-sweep
    gram = fixed_gram + np.float32(regularization) * np.eye(d, dtype=np.float32)
    longest = max((blk[1].size for blk in blocks), default=1)
    buffers = [np.empty((longest, d), np.float32) for _ in range(max(1, n_threads))]

    def cg(slot: int, block: tuple[NDArray, NDArray, NDArray]) -> float:
        return _cg_block(block, fixed, gram, x, cg_steps, buffers[slot])

    parts = _map(cg, blocks, n_threads)
    unweighted = float(np.sum((x.T @ x) * fixed_gram, dtype=np.float64))  # sum_u x_u F^T F x_u
    return x, unweighted + float(sum(parts))


def _map(fn: Callable[[int, Any], Any], blocks: list, n_threads: int) -> list:
    """``fn(slot, block)`` over ``blocks`` on ``n_threads`` workers, results in block order.

    Block ``j`` runs in slot ``j % n_threads`` (the slot owns a scratch buffer), and a
    slot's blocks run in sequence; results are independent of ``n_threads``.
    """
    n_threads = max(1, min(n_threads, len(blocks)))
    if n_threads == 1:
        return [fn(0, b) for b in blocks]

    def lane(slot: int) -> list:
        return [fn(slot, b) for b in blocks[slot::n_threads]]

    with ThreadPoolExecutor(n_threads) as pool:
        lanes = list(pool.map(lane, range(n_threads)))
    out: list = [None] * len(blocks)
    for slot, results in enumerate(lanes):
        out[slot::n_threads] = results
    return out


class ALS(EmbeddingRecommender):
    """Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008).

    Parameters
    ----------
    embedding_dim : int or "auto", default "auto"
        Factors per user and item. "auto" is 64, or ``min(n_users, n_items)`` on
        smaller data (more factors than that add nothing; logged); the number used
        is ``embedding_dim_``.
    alpha : float, default 40.0
        Confidence slope: ``c = 1 + alpha * s(r)`` (40 is the paper's value).
    regularization : float, default 0.1
        L2 weight ``lambda`` of every factor row (not scaled by degree).
    scaling : {"linear", "log"}, default "linear"
        ``s(r) = r`` or ``log(1 + r / epsilon)``; weights are the training
        interactions' counts or ratings (1 without weights).
    epsilon : float, default 1.0
        Of the log scaling.
    iterations : int, default 15
        Full sweeps (items, then users).
    solver : {"cg", "cholesky"}, default "cg"
        ``cg_steps`` warm-started conjugate-gradient steps per sweep, or exact solves.
    cg_steps : int, default 3
    block_size : int, default 8192
        Padded interactions per block of the CG sweeps (scratch memory
        ``n_threads * block_size * embedding_dim`` float32, 8 MB at 128 factors).
    n_threads : int or None, default None
        Blocks solved at once (None: the CPUs this process may use).
    init_scale : float, default 0.01
        Initial factors are uniform in ``[0, init_scale)`` (as ``implicit`` starts).
    eval_every : int, default 1
        With ``fit(train, valid)``: iterations between validations (Recall@20).
    patience : int or None, default None
        Stop after this many validations without improvement (None: run all iterations).
        The best validated factors are restored either way.
    time_budget : float or None, default None
        Wall-clock seconds; training stops after the iteration that exceeds it.
    similarity : {"dot", "cosine"} or None, default None (dot)
    random_state : int or None, default 0
        Seeds the initial factors (None: fresh ones each fit).
    verbose : bool, default False
        Show a tqdm progress bar.

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
    embedding_dim_ : int
        The number of factors used (``embedding_dim``, or what "auto" chose).
    history_ : list of dict
        Per iteration: ``epoch``, ``loss`` (weighted squared error plus L2, per
        interaction; CG only), ``seconds``, ``elapsed`` and ``metrics`` when validated.
    loss_history_ : list of float
    best_epoch_ : int or None
        Iteration whose factors were restored (None without validation).
    stopped_ : str
        "epochs", "time_budget" or "early_stopping".

    Raises
    ------
    ValueError
        (at ``fit``) a hyperparameter out of range, named in the message.
    TrainingError
        The factors became non-finite.

    Examples
    --------
    >>> import graphrec as gr
    >>> ds = gr.datasets.synthetic(n_users=40, n_items=20, n_communities=2, random_state=0)
    >>> m = ALS(embedding_dim=8, iterations=5, random_state=0).fit(ds.train)
    >>> m.user_embeddings_.shape, m.item_embeddings_.shape
    ((40, 8), (20, 8))
    >>> bool(abs(m.fold_in(ds.train.to_csr()[[0]]) - m.user_embeddings_[0]).max() < 0.05)
    True
    """

    #: "auto" fold-in is the exact ALS solve against the item factors
    fold_in_default: ClassVar[str] = "als"

    def __init__(
        self,
        *,
        embedding_dim: int | str = "auto",
        alpha: float = 40.0,
        regularization: float = 0.1,
        scaling: str = "linear",
        epsilon: float = 1.0,
        iterations: int = 15,
        solver: str = "cg",
        cg_steps: int = 3,
        block_size: int = 8192,
        n_threads: int | None = None,
        init_scale: float = 0.01,
        eval_every: int = 1,
        patience: int | None = None,
        time_budget: float | None = None,
        similarity: str | None = None,
        random_state: int | None = 0,
        verbose: bool = False,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.alpha = alpha
        self.regularization = regularization
        self.scaling = scaling
        self.epsilon = epsilon
        self.iterations = iterations
        self.solver = solver
        self.cg_steps = cg_steps
        self.block_size = block_size
        self.n_threads = n_threads
        self.init_scale = init_scale
        self.eval_every = eval_every
        self.patience = patience
        self.time_budget = time_budget
        self.similarity = similarity
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.embedding_dim != "auto":
            check_positive_int(self.embedding_dim, "embedding_dim")
        check_positive_float(self.alpha, "alpha", allow_zero=True)
        check_positive_float(self.regularization, "regularization")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {self.scaling!r}")
        check_positive_float(self.epsilon, "epsilon")
        check_positive_int(self.iterations, "iterations")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        check_positive_int(self.cg_steps, "cg_steps")
        check_positive_int(self.block_size, "block_size")
        if self.n_threads is not None:
            check_positive_int(self.n_threads, "n_threads")
        check_positive_float(self.init_scale, "init_scale")
        check_positive_int(self.eval_every, "eval_every")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        if self.time_budget is not None:
            check_positive_float(self.time_budget, "time_budget")
        if self.similarity not in (None, "dot", "cosine"):
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {self.similarity!r}")

    # ------------------------------------------------------------------ fitting
    def _confidence(self, weights: sp.sparray | sp.spmatrix) -> sp.csr_array:
        return confidence_matrix(weights, alpha=float(self.alpha), scaling=self.scaling,
                                 epsilon=float(self.epsilon))

    def _threads(self) -> int:
        if self.n_threads is not None:
            return int(self.n_threads)
        try:
            import os

            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not on Linux
            return 1

    def _half_sweep(self, conf: sp.csr_array | list, fixed: NDArray[np.float32],
                    current: NDArray[np.float32]) -> tuple[NDArray[np.float32], float]:
        return least_squares(
            conf, fixed, regularization=float(self.regularization), solver=self.solver,
            initial=current, cg_steps=int(self.cg_steps), block_size=int(self.block_size),
            n_threads=self._threads(),
        )

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        from graphrec.evaluation import evaluate

        start = time.perf_counter()
        cu = self._confidence(self.seen_)
        ci = sp.csr_array(cu.T)
        ci.sort_indices()
        if self.solver == "cg":  # the padded blocks, built once for all sweeps
            user_side: sp.csr_array | list = padded_blocks(cu, int(self.block_size))
            item_side: sp.csr_array | list = padded_blocks(ci, int(self.block_size))
        else:
            user_side, item_side = cu, ci
        rng = numpy_rng(self.random_state)
        self.embedding_dim_ = d = auto_dim(self.embedding_dim, min(train.n_users, train.n_items), "ALS",
                                           strict=False, log=logger)
        scale = float(self.init_scale)
        x = rng.random((train.n_users, d), dtype=np.float32) * np.float32(scale)
        y = rng.random((train.n_items, d), dtype=np.float32) * np.float32(scale)
        history: list[dict[str, Any]] = []
        best: tuple[float, int, NDArray[np.float32], NDArray[np.float32], dict[str, float]] | None = None
        waited, stopped = 0, "epochs"
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(self.iterations), desc="ALS", unit="iteration")
        try:
            for it in range(1, int(self.iterations) + 1):
                t0 = time.perf_counter()
                y, _ = self._half_sweep(item_side, x, y)
                x, loss = self._half_sweep(user_side, y, x)
                if not (np.isfinite(x).all() and np.isfinite(y).all()):
                    raise TrainingError("ALS factors became non-finite; raise regularization")
                reg = float(self.regularization) * (float(np.sum(x * x)) + float(np.sum(y * y)))
                now = time.perf_counter()
                record: dict[str, Any] = {
                    "epoch": it, "loss": (loss + reg) / max(cu.nnz, 1),
                    "seconds": round(now - t0, 4), "elapsed": round(now - start, 4),
                }
                out_of_time = self.time_budget is not None and now - start >= float(self.time_budget)
                last = it == int(self.iterations) or out_of_time
                self.user_embeddings_, self.item_embeddings_ = x, y
                if valid is not None and (it % int(self.eval_every) == 0 or last):
                    res = evaluate(self, valid, k=(20,))
                    metrics = {k: float(v) for k, v in res.items() if "@" in k}
                    record["metrics"] = metrics
                    if best is None or metrics["recall@20"] > best[0]:
                        best, waited = (metrics["recall@20"], it, x.copy(), y.copy(), metrics), 0
                    else:
                        waited += 1
                history.append(record)
                if bar is not None:
                    bar.update(1)
                    shown = {"recall@20": f"{record['metrics']['recall@20']:.4f}"} if "metrics" in record else {}
                    bar.set_postfix(loss=f"{record['loss']:.4f}", **shown)
                logger.debug("iteration %s", record)
                if out_of_time:
                    stopped = "time_budget"
                    break
                if self.patience is not None and waited >= int(self.patience):
                    stopped = "early_stopping"
                    break
        finally:
            if bar is not None:
                bar.close()
        if best is not None:
            x, y = best[2], best[3]
        self.user_embeddings_ = np.ascontiguousarray(x, np.float32)
        self.item_embeddings_ = np.ascontiguousarray(y, np.float32)
        self.history_ = history
        self.loss_history_ = [h["loss"] for h in history]
        self.best_epoch_ = None if best is None else best[1]
        self.stopped_ = stopped

    # ------------------------------------------------------------------ cold start
    def fold_in(
        self,
        rows: sp.sparray | sp.spmatrix,
        *,
        method: str = "auto",
        alpha: float = 10.0,
        regularization: float = 1.0,
    ) -> NDArray[np.float32]:
        """Factors of new users from their items: the exact ALS solve against the item factors.

        ``method="auto"`` solves ``(Y^T C_u Y + regularization I) x = Y^T C_u p_u`` with
        the model's own ``alpha``, ``scaling`` and ``regularization`` (the ``alpha`` and
        ``regularization`` arguments are then checked but unused); for a training user's
        row this is what the last user sweep computes (exactly with
        ``solver="cholesky"``). Other methods are the base class's
        (:func:`graphrec.coldstart.fold_in_vectors`).

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)
            The new users' items, with counts or ratings as values (>= 0).
        method : {"auto", "propagation", "ridge", "mean"}, default "auto"
        alpha, regularization : float
            Of the "ridge" method only.

        Returns
        -------
        ndarray of float32, shape (n_new_users, embedding_dim)

        Raises
        ------
        ValueError
            Bad ``rows``, ``method``, ``alpha`` or ``regularization``.

        Examples
        --------
        >>> import graphrec as gr
        >>> ds = gr.datasets.synthetic(n_users=30, n_items=20, random_state=0)
        >>> m = ALS(embedding_dim=4, iterations=3, solver="cholesky", random_state=0).fit(ds.train)
        >>> bool(abs(m.fold_in(ds.train.to_csr()[[3]]) - m.user_embeddings_[3]).max() < 1e-4)
        True
        """
        from graphrec.coldstart import check_fold_in_params

        check_is_fitted(self)
        method, _, _ = check_fold_in_params(method, alpha, regularization)
        if method != "auto":
            return super().fold_in(rows, method=method, alpha=alpha, regularization=regularization)
        return self._exact(self._new_user_rows(rows), self.item_embeddings_)

    def fold_in_items(self, columns: sp.sparray | sp.spmatrix) -> NDArray[np.float32]:
        """Factors of new items from the training users who interacted with them (exact ALS solve).

        Parameters
        ----------
        columns : sparse matrix, shape (n_new_items, n_users)
            Each new item's users, with counts or ratings as values (>= 0).

        Returns
        -------
        ndarray of float32, shape (n_new_items, embedding_dim)
            Score them for user ``u`` with ``user_embeddings_[u] @ vectors.T``.

        Raises
        ------
        TypeError
            ``columns`` is not a scipy sparse matrix.
        ValueError
            Wrong number of columns, or negative or non-finite weights.

        Examples
        --------
        >>> import graphrec as gr
        >>> ds = gr.datasets.synthetic(n_users=30, n_items=20, random_state=0)
        >>> m = ALS(embedding_dim=4, iterations=3, random_state=0).fit(ds.train)
        >>> m.fold_in_items(ds.train.to_csr().T[[0, 1]]).shape
        (2, 4)
        """
        check_is_fitted(self)
        if not sp.issparse(columns):
            raise TypeError(f"columns must be a scipy sparse matrix (n_new_items, n_users), got {type(columns).__name__}")
        cols = sp.csr_array(columns)
        if cols.ndim != 2 or cols.shape[1] != self.n_users_:
            raise ValueError(f"columns must have {self.n_users_} columns (n_users), got shape {cols.shape}")
        if not np.isfinite(cols.data).all() or (cols.data < 0).any():
            raise ValueError("columns must hold finite weights >= 0")
        return self._exact(cols, self.user_embeddings_)

    def _exact(self, weights: sp.csr_array, fixed: NDArray[np.float32]) -> NDArray[np.float32]:
        return least_squares(self._confidence(weights), fixed, regularization=float(self.regularization),
                             solver="cholesky", n_threads=1)[0]
