"""Ensemble: fitted recommenders combined by score or rank fusion, weights chosen on validation.

A user's fused score of item ``i`` is a weighted sum over the members ``m``,

    s(u, i) = sum_m w_m * t_m(u, i),    w_m >= 0, sum_m w_m = 1,

where ``t_m`` is member ``m``'s score transformed by the ``fusion`` rule:

* ``"zscore"`` (default): the member's scores standardised per user over the items
  the user has not interacted with, ``(s_m(u, i) - mu_m(u)) / sigma_m(u)``; members
  on different scales (a graph filter's propagated counts, a dot product of trained
  embeddings) then weigh what their weights say;
* ``"raw"``: the member's scores as they are (for members on one scale);
* ``"rrf"``: reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009),
  ``1 / (rrf_k + rank_m(u, i))`` for the member's top ``rrf_depth`` unseen items
  and 0 below them.

The weights are chosen on validation interactions, never on test: every point of
the simplex grid with step ``grid_step`` (11 points for two members at 0.1, 66
for three) is scored by the validation metric in one pass over user blocks (each
member scores a block once; each candidate re-weights it), and the best point
wins (ties go to the first in the grid's order). With ``fit(train)`` the
validation part is carved from ``train`` (``valid_size`` of each user's rows);
the members are fitted on the rest, the weights chosen, and the members refitted
on all of ``train`` (``refit``). With ``fit(train, valid)`` the members are fitted
on ``train`` with ``valid`` (for their early stopping, as each would be fitted
alone: models without it ignore ``valid``) and the weights chosen on ``valid``,
which must not overlap ``train``. ``prefit=True`` takes members already fitted (on data that must not
overlap ``valid``).

Scoring is blocked: each member scores one block of users at a time, so memory
is ``O(n_members * batch * n_items)``, never ``n_users x n_items``.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.metrics import RANKING_METRICS
from graphrec.models.base import Recommender
from graphrec.persistence import ModelState, decode_attributes, encode_state
from graphrec.retrieval import _row_top_k, mask_rows_, top_k
from graphrec.utils import check_positive_float, check_positive_int

__all__ = ["FUSIONS", "Ensemble", "simplex_grid"]

logger = logging.getLogger(__name__)

#: fusion rules understood by :class:`Ensemble`
FUSIONS = ("zscore", "raw", "rrf")

#: most weight vectors one selection scores (``grid_step`` too small for the member count beyond it)
MAX_CANDIDATES = 1000


def simplex_grid(n_members: int, step: float) -> NDArray[np.float64]:
    """Every weight vector of ``n_members`` non-negative multiples of ``step`` summing to 1.

    Parameters
    ----------
    n_members : int
    step : float
        ``1 / step`` must be (close to) an integer.

    Returns
    -------
    ndarray of float64, shape (n_candidates, n_members)
        In lexicographic order of the first member's weight, descending.

    Raises
    ------
    ValueError
        ``step`` not in (0, 1] or ``1 / step`` not an integer.

    Examples
    --------
    >>> simplex_grid(2, 0.5).tolist()
    [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    """
    n_members = check_positive_int(n_members, "n_members")
    step = check_positive_float(step, "grid_step")
    n = round(1.0 / step)
    if step > 1 or abs(n * step - 1.0) > 1e-6:
        raise ValueError(f"grid_step must divide 1 (0.5, 0.25, 0.1, ...), got {step!r}")
    # compositions of n into n_members parts (stars and bars); a Python loop over a few
    # hundred candidates, not over users or items
    rows = []
    for bars in itertools.combinations(range(n + n_members - 1), n_members - 1):
        edges = (-1, *bars, n + n_members - 1)
        rows.append([edges[j + 1] - edges[j] - 1 for j in range(n_members)])
    grid = np.asarray(rows, dtype=np.float64).reshape(-1, n_members) / n
    order = np.lexsort(tuple(-grid[:, j] for j in reversed(range(n_members))))
    return grid[order]


class Ensemble(Recommender):
    """Score or rank fusion of recommenders, with weights fitted on validation data.

    Parameters
    ----------
    models : sequence of Recommender or str
        The members: unfitted estimators (cloned and fitted by :meth:`fit`) or
        registry names (``"graphfilter"``: the class with its defaults, so that
        ``graphrec train ensemble --param 'models=["graphfilter", "puresvd"]'``
        works), or fitted models with ``prefit=True``.
    weights : sequence of float, optional
        Fixed member weights (>= 0, not all 0; normalised to sum 1). None chooses
        them on validation data (see the module docstring).
    fusion : {"zscore", "raw", "rrf"}, default "zscore"
        How member scores are combined (module docstring).
    prefit : bool, default False
        Use the members as fitted, without refitting them.
    refit : bool, default True
        After choosing weights on a validation part carved from ``train``, refit the
        members on all of ``train`` (False keeps the members fitted without it).
    valid_size : float, default 0.1
        Share of each user's training rows carved for validation by ``fit(train)``.
    grid_step : float, default 0.1
        Spacing of the simplex grid of candidate weights.
    metric : str, default "recall@20"
        Validation metric maximised: ``name@k`` with a name of
        ``graphrec.metrics.RANKING_METRICS``.
    max_valid_users : int, optional
        Score at most this many validation users (a seeded random subset), to
        bound the selection's cost.
    rrf_k : float, default 60
        The constant of reciprocal rank fusion (Cormack et al. use 60).
    rrf_depth : int, default 100
        Ranks per member entering reciprocal rank fusion.
    random_state : int, optional
        Seeds the validation carve and the subset of validation users; a member
        whose own ``random_state`` is None gets ``random_state + j`` (its position
        ``j``), so equal seeds give equal ensembles.
    batch_size : int, default 1024
        Users scored per block.
    verbose : bool, default False
        Log the stages of the fit.

    Attributes
    ----------
    models_ : list of Recommender
        The fitted members.
    weights_ : ndarray of float64, shape (n_members,)
        Member weights, summing to 1.
    selection_ : dict or None
        The weight search: ``candidates`` (list of weight lists), ``scores`` (the
        validation metric of each), ``metric``, ``n_users``, ``seconds``; None
        when ``weights`` were given.
    fit_time_ : float
        Seconds spent in :meth:`fit`.

    Raises
    ------
    TypeError
        (at ``fit``) a member that is not a Recommender (nor a registry name).
    ValueError
        (at ``fit``) no members, an unknown member name, bad
        ``weights``, ``fusion``, ``grid_step``, ``metric``, ``valid_size``,
        ``rrf_k`` or ``rrf_depth``; ``prefit=True`` with an unfitted member or one on
        other users/items, or without ``valid`` when weights are to be chosen;
        ``valid`` overlapping the members' training data.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0], n_users=3, n_items=4)
    >>> ens = gr.Ensemble([gr.Popularity(), gr.GraphFilter(n_components=1)], weights=[0.5, 0.5]).fit(x)
    >>> ens.weights_.tolist()
    [0.5, 0.5]
    >>> ens.recommend([0], k=2)[0].shape
    (1, 2)
    """

    def __init__(
        self,
        models: Sequence[Recommender | str] = (),
        *,
        weights: Sequence[float] | None = None,
        fusion: str = "zscore",
        prefit: bool = False,
        refit: bool = True,
        valid_size: float = 0.1,
        grid_step: float = 0.1,
        metric: str = "recall@20",
        max_valid_users: int | None = None,
        rrf_k: float = 60.0,
        rrf_depth: int = 100,
        random_state: int | None = None,
        batch_size: int = 1024,
        verbose: bool = False,
    ) -> None:
        self.models = models
        self.weights = weights
        self.fusion = fusion
        self.prefit = prefit
        self.refit = refit
        self.valid_size = valid_size
        self.grid_step = grid_step
        self.metric = metric
        self.max_valid_users = max_valid_users
        self.rrf_k = rrf_k
        self.rrf_depth = rrf_depth
        self.random_state = random_state
        self.batch_size = batch_size
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _members(self) -> list[Recommender]:
        """The members as estimators (registry names become default instances)."""
        from graphrec.models import get_model_class

        models = [self.models] if isinstance(self.models, str) else list(self.models or ())
        if not models:
            raise ValueError("models must hold at least one Recommender (or registry name), got none")
        out = []
        for j, m in enumerate(models):
            if isinstance(m, str) and not self.prefit:
                try:
                    m = get_model_class(m)()
                except KeyError as exc:
                    raise ValueError(f"models[{j}]: {exc.args[0]}") from exc
            if not isinstance(m, Recommender):
                raise TypeError(
                    f"models[{j}] must be a graphrec Recommender"
                    f"{' (fitted, with prefit=True)' if self.prefit else ' or a registry name'}, got {m!r}"
                )
            out.append(m)
        return out

    def _check_params(self) -> None:
        models = self._members()
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.weights is not None:
            self._normalised_weights(self.weights, len(models))
        else:
            grid = simplex_grid(len(models), self.grid_step)
            if len(grid) > MAX_CANDIDATES:
                raise ValueError(
                    f"grid_step={self.grid_step!r} gives {len(grid)} weight vectors for {len(models)} members "
                    f"(at most {MAX_CANDIDATES}); use a coarser grid_step"
                )
        self._metric()
        v = check_positive_float(self.valid_size, "valid_size")
        if not v < 1:
            raise ValueError(f"valid_size must be in (0, 1), got {self.valid_size!r}")
        if self.max_valid_users is not None:
            check_positive_int(self.max_valid_users, "max_valid_users")
        check_positive_float(self.rrf_k, "rrf_k", allow_zero=True)
        check_positive_int(self.rrf_depth, "rrf_depth")
        check_positive_int(self.batch_size, "batch_size")

    @staticmethod
    def _normalised_weights(weights: Sequence[float], n: int) -> NDArray[np.float64]:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if len(w) != n or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"weights must be {n} finite numbers >= 0, not all 0 (one per member), got {weights!r}"
            )
        return w / w.sum()

    def _metric(self) -> tuple[str, int]:
        name, _, k = str(self.metric).partition("@")
        if name not in RANKING_METRICS or not k.isdigit() or int(k) < 1:
            raise ValueError(f"metric must be 'name@k' with name in {RANKING_METRICS}, got {self.metric!r}")
        return name, int(k)

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        start = time.perf_counter()
        members = self._members()
        choose = self.weights is None and len(members) > 1
        if self.prefit:
            for j, m in enumerate(members):
                try:
                    check_is_fitted(m)
                except Exception as exc:
                    raise ValueError(f"prefit=True but models[{j}] ({type(m).__name__}) is not fitted") from exc
                if m.n_users_ != train.n_users or m.n_items_ != train.n_items:
                    raise ValueError(
                        f"models[{j}] was fitted on {m.n_users_} users x {m.n_items_} items, "
                        f"train has {train.n_users} x {train.n_items}"
                    )
            if choose and (valid is None or valid.nnz == 0):
                raise ValueError("prefit=True needs fit(train, valid) to choose weights (or give weights=)")
            self.models_ = members
            if choose:
                assert valid is not None  # checked above; for mypy
                for m in members:
                    _check_disjoint(m.seen_, valid)
                self._select(valid)
        elif not choose:
            given = valid if valid is not None and valid.nnz > 0 else None
            self.models_ = [self._fit_member(m, train, j, given) for j, m in enumerate(members)]
        elif valid is not None and valid.nnz > 0:
            _check_disjoint(self.seen_, valid)
            self.models_ = [self._fit_member(m, train, j, valid) for j, m in enumerate(members)]
            self._select(valid)
        else:
            from graphrec.data.splits import validation_split

            carve = validation_split(train, self.valid_size, random_state=self.random_state)
            assert carve.valid is not None  # validation_split always fills it; for mypy
            self._log("validation carve: %d train rows, %d valid rows", start, carve.train.nnz, carve.valid.nnz)
            self.models_ = [self._fit_member(m, carve.train, j) for j, m in enumerate(members)]
            seen = self.seen_
            self.seen_ = carve.train.to_csr()  # selection masks what the members were fitted on
            try:
                self._select(carve.valid)
            finally:
                self.seen_ = seen
            if self.refit:
                self.models_ = [self._fit_member(m, train, j) for j, m in enumerate(members)]
        if not choose:
            w = [1.0] if self.weights is None else self.weights
            self.weights_ = self._normalised_weights(w, len(members))
            self.selection_: dict[str, Any] | None = None
        self.fit_time_ = time.perf_counter() - start
        self._log("fitted; weights %s", start, np.round(self.weights_, 4).tolist())

    def _fit_member(self, model: Recommender, train: Interactions, j: int,
                    valid: Interactions | None = None) -> Recommender:
        """Clone and fit member ``j`` on ``train``, with ``valid`` for its early stopping
        (models that do not stop early ignore it), as the model alone would be fitted."""
        t = time.perf_counter()
        member = clone(model)
        params = member.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None and self.random_state is not None:
            member.set_params(random_state=int(self.random_state) + j)  # reproducible, as sklearn's ensembles
        fitted = member.fit(train, valid)
        self._log("member %d (%s) fitted", t, j, type(model).__name__)
        return fitted

    def _select(self, valid: Interactions) -> None:
        """Score every candidate weight vector on ``valid``; keep the best in ``weights_``."""
        from graphrec.evaluation import evaluate_rankings

        start = time.perf_counter()
        name, k = self._metric()
        relevant = valid.to_csr()
        users = np.flatnonzero(np.diff(relevant.indptr) > 0)
        if self.max_valid_users is not None and len(users) > self.max_valid_users:
            rng = np.random.default_rng(self.random_state)
            users = np.sort(rng.choice(users, int(self.max_valid_users), replace=False))
        if len(users) == 0:
            raise ValueError("valid has no interactions of any user: cannot choose weights")
        grid = simplex_grid(len(self.models_), self.grid_step)
        ranked = np.empty((len(grid), len(users), k), np.int64)
        for s, batch, parts in self._member_parts(users, np.ones(len(self.models_), bool)):
            stop = s + len(batch)
            fused = torch.empty_like(parts[0])
            for c, w in enumerate(grid):
                _combine(fused, parts, w)
                ranked[c, s:stop] = top_k(fused, k, exclude=self.seen_, rows=batch)[0]
        scores = [float(evaluate_rankings(r, relevant[users], k)[f"{name}@{k}"]) for r in ranked]
        best = int(np.argmax(scores))  # first of the ties
        self.weights_ = grid[best].copy()
        self.selection_ = {  # type: ignore[assignment]  # declared in _fit
            "candidates": grid.tolist(),
            "scores": scores,
            "metric": f"{name}@{k}",
            "n_users": len(users),
            "seconds": time.perf_counter() - start,
        }
        self._log("weights chosen on %d validation users", start, len(users))

    def _log(self, message: str, start: float, *args: object) -> None:
        if self.verbose:
            logger.info(message + " after %.1f s", *args, time.perf_counter() - start)

    # ------------------------------------------------------------------ scoring
    def _member_parts(
        self, users: NDArray[np.int64], active: NDArray[np.bool_], batch_size: int | None = None
    ) -> Iterator[tuple[int, NDArray[np.int64], list[torch.Tensor]]]:
        """Per block of users: each active member's transformed scores (see ``fusion``).

        Members score the same blocks in step (their ``_score_batches``), so one
        block per member is alive at a time; a block holds ``batch_size`` users, at
        most the ensemble's own ``batch_size``.
        """
        size = int(self.batch_size) if batch_size is None else min(int(batch_size), int(self.batch_size))
        members = [m for m, a in zip(self.models_, active, strict=True) if a]
        gens = [m._score_batches(users, None, size) for m in members]
        for blocks in zip(*gens, strict=True):
            start, batch = blocks[0][0], blocks[0][1]
            device = blocks[0][2].device
            parts = [self._transform(b[2].to(device), batch) for b in blocks]
            yield start, batch, parts

    def _transform(self, scores: torch.Tensor, batch: NDArray[np.int64]) -> torch.Tensor:
        """One member's block of scores under the fusion rule (a new float32 tensor)."""
        s = scores.float().clone()
        if self.fusion == "raw":
            return s
        if self.fusion == "zscore":
            return _standardise_unseen_(s, self.seen_, batch)
        depth = min(int(self.rrf_depth), s.shape[1])
        mask_rows_(s, self.seen_, batch)
        vals, idx = _row_top_k(s, depth)
        contrib = 1.0 / (float(self.rrf_k) + torch.arange(1, depth + 1, dtype=torch.float32, device=s.device))
        out = torch.zeros_like(s)
        out.scatter_(1, idx, torch.where(torch.isfinite(vals), contrib.expand_as(vals), 0.0))
        return out

    def _score_batches(
        self, users: NDArray[np.int64], similarity: str | None, batch_size: int
    ) -> Iterator[tuple[int, NDArray[np.int64], torch.Tensor]]:
        if similarity not in (None, "dot"):
            raise ValueError(f"Ensemble scores are fused member scores; similarity must be None, got {similarity!r}")
        active = self.weights_ > 0
        w = self.weights_[active]
        for start, batch, parts in self._member_parts(users, active, batch_size):
            fused = torch.empty_like(parts[0])
            yield start, batch, _combine(fused, parts, w)

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        blocks = [s.clone() for _, _, s in self._score_batches(users, similarity, int(self.batch_size))]
        if not blocks:
            return torch.zeros((0, self.n_items_), dtype=torch.float32)
        return torch.cat(blocks)

    def score_new_users(self, rows: sp.sparray | sp.spmatrix, **fold_in_params: Any) -> np.ndarray:
        """Fused scores of new users from their items: each member's :meth:`score_new_users`, fused.

        Standardisation and rank fusion run over the items not in ``rows``.

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)
        **fold_in_params
            Passed to each member.

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_items)
        """
        check_is_fitted(self)
        rows = self._new_user_rows(rows)
        active = self.weights_ > 0
        own = np.arange(rows.shape[0], dtype=np.int64)
        seen = self.seen_
        self.seen_ = rows  # the transforms mask each row's own items
        try:
            parts = [
                self._transform(torch.from_numpy(np.asarray(m.score_new_users(rows, **fold_in_params))), own)
                for m, a in zip(self.models_, active, strict=True) if a
            ]
        finally:
            self.seen_ = seen
        return _combine(torch.empty_like(parts[0]), parts, self.weights_[active]).numpy()

    def fold_in(self, rows: sp.sparray | sp.spmatrix, **kwargs: Any) -> NDArray[np.float32]:
        """Not available: an ensemble has no single embedding space (use :meth:`score_new_users`).

        Raises
        ------
        ValueError
            Always.
        """
        raise ValueError("Ensemble has no user vectors to fold in; use score_new_users(rows)")

    # ------------------------------------------------------------------ persistence
    def _to_state(self) -> ModelState:
        params = self.get_params(deep=False)
        params.pop("models")
        if params["weights"] is not None:
            params["weights"] = [float(w) for w in params["weights"]]
        fitted = {
            k: v for k, v in vars(self).items()
            if k.endswith("_") and not k.startswith("_") and k != "models_"
        }
        state = encode_state(type(self).__name__, params, fitted)
        state.children = {f"member{j}": m._to_state() for j, m in enumerate(self.models_)}
        return state

    @classmethod
    def _from_state(cls, state: ModelState) -> Ensemble:
        from graphrec.models import MODELS

        members = []
        for key, child in state.children.items():
            member_cls = MODELS.get(child.class_name)
            if member_cls is None:
                raise ValueError(f"member {key} is a {child.class_name!r}, unknown to this graphrec")
            members.append(member_cls._from_state(child))
        if not members:
            raise ValueError("the ensemble directory holds no members")
        model = cls(models=members, **state.params)
        for name, value in decode_attributes(state).items():
            setattr(model, name, value)
        model.weights_ = np.asarray(model.weights_, dtype=np.float64)
        model.models_ = members
        if len(model.weights_) != len(members):
            raise ValueError(f"{len(model.weights_)} weights for {len(members)} members")
        return model


def _combine(out: torch.Tensor, parts: list[torch.Tensor], weights: NDArray[np.float64]) -> torch.Tensor:
    """``out = sum_m weights[m] * parts[m]`` in place (zero weights skipped)."""
    out.zero_()
    for p, w in zip(parts, weights, strict=True):
        if w:
            out.add_(p, alpha=float(w))
    return out


def _standardise_unseen_(s: torch.Tensor, seen: sp.csr_array, rows: NDArray[np.int64]) -> torch.Tensor:
    """Standardise each row of ``s`` in place by the mean and deviation of its unseen items.

    The seen items' scores (a filter reconstructs them strongly) would otherwise set
    the scale. Sums run in float64; the seen entries are gathered from the CSR rows
    and subtracted, never densified.
    """
    n, n_items = s.shape
    total = s.sum(1, dtype=torch.float64)
    total_sq = s.square().sum(1, dtype=torch.float64)
    starts, ends = seen.indptr[rows], seen.indptr[rows + 1]
    counts = (ends - starts).astype(np.int64)
    n_total = int(counts.sum())
    if n_total:
        row_ids = np.repeat(np.arange(n), counts)
        offsets = np.arange(n_total) - np.repeat(np.cumsum(counts) - counts, counts)
        cols = seen.indices[np.repeat(starts, counts) + offsets].astype(np.int64)
        r = torch.from_numpy(row_ids).to(s.device)
        vals = s[r, torch.from_numpy(cols).to(s.device)].double()
        total = total.index_add(0, r, -vals)
        total_sq = total_sq.index_add(0, r, -vals.square())
    m = torch.from_numpy(np.maximum(n_items - counts, 1)).to(s.device, torch.float64)
    mean = total / m
    var = (total_sq / m - mean.square()).clamp_min_(0.0)
    std = var.sqrt()
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return s.sub_(mean.float()[:, None]).div_(std.float()[:, None])


def _check_disjoint(train: sp.csr_array, valid: Interactions) -> None:
    """Raise when ``valid`` shares (user, item) pairs with the training matrix ``train``."""
    overlap = sp.csr_array(train).multiply(valid.to_csr()).nnz
    if overlap:
        raise ValueError(
            f"valid shares {overlap} (user, item) pairs with the members' training data; weights "
            "chosen on them would reward memorising it (carve valid out of train first)"
        )
