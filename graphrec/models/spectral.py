"""SpectralFilter: training-free polynomial graph filters (ChebyCF, BSPM, Turbo-CF, GF-CF).

One model for the family of filters that score a user's interaction row ``r``
(binary, 1 x n_items) with a polynomial of the item-item matrix

    P = R~^T R~,    R~ = Du^-a R Di^-b    (a = ``user_exponent``, b = ``item_exponent``),

optionally raised element-wise to the power ``s`` (``hadamard_power``), plus the
ideal low-pass term of GF-CF built on the top ``k`` right singular vectors ``V``
of ``R~``. With ``d`` the item degrees, ``beta = degree_exponent``,
``gamma = ideal_exponent``, ``w = ideal_weight`` and ``x = r d^-beta``::

    score(r) = d^beta * ( x F(P) + w (r d^-gamma V V^T d^(gamma - beta)) G(P) )

where ``F`` and ``G`` are polynomials fixed by ``response`` (``G = 1`` except for
BSPM's early merge and its t-point combination):

* ``"chebyshev"`` (ChebyCF; Kim et al., "Graph Spectral Filtering with Chebyshev
  Interpolation for Recommendation", SIGIR 2025; chanwoo0806/ChebyCF,
  src/module.py): ``F(P) = sum_{k=0..K} c_k T_k(L~)`` with ``L~ = I - 2P``,
  ``K = order``. The coefficients are the authors' Chebyshev interpolation of the
  "plateau" ``h(t) = 1/2 + 1/2 |t|^phi`` (t < 0), ``1/2 - 1/2 t^phi`` (t >= 0),
  ``phi = flatness``: ``h`` is sampled at ``t_j = cos((K - j) pi / K)``
  (j = 0..K), both rounded to 3 decimals, and the samples are paired with the
  Chebyshev nodes ``x_j = cos((K + 1/2 - j) pi / (K + 1))`` (j = 0..K) in
  ``c_k = 2/(K+1) sum_j h_j T_k(x_j)``, ``c_0`` halved, as in their code.
  The ideal term uses the same degree normalisation (``gamma = beta``).
* ``"bspm"`` (BSPM; Choi et al., "Blurring-Sharpening Process Models for
  Collaborative Filtering", SIGIR 2023; jeongwhanchoi/BSPM, bspm/model.py):
  blur ``dx/dt = x (P - I)`` over ``[0, blur_time]`` in ``blur_steps`` steps of
  ``blur_solver``; ideal low-pass ``x_idl`` = one Euler step of length 1 of
  ``dx/dt = x (D^-1/2 V V^T D^1/2 - I)``, i.e. GF-CF's ``idl(r)``; sharpen
  ``dx/dt = -x P`` over ``[0, sharpen_time]`` in ``sharpen_steps`` steps of
  ``sharpen_solver``. A step of size ``h`` multiplies by ``I + Z`` (Euler) or by
  ``I + Z + Z^2/2 + Z^3/6 + Z^4/24`` (classic RK4, which every 4-stage 4th-order
  Runge-Kutta scheme, torchdiffeq's 3/8 rule included, reduces to on a linear
  ODE), ``Z = h (P - I)`` or ``-h P``. ``merge="early"`` sharpens
  ``x_blur + w x_idl`` (their ``final_sharpening``); ``"late"`` adds ``w x_idl``
  to the sharpened blur. ``t_point_combination`` averages the states at the
  blur's and the sharpening's time points after 0, as their code does.
* ``"polynomial"``: ``F(P) = sum_j coefficients[j] P^j``. Turbo-CF (Park et al.,
  "Turbo-CF: Matrix Decomposition-Free Graph Filtering for Fast Recommendation",
  SIGIR 2024; jindeok/Turbo-CF, main.py) is ``user_exponent = a``,
  ``item_exponent = 1 - a``, ``hadamard_power = s`` and ``f1 = P`` (0, 1),
  ``f2 = 2P - P^2`` (0, 2, -1) or ``f3 = P + 0.01 (-P^3 + 10 P^2 - 29 P)``
  (0, 0.71, 0.1, -0.01). GF-CF (Shen et al., CIKM 2021) is (0, 1) with the ideal
  term at ``w = 0.3``, ``gamma = 0.5`` (also :class:`graphrec.GraphFilter`).

Scoring is blocked, float32 and memory-bounded: ``P`` is never materialised
densely. Every application of ``P`` to a dense block of user rows runs as
``(Y R~^T) R~`` (two sparse-dense products, torch CSR); the sparse ``P`` (an
item-item matrix with, on Gowalla, 42M non-zeros) is built only when the
element-wise power needs it or, for the first (sparse) application, when its
estimated size fits ``memory_budget``; block sizes are chosen so the dense
buffers fit the budget too. Polynomials are evaluated with the Chebyshev
three-term recurrence in ``2P - I`` (numerically stable; one application of ``P``
per degree).

Examples
--------
>>> import graphrec as gr
>>> x = gr.Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 1, 2, 2], n_users=3, n_items=3)
>>> m = SpectralFilter(n_components=1).fit(x)
>>> m.recommend([0], k=1)[0].tolist()
[[2]]
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.polynomial import Polynomial
from numpy.polynomial import chebyshev as npcheb
from numpy.typing import NDArray

from graphrec.data.interactions import Interactions
from graphrec.graph import to_torch_csr
from graphrec.models.base import Recommender
from graphrec.models.graph_filter import (
    _binary,
    _new_user_pattern,
    _randomized_right_svd,
    choose_n_components,
)
from graphrec.persistence import ModelState
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng

__all__ = ["SpectralFilter", "bspm_polynomials", "ode_step_polynomial", "plateau_coefficients"]

logger = logging.getLogger(__name__)

RESPONSES = ("chebyshev", "bspm", "polynomial")
ODE_SOLVERS = ("euler", "rk4")
MERGES = ("early", "late")
PROPAGATIONS = ("auto", "factored", "sparse")
TAILS = ("exact", "linear", "quadratic")
_TAIL_DEGREE = {"linear": 1, "quadratic": 2}
_GIB = 1 << 30


def plateau_coefficients(order: int, flatness: float) -> NDArray[np.float64]:
    """ChebyCF's Chebyshev coefficients ``c_0..c_K`` of the plateau filter of ``L~ = I - 2P``.

    Reproduces ``ChebyFilter.fit`` of chanwoo0806/ChebyCF (see the module docstring,
    rounding included): K = 8, phi = 1.5 give
    ``[0.5, -0.4927, 0, -0.0323, 0, 0.0211, 0, -0.0011, 0]`` (4 decimals).

    Parameters
    ----------
    order : int
        ``K >= 1``.
    flatness : float
        ``phi > 0``.

    Returns
    -------
    ndarray of float64, shape (order + 1,)

    Examples
    --------
    >>> plateau_coefficients(8, 1.5).round(4).tolist()[:4]
    [0.5, -0.4927, 0.0, -0.0323]
    """
    k = check_positive_int(order, "order")
    phi = check_positive_float(flatness, "flatness")
    j = np.arange(k + 1)
    t = np.round(np.cos((k - j) / k * math.pi), 3)
    target = np.where(t < 0, 0.5 + 0.5 * np.abs(t) ** phi, 0.5 - 0.5 * np.abs(t) ** phi).round(3)
    nodes = np.cos(((k + 1) + 0.5 - (j + 1)) / (k + 1) * math.pi)
    basis = npcheb.chebvander(nodes, k)  # (k+1 nodes, k+1 degrees): T_d(node)
    coeffs = basis.T @ target * (2.0 / (k + 1))
    coeffs[0] /= 2
    return np.asarray(coeffs, dtype=np.float64)


def ode_step_polynomial(solver: str, h: float, slope: float, shift: float) -> Polynomial:
    """One step of size ``h`` of ``dx/dt = x (slope P + shift I)``, as a polynomial in ``P``.

    ``z = h (slope lambda + shift)``; Euler gives ``1 + z``, RK4 (exact for a linear
    ODE up to 4th order) ``1 + z + z^2/2 + z^3/6 + z^4/24``.

    Examples
    --------
    >>> ode_step_polynomial("euler", 1.0, 1.0, -1.0).coef.tolist()   # blur: x (P - I), h = 1
    [0.0, 1.0]
    >>> ode_step_polynomial("rk4", 1.0, -1.0, 0.0).coef.round(4).tolist()   # exp(-P) to 4th order
    [1.0, -1.0, 0.5, -0.1667, 0.0417]
    """
    if solver not in ODE_SOLVERS:
        raise ValueError(f"solver must be one of {ODE_SOLVERS}, got {solver!r}")
    z = Polynomial([h * shift, h * slope])
    if solver == "euler":
        return 1 + z
    return 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24


def bspm_polynomials(
    *,
    blur_time: float,
    blur_steps: int,
    blur_solver: str,
    sharpen_time: float,
    sharpen_steps: int,
    sharpen_solver: str,
    merge: str,
    t_point_combination: bool,
) -> tuple[Polynomial, Polynomial]:
    """BSPM's response as ``(F, G)``: score ``= x F(P) + w x_idl G(P)`` (see the module docstring).

    ``sharpen_steps = 0`` turns sharpening off (their ``sharpening_off``).

    Examples
    --------
    >>> f, g = bspm_polynomials(blur_time=1, blur_steps=1, blur_solver="euler", sharpen_time=1,
    ...                         sharpen_steps=1, sharpen_solver="euler", merge="early",
    ...                         t_point_combination=False)
    >>> f.coef.tolist(), g.coef.tolist()   # F = P (I - P), G = I - P
    ([0.0, 1.0, -1.0], [1.0, -1.0])
    """
    blur_step = ode_step_polynomial(blur_solver, blur_time / blur_steps, 1.0, -1.0)
    blur_states = [blur_step**j for j in range(1, blur_steps + 1)]
    blurred = blur_states[-1]
    one = Polynomial([1.0])
    if sharpen_steps:
        sharpen_step = ode_step_polynomial(sharpen_solver, sharpen_time / sharpen_steps, -1.0, 0.0)
        sharpen_states = [sharpen_step**j for j in range(1, sharpen_steps + 1)]
    else:
        sharpen_states = []
    early = merge == "early" and bool(sharpen_states)
    if t_point_combination:
        n = len(blur_states) + len(sharpen_states)
        f = (sum(blur_states, Polynomial([0.0])) + blurred * sum(sharpen_states, Polynomial([0.0]))) / n
        g = sum(sharpen_states, Polynomial([0.0])) / n if early else one
    else:
        last = sharpen_states[-1] if sharpen_states else one
        f = blurred * last
        g = last if early else one
    return f, g


def _to_chebyshev(p: Polynomial) -> NDArray[np.float64]:
    """Coefficients of ``p(P)`` in the Chebyshev basis of ``M = 2P - I`` (``P = (M + I)/2``)."""
    in_m = p(Polynomial([0.5, 0.5]))
    return np.atleast_1d(npcheb.poly2cheb(in_m.coef)).astype(np.float64)


class SpectralFilter(Recommender):
    """Polynomial spectral filters of the item-item graph (ChebyCF, BSPM, Turbo-CF, GF-CF); no training.

    The formulas, with citations, are in :mod:`graphrec.models.spectral`. The
    defaults are ChebyCF's published Gowalla setting (the number of singular
    vectors shrunk on small data).

    Parameters
    ----------
    response : {"chebyshev", "bspm", "polynomial"}, default "chebyshev"
        The polynomial ``F`` (and ``G``).
    order : int, default 8
        ChebyCF's ``K`` (degree of the Chebyshev filter).
    flatness : float, default 1.5
        ChebyCF's ``phi`` (plateau exponent).
    coefficients : sequence of float, default (0.0, 1.0)
        ``"polynomial"``: ``F(P) = sum_j coefficients[j] P^j`` (Turbo-CF's f1 by default).
    blur_time, blur_steps, blur_solver : float, int, str, default 1.0, 1, "euler"
        BSPM's ``T_b``, ``K_b`` and blur solver (``"euler"`` or ``"rk4"``).
    sharpen_time, sharpen_steps, sharpen_solver : float, int, str, default 2.5, 1, "rk4"
        BSPM's ``T_s``, ``K_s`` (0: no sharpening) and sharpening solver.
    merge : {"early", "late"}, default "early"
        BSPM's merge of the ideal term (early: sharpened with the blur).
    t_point_combination : bool, default False
        BSPM: average the blur and sharpening states after time 0.
    user_exponent, item_exponent : float, default 0.5, 0.5
        ``R~ = Du^-a R Di^-b`` (Turbo-CF: ``a``, ``1 - a``).
    hadamard_power : float, default 1.0
        Turbo-CF's element-wise power ``s`` of ``P``; other than 1 it needs the
        sparse ``P`` in memory.
    degree_exponent : float, default 0.4
        ``beta``: the filter runs on ``r d^-beta`` and its output is multiplied by
        ``d^beta`` (ChebyCF's degree normalisation; 0 for BSPM, Turbo-CF, GF-CF).
    n_components : int or "auto", default "auto"
        Singular vectors ``k`` of the ideal term; "auto" is
        ``min(512, min(n_users, n_items) - 1)`` (logged). 0 drops the term.
    ideal_weight : float, default 0.2
        ``w`` (ChebyCF's alpha, BSPM's beta, GF-CF's 0.3). 0 drops the term.
    ideal_exponent : float or None, default None
        ``gamma``; None uses ``degree_exponent`` (ChebyCF); GF-CF and BSPM use 0.5.
    tail : {"exact", "linear", "quadratic"}, default "exact"
        "exact" applies the polynomial ``F`` by repeated products with ``P`` (one per
        degree). "linear" and "quadratic" approximate it for speed: ``F`` is applied
        exactly on the span of the ``n_components`` singular vectors and as its
        least-squares polynomial ``t`` of degree 1 or 2 through ``F(0)`` on the rest of
        the spectrum (``[0, lambda_k]``, uniform grid):
        ``F(P) ~ t(P) + V (F(Lambda) - t(Lambda)) V^T``, i.e. one (linear) or two
        (quadratic) products with ``P`` and one rank-k product per block (needs
        ``hadamard_power = 1``).
    propagation : {"auto", "factored", "sparse"}, default "auto"
        How ``P`` is applied to the first (sparse) block: "sparse" builds the sparse
        ``P``; "factored" applies ``R~^T (R~ x)``; "auto" builds ``P`` only when
        ``hadamard_power != 1`` or its estimated size fits ``memory_budget / 2``.
        Dense blocks always use the factored form unless ``hadamard_power != 1``.
    memory_budget : float, default 2.0
        GiB that the sparse ``P`` and the dense scoring buffers may take.
    n_iter : int, default 4
        Power iterations of the randomized SVD.
    random_state : int or None, default 0
        Seed of the SVD's random start (the default gives the same model twice).
    device : str, default "auto"
        Where scoring runs ("auto": CUDA when available).
    verbose : bool, default False
        Log the time of each fitting stage.

    Attributes
    ----------
    n_components_ : int
        Singular vectors used.
    propagation_ : str
        "sparse" or "factored" (what "auto" chose).
    chebyshev_coefficients_ : ndarray of float64
        ``F`` in the Chebyshev basis of ``2P - I``.
    normalized_ : scipy.sparse.csr_array, shape (n_users, n_items)
        ``R~`` (float32).
    item_filter_ : scipy.sparse.csr_array
        The sparse ``P`` (element-wise power applied), shape (n_items, n_items), or
        an empty (0, 0) matrix on the factored path.
    item_degree_ : ndarray of float32, shape (n_items,)
    components_ : ndarray of float32, shape (n_components, n_items)
        ``V^T``.
    singular_values_ : ndarray of float32, shape (n_components,)
    user_embeddings_ : ndarray of float32, shape (n_users, n_components)
        ``r d^-gamma V``.
    tail_coefficients_, spectral_correction_ : ndarray of float64, float32
        ``tail`` other than "exact" only: ``t`` in powers of ``P`` (``t(0) = F(0)``) and
        ``F(Lambda) - t(Lambda)`` on the top ``k``.
    item_embeddings_ : ndarray of float32, shape (n_items, n_components)
        ``d^beta * (G(P) d^(gamma - beta) V)``, so the ideal term's score is
        ``ideal_weight * user_embeddings_ @ item_embeddings_.T``.

    Raises
    ------
    ValueError
        (at ``fit``) a parameter out of range, named in the message; ``n_components``
        not smaller than ``min(n_users, n_items)``; ``hadamard_power != 1`` with a
        sparse ``P`` larger than ``memory_budget`` or with ``propagation="factored"``.
    """

    def __init__(
        self,
        *,
        response: str = "chebyshev",
        order: int = 8,
        flatness: float = 1.5,
        coefficients: Sequence[float] = (0.0, 1.0),
        blur_time: float = 1.0,
        blur_steps: int = 1,
        blur_solver: str = "euler",
        sharpen_time: float = 2.5,
        sharpen_steps: int = 1,
        sharpen_solver: str = "rk4",
        merge: str = "early",
        t_point_combination: bool = False,
        user_exponent: float = 0.5,
        item_exponent: float = 0.5,
        hadamard_power: float = 1.0,
        degree_exponent: float = 0.4,
        n_components: int | str = "auto",
        ideal_weight: float = 0.2,
        ideal_exponent: float | None = None,
        propagation: str = "auto",
        tail: str = "exact",
        memory_budget: float = 2.0,
        n_iter: int = 4,
        random_state: int | None = 0,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.response = response
        self.order = order
        self.flatness = flatness
        self.coefficients = coefficients
        self.blur_time = blur_time
        self.blur_steps = blur_steps
        self.blur_solver = blur_solver
        self.sharpen_time = sharpen_time
        self.sharpen_steps = sharpen_steps
        self.sharpen_solver = sharpen_solver
        self.merge = merge
        self.t_point_combination = t_point_combination
        self.user_exponent = user_exponent
        self.item_exponent = item_exponent
        self.hadamard_power = hadamard_power
        self.degree_exponent = degree_exponent
        self.n_components = n_components
        self.ideal_weight = ideal_weight
        self.ideal_exponent = ideal_exponent
        self.propagation = propagation
        self.tail = tail
        self.memory_budget = memory_budget
        self.n_iter = n_iter
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        for name, allowed in (("response", RESPONSES), ("blur_solver", ODE_SOLVERS),
                              ("sharpen_solver", ODE_SOLVERS), ("merge", MERGES),
                              ("propagation", PROPAGATIONS), ("tail", TAILS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        check_positive_int(self.order, "order")
        check_positive_float(self.flatness, "flatness")
        coefs = np.asarray(self.coefficients, dtype=np.float64) if _is_sequence(self.coefficients) else None
        if coefs is None or coefs.ndim != 1 or coefs.size == 0 or not np.isfinite(coefs).all():
            raise ValueError(f"coefficients must be a non-empty sequence of finite floats, got {self.coefficients!r}")
        check_positive_float(self.blur_time, "blur_time")
        check_positive_int(self.blur_steps, "blur_steps")
        check_positive_float(self.sharpen_time, "sharpen_time")
        check_positive_int(self.sharpen_steps, "sharpen_steps", minimum=0)
        if not isinstance(self.t_point_combination, bool | np.bool_):
            raise TypeError(f"t_point_combination must be a bool, got {self.t_point_combination!r}")
        for name in ("user_exponent", "item_exponent", "degree_exponent", "ideal_weight"):
            check_positive_float(getattr(self, name), name, allow_zero=True)
        if self.ideal_exponent is not None:
            check_positive_float(self.ideal_exponent, "ideal_exponent", allow_zero=True)
        check_positive_float(self.hadamard_power, "hadamard_power")
        if self.n_components != "auto":
            check_positive_int(self.n_components, "n_components", minimum=0)
        check_positive_float(self.memory_budget, "memory_budget")
        check_positive_int(self.n_iter, "n_iter", minimum=0)
        if self.hadamard_power != 1 and self.propagation == "factored":
            raise ValueError("hadamard_power != 1 needs the sparse P; propagation='factored' cannot apply it")
        if self.tail != "exact" and (self.hadamard_power != 1 or self.n_components == 0):
            raise ValueError(f"tail={self.tail!r} needs the singular vectors of R~ as eigenvectors of P: "
                             "hadamard_power must be 1 and n_components > 0")

    def _polynomials(self) -> tuple[Polynomial | None, NDArray[np.float64], Polynomial]:
        """``(F in powers of P or None, F in the Chebyshev basis of 2P - I, G)``."""
        one = Polynomial([1.0])
        if self.response == "chebyshev":
            c = plateau_coefficients(self.order, self.flatness)
            return None, c * (-1.0) ** np.arange(c.size), one  # T_k(I - 2P) = (-1)^k T_k(2P - I)
        if self.response == "polynomial":
            f = Polynomial(np.asarray(self.coefficients, dtype=np.float64))
            return f, _to_chebyshev(f), one
        f, g = bspm_polynomials(
            blur_time=float(self.blur_time), blur_steps=int(self.blur_steps), blur_solver=self.blur_solver,
            sharpen_time=float(self.sharpen_time), sharpen_steps=int(self.sharpen_steps),
            sharpen_solver=self.sharpen_solver, merge=self.merge,
            t_point_combination=bool(self.t_point_combination),
        )
        return f, _to_chebyshev(f), g

    def response_function(self, eigenvalues: NDArray) -> NDArray[np.float64]:
        """``F(lambda)``: the filter's response at eigenvalues of ``P`` (no ideal term, no degree scaling).

        Examples
        --------
        >>> SpectralFilter(response="polynomial", coefficients=(0, 2, -1)).response_function([0.5]).tolist()
        [0.75]
        """
        self._check_params()
        _, cheb, _ = self._polynomials()
        lam = np.asarray(eigenvalues, dtype=np.float64)
        return np.asarray(npcheb.chebval(2 * lam - 1, cheb), dtype=np.float64)

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        start = time.perf_counter()
        limit = min(train.n_users, train.n_items) - 1
        k = choose_n_components(self.n_components, limit, default=512, owner="SpectralFilter")
        if not self.ideal_weight and self.tail == "exact":
            k = 0
        self.n_components_ = k
        _, cheb, g = self._polynomials()
        self.chebyshev_coefficients_ = cheb
        binary = _binary(self.seen_)
        deg_u = np.diff(binary.indptr).astype(np.float64)
        deg_i = np.bincount(binary.indices, minlength=train.n_items).astype(np.float64)
        self.item_degree_ = deg_i.astype(np.float32)
        du = _safe_power(deg_u, -float(self.user_exponent))
        di = _safe_power(deg_i, -float(self.item_exponent))
        rows = np.repeat(np.arange(binary.shape[0]), np.diff(binary.indptr))
        self.normalized_ = sp.csr_array(
            ((du[rows] * di[binary.indices]).astype(np.float32), binary.indices.copy(), binary.indptr.copy()),
            shape=binary.shape,
        )
        self.propagation_ = self._choose_propagation(deg_u)
        if self.propagation_ == "sparse":
            p = sp.csr_array(self.normalized_.T @ self.normalized_, dtype=np.float32)
            if self.hadamard_power != 1:
                p.data **= np.float32(self.hadamard_power)
            p.sort_indices()
            self.item_filter_ = p
            self._log("sparse item-item filter (%d non-zeros)", start, p.nnz)
        else:
            self.item_filter_ = sp.csr_array((0, 0), dtype=np.float32)
        if k:
            vt, s = _randomized_right_svd(self.normalized_, k, n_iter=int(self.n_iter),
                                          seed=int(numpy_rng(self.random_state).integers(2**31 - 1)))
            self._log("truncated SVD (%d components)", start, k)
        else:
            vt, s = np.zeros((0, train.n_items)), np.zeros(0)
        self.components_ = np.ascontiguousarray(vt, dtype=np.float32)
        self.singular_values_ = s.astype(np.float32)
        gamma = self._gamma()
        beta = float(self.degree_exponent)
        self.user_embeddings_ = np.asarray(binary @ (vt.T * _safe_power(deg_i, -gamma)[:, None]), np.float32)
        base = vt * _safe_power(deg_i, gamma - beta)[None, :]  # (k, n_items): V^T d^(gamma - beta)
        if k and g.degree() > 0:
            base = self._apply_polynomial(base.astype(np.float32), _to_chebyshev(g)).cpu().numpy()
            self._log("ideal term through G(P)", start)
        self.item_embeddings_ = np.ascontiguousarray((base * _safe_power(deg_i, beta)[None, :]).T, np.float32)
        if self.tail != "exact":
            self.tail_coefficients_, self.spectral_correction_ = _polynomial_tail(
                cheb, s.astype(np.float64) ** 2, _TAIL_DEGREE[self.tail])

    def _gamma(self) -> float:
        return float(self.degree_exponent if self.ideal_exponent is None else self.ideal_exponent)

    def _choose_propagation(self, deg_u: NDArray) -> str:
        # sum_u deg_u^2 bounds nnz(P) from above; CSR float32 + int32 indices, and scipy's
        # product needs about as much again while it builds P
        est_bytes = 16.0 * float((deg_u**2).sum()) + 8.0 * self.n_items_
        budget = float(self.memory_budget) * _GIB
        if self.hadamard_power != 1:
            if est_bytes > budget:
                raise ValueError(
                    f"hadamard_power={self.hadamard_power} needs the sparse P, estimated at "
                    f"{est_bytes / _GIB:.2f} GiB, over memory_budget={self.memory_budget} GiB"
                )
            return "sparse"
        if self.propagation != "auto":
            return str(self.propagation)
        choice = "sparse" if est_bytes <= budget / 2 else "factored"
        if self.verbose:
            logger.info("propagation %r (sparse P estimated at %.2f GiB, budget %.2f GiB)",
                        choice, est_bytes / _GIB, self.memory_budget)
        return choice

    def _log(self, message: str, start: float, *args: object) -> None:
        if self.verbose:
            logger.info(message + " after %.1f s", *args, time.perf_counter() - start)

    # ------------------------------------------------------------------ applying P
    def _block_rows(self, n_cols: int) -> int:
        """Rows per dense block: ~6 float32 buffers of the wider side fit half the budget."""
        width = max(n_cols, self.normalized_.shape[0])
        return max(1, int(float(self.memory_budget) * _GIB / 2 // (6 * 4 * width)))

    def _operators(self) -> dict[str, torch.Tensor]:
        cache = self.__dict__.get("_operator_cache")
        key = (id(self.normalized_), id(self.item_filter_), str(self._device))
        if cache is None or cache[0] != key:
            dev = self._device
            ops = {"a": to_torch_csr(self.normalized_, dev),
                   "at": to_torch_csr(sp.csr_array(self.normalized_.T), dev)}
            if self.hadamard_power != 1:
                ops["p"] = to_torch_csr(self.item_filter_, dev)
            cache = (key, ops)
            self.__dict__["_operator_cache"] = cache
        return cache[1]

    def _apply_p_dense(self, y: torch.Tensor) -> torch.Tensor:
        """``P y`` for a dense (n_items x b) block (columns are users' rows)."""
        ops = self._operators()
        if "p" in ops:
            return torch.sparse.mm(ops["p"], y)
        return torch.sparse.mm(ops["at"], torch.sparse.mm(ops["a"], y))

    def _apply_p_sparse(self, x: sp.csr_array) -> NDArray[np.float32]:
        """``x P`` for sparse rows ``x`` (b x n_items), as a dense array."""
        if self.propagation_ == "sparse":
            return np.asarray((x @ self.item_filter_).toarray(), np.float32)
        a = self.normalized_
        return np.asarray(((x @ a.T) @ a).toarray(), np.float32)

    def _apply_polynomial(self, x: NDArray[np.float32] | sp.csr_array, cheb: NDArray[np.float64]) -> torch.Tensor:
        """``x F(P)`` for rows ``x`` (b x n_items), ``F`` given in the Chebyshev basis of ``M = 2P - I``.

        Blocked by rows; returns a (b, n_items) float32 tensor on the model's device.
        The recurrence ``T_0 = x``, ``T_1 = x M``, ``T_{j+1} = 2 T_j M - T_{j-1}`` runs
        on transposed (n_items x b) blocks so that each ``P`` is two sparse-dense
        products with contiguous operands.
        """
        dev = self._device
        n = x.shape[0]
        out = torch.empty((n, x.shape[1]), dtype=torch.float32, device=dev)
        step = self._block_rows(x.shape[1])
        deg = len(cheb) - 1
        for s in range(0, n, step):
            block = x[s:s + step]
            if sp.issparse(block):
                dense = np.asarray(sp.csr_array(block).toarray(), np.float32)
                first = self._apply_p_sparse(sp.csr_array(block)) if deg >= 1 else None
            else:
                dense = np.asarray(block, np.float32)
                first = None
            t0 = torch.from_numpy(np.ascontiguousarray(dense.T)).to(dev)
            acc = t0 * float(cheb[0])
            if deg >= 1:
                xp = (torch.from_numpy(np.ascontiguousarray(first.T)).to(dev) if first is not None
                      else self._apply_p_dense(t0))
                t1 = xp.mul_(2).sub_(t0)
                acc.add_(t1, alpha=float(cheb[1]))
                for j in range(2, deg + 1):
                    t2 = self._apply_p_dense(t1).mul_(4).sub_(t1, alpha=2).sub_(t0)
                    acc.add_(t2, alpha=float(cheb[j]))
                    t0, t1 = t1, t2
            out[s:s + step] = acc.T
        return out

    def _tail_basis(self) -> torch.Tensor:
        """``V^T d^beta`` (k x n_items, float32) on the model's device, cached."""
        dev = self._device
        cache = self.__dict__.get("_components_cache")
        if cache is None or cache[0] is not self.components_ or cache[1].device != dev:
            scale = _safe_power(self.item_degree_.astype(np.float64), float(self.degree_exponent))
            if not self.degree_exponent:
                scale = np.ones_like(scale)
            basis = torch.from_numpy(np.ascontiguousarray(self.components_ * scale[None, :].astype(np.float32)))
            cache = (self.components_, basis.to(dev))
            self.__dict__["_components_cache"] = cache
        return cache[1]

    def _ideal_folds_into_tail(self) -> bool:
        """ChebyCF-like settings: the ideal term ``w x V V^T`` shares the tail's ``x V`` and basis."""
        return self._gamma() == float(self.degree_exponent) and self._polynomials()[2].degree() == 0

    # ------------------------------------------------------------------ scoring
    # ------------------------------------------------------------------ scoring
    def _filter_rows(self, binary: sp.csr_array, user_vecs: torch.Tensor | None) -> torch.Tensor:
        beta = float(self.degree_exponent)
        deg = self.item_degree_.astype(np.float64)
        x = sp.csr_array(binary * _safe_power(deg, -beta)[None, :].astype(np.float32)) if beta else binary
        cheb = (_to_chebyshev(Polynomial(self.tail_coefficients_)) if self.tail != "exact"
                else self.chebyshev_coefficients_)
        out = self._apply_polynomial(x, cheb)
        if beta:
            out.mul_(torch.from_numpy(_safe_power(deg, beta).astype(np.float32)).to(out.device))
        ideal = user_vecs is not None and self.item_embeddings_.shape[1] and self.ideal_weight
        if self.tail != "exact":
            # low-rank correction d^beta * (x V) diag(delta) V^T; with gamma = beta and G = 1 the
            # ideal term w (x V) V^T d^beta is the same product, folded into one rank-k GEMM
            proj = torch.from_numpy(np.asarray(x @ self.components_.T, np.float32)).to(out.device)
            delta = np.asarray(self.spectral_correction_, np.float64)
            if ideal and self._ideal_folds_into_tail():
                delta = delta + float(self.ideal_weight)
                ideal = False
            proj.mul_(torch.from_numpy(delta.astype(np.float32)).to(out.device))
            out.addmm_(proj, self._tail_basis())
        if ideal and user_vecs is not None:
            _, item_vecs = self._embedding_tensors()
            out.addmm_(user_vecs, item_vecs.T, alpha=float(self.ideal_weight))
        return out

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        if similarity not in (None, "dot"):
            raise ValueError(f"SpectralFilter scores are fixed; similarity must be None or 'dot', got {similarity!r}")
        user_vecs = None
        if self.item_embeddings_.shape[1]:
            all_users, _ = self._embedding_tensors()
            user_vecs = all_users[torch.from_numpy(np.asarray(users)).to(all_users.device)]
        return self._filter_rows(_binary(self.seen_[users]), user_vecs)

    def fold_in(
        self,
        rows: sp.sparray | sp.spmatrix,
        *,
        method: str = "auto",
        alpha: float = 10.0,
        regularization: float = 1.0,
    ) -> NDArray[np.float32]:
        """The ideal term's user vectors ``r d^-gamma V`` of new users (exact, no fitting).

        ``method``, ``alpha`` and ``regularization`` are checked but unused.

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_components)
        """
        return self._low_rank_vectors(_new_user_pattern(self, rows, (method, alpha, regularization)))

    def score_new_users(self, rows: sp.sparray | sp.spmatrix, **fold_in_params: Any) -> NDArray[np.float32]:
        """The whole filter applied to new users' item rows (their :meth:`score` rows if they were trained on).

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_items)
        """
        binary = _new_user_pattern(self, rows)
        vecs = torch.from_numpy(self._low_rank_vectors(binary)).to(self._device)
        return self._filter_rows(binary, vecs).cpu().numpy()

    def explain_weighting(self) -> str:
        """"normalized": the filters are built on the normalised interactions ``R~``."""
        return "normalized"

    def _low_rank_vectors(self, binary: sp.csr_array) -> NDArray[np.float32]:
        scale = _safe_power(self.item_degree_.astype(np.float64), -self._gamma())
        return np.asarray(binary @ (self.components_.T.astype(np.float64) * scale[:, None]), np.float32)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_operator_cache", None)
        state.pop("_components_cache", None)
        return state

    @classmethod
    def _from_state(cls, state: ModelState) -> Recommender:
        params = dict(state.params)
        if isinstance(params.get("coefficients"), list):  # JSON stores the tuple as a list
            params["coefficients"] = tuple(params["coefficients"])
        return super()._from_state(dataclasses.replace(state, params=params))


def _polynomial_tail(cheb: NDArray[np.float64], eigenvalues: NDArray[np.float64],
                     degree: int) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """The least-squares polynomial ``t`` of ``degree`` with ``t(0) = F(0)`` to ``F`` on ``[0, lambda_k]``
    (uniform grid; coefficients in powers of ``P``) and the correction ``F(lambda_i) - t(lambda_i)``."""
    f0 = float(npcheb.chebval(-1.0, cheb))
    top = float(eigenvalues.min())
    coefs = np.zeros(degree + 1)
    coefs[0] = f0
    if top > 0:
        grid = np.linspace(0.0, top, 257)
        design = np.stack([grid**j for j in range(1, degree + 1)], axis=1)
        coefs[1:] = np.linalg.lstsq(design, npcheb.chebval(2 * grid - 1, cheb) - f0, rcond=None)[0]
    delta = npcheb.chebval(2 * eigenvalues - 1, cheb) - np.polynomial.polynomial.polyval(eigenvalues, coefs)
    return coefs, delta.astype(np.float32)


def _safe_power(x: NDArray, exponent: float) -> NDArray[np.float64]:
    """``x ** exponent`` with 0 where ``x == 0`` (isolated users/items)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    np.power(x, exponent, out=out, where=x > 0)
    return out


def _is_sequence(value: object) -> bool:
    return isinstance(value, Sequence | np.ndarray) and not isinstance(value, str)
