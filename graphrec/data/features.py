"""Side information as data: user and item features and user-user / item-item relations.

:class:`Features` sits beside :class:`graphrec.Interactions` on the same IdMaps
and holds, per side, a sparse non-negative feature matrix (one row per internal index,
one named column per attribute) and a symmetric relation matrix (social links,
related items). It is built from tables keyed by the caller's own ids:

* :meth:`Features.add_categorical` -- single or multi-valued categories (genres, tags);
* :meth:`Features.add_numeric` -- numeric columns, scaled to [0, 1] (graph edges need
  non-negative weights);
* :meth:`Features.add_text` -- free text as TF-IDF or hashed token counts (scikit-learn);
* :meth:`Features.add_relations` -- pairs of ids (friendships, related items);
* :meth:`Features.add_matrix` -- a ready matrix aligned with the internal indices.

Every builder returns a new ``Features`` (the object is immutable). Bad input raises
:class:`FeatureError` (a ``ValueError``) naming the column and id, or ``KeyError``
for ids unknown to the IdMap (``unknown="ignore"`` drops them instead).
:func:`movielens_features` and :func:`lastfm_features` read the side data of the
named datasets (``graphrec.datasets.load_features``).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike

from graphrec.data.ids import IdMap

__all__ = ["FeatureError", "Features", "lastfm_features", "movielens_features"]

logger = logging.getLogger(__name__)

Side = Literal["user", "item"]
_SIDES = ("user", "item")


class FeatureError(ValueError):
    """Bad feature input: NaN or empty values, mismatched shapes or indices (names the culprit)."""


def _empty(n: int, m: int = 0) -> sp.csr_array:
    return sp.csr_array((n, m), dtype=np.float32)


@dataclass(frozen=True, eq=False)
class Features:
    """User and item side information on the IdMaps of an :class:`~graphrec.Interactions`.

    Parameters
    ----------
    users, items : IdMap
        The label maps (``x.users``, ``x.items``); every matrix is aligned with them.
    user_features, item_features : csr_array of float32, optional
        Shape ``(len(users), n_user_features)`` / ``(len(items), n_item_features)``,
        finite and >= 0. Default: no columns.
    user_feature_names, item_feature_names : tuple of str
        One name per column (``"genres=Comedy"``, ``"tag:funny"``, ``"year"``).
    user_relations, item_relations : csr_array of float32, optional
        Symmetric ``(n, n)`` weights of user-user (social) and item-item links.

    Raises
    ------
    FeatureError
        A matrix whose rows do not match its IdMap, negative or non-finite values,
        names that do not match the columns, or an asymmetric relation matrix.

    Examples
    --------
    >>> import pandas as pd, graphrec as gr
    >>> x = gr.Interactions.from_arrays(["a", "b"], [10, 20])
    >>> f = gr.Features.from_interactions(x).add_categorical(
    ...     "item", pd.DataFrame({"id": [10, 20], "genres": ["A|B", "B"]}), "id", "genres", sep="|")
    >>> f.item_feature_names, f.item_features.toarray().tolist()
    (('genres=A', 'genres=B'), [[1.0, 1.0], [0.0, 1.0]])
    """

    users: IdMap
    items: IdMap
    user_features: sp.csr_array | None = None
    item_features: sp.csr_array | None = None
    user_feature_names: tuple[str, ...] = ()
    item_feature_names: tuple[str, ...] = ()
    user_relations: sp.csr_array | None = None
    item_relations: sp.csr_array | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.users, IdMap) or not isinstance(self.items, IdMap):
            raise TypeError("users and items must be IdMap instances")
        for side in _SIDES:
            n = len(self._ids(side))
            name = f"{side}_features"
            m = getattr(self, name)
            m = _empty(n) if m is None else _check_matrix(m, n, name)
            object.__setattr__(self, name, m)
            names = tuple(str(s) for s in getattr(self, f"{side}_feature_names"))
            if len(names) != m.shape[1]:
                raise FeatureError(
                    f"{side}_feature_names has {len(names)} names for {m.shape[1]} columns"
                )
            object.__setattr__(self, f"{side}_feature_names", names)
            rname = f"{side}_relations"
            r = getattr(self, rname)
            if r is not None:
                r = _check_matrix(r, n, rname)
                if r.shape != (n, n):
                    raise FeatureError(f"{rname} must be square ({n}, {n}), got {r.shape}")
                if abs(r - r.T).sum() > 1e-6 * max(1.0, float(r.sum())):
                    raise FeatureError(f"{rname} must be symmetric")
            object.__setattr__(self, rname, r)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_interactions(cls, x: Any) -> Features:
        """Empty features on the IdMaps of ``x`` (an :class:`~graphrec.Interactions` or :class:`~graphrec.Dataset`)."""
        x = getattr(x, "train", x)
        return cls(users=x.users, items=x.items)

    def _ids(self, side: str) -> IdMap:
        if side not in _SIDES:
            raise ValueError(f"side must be 'user' or 'item', got {side!r}")
        return self.users if side == "user" else self.items

    def n_features(self, side: Side) -> int:
        """Number of feature columns of ``side``."""
        return int(getattr(self, f"{self._check_side(side)}_features").shape[1])

    def _check_side(self, side: str) -> str:
        self._ids(side)
        return side

    def check_aligned(self, x: Any) -> None:
        """Raise :class:`FeatureError` unless these features share ``x``'s IdMaps.

        Parameters
        ----------
        x : Interactions
        """
        if len(x.users) != len(self.users) or len(x.items) != len(self.items):
            raise FeatureError(
                f"features are on {len(self.users)} users / {len(self.items)} items, the "
                f"interactions on {x.n_users} / {x.n_items}: build them with "
                "Features.from_interactions(train)"
            )
        if not (x.users == self.users and x.items == self.items):
            raise FeatureError("features and interactions use different user or item IdMaps")

    # ------------------------------------------------------------------ builders
    def add_matrix(self, side: Side, matrix: Any, names: Sequence[str] | None = None) -> Features:
        """Append ready feature columns aligned with the internal indices of ``side``.

        Parameters
        ----------
        side : {"user", "item"}
        matrix : array or sparse, shape (n_side, n_columns)
            Finite, >= 0; row ``j`` belongs to internal index ``j``.
        names : sequence of str, optional
            Column names (default ``"f0", "f1", ...``).

        Returns
        -------
        Features

        Raises
        ------
        FeatureError
            Wrong row count (mismatched indices), NaN/inf or negative values.
        """
        n = len(self._ids(side))
        m = _check_matrix(matrix, n, f"{side} matrix")
        if names is None:
            start = self.n_features(side)
            names = [f"f{start + j}" for j in range(m.shape[1])]
        if len(names) != m.shape[1]:
            raise FeatureError(f"names has {len(names)} entries for {m.shape[1]} columns")
        return self._append(side, m, tuple(str(s) for s in names))

    def add_categorical(
        self,
        side: Side,
        table: pd.DataFrame,
        id_column: str,
        column: str,
        *,
        sep: str | None = None,
        prefix: str | None = None,
        min_count: int = 1,
        unknown: Literal["raise", "ignore"] = "raise",
    ) -> Features:
        """Append one-hot columns of a (multi-valued) categorical column.

        Parameters
        ----------
        side : {"user", "item"}
        table : DataFrame
            Rows keyed by ``id_column`` (the caller's ids); an id may repeat (its
            values are pooled). Ids without a row get no category.
        id_column, column : str
        sep : str, optional
            Split string values on ``sep`` (``"A|B"``); list-like cells are used as is.
        prefix : str, optional
            Column-name prefix (default ``column``): names are ``"prefix=value"``.
        min_count : int, default 1
            Keep values held by at least this many ids.
        unknown : {"raise", "ignore"}
            What to do with ids not in the IdMap.

        Returns
        -------
        Features

        Raises
        ------
        FeatureError
            A missing column, a NaN value or an empty list (naming the id).
        KeyError
            An unknown id with ``unknown="raise"``.
        """
        idx, frame = self._rows(side, table, id_column, [column], unknown)
        values = frame[column].to_numpy(object)
        lists = []
        for j, v in enumerate(values):
            if isinstance(v, str):
                items = [s.strip() for s in v.split(sep)] if sep is not None else [v]
                items = [s for s in items if s]
            elif isinstance(v, (list, tuple, set, np.ndarray)):
                items = [str(s) for s in v]
            elif v is None or (isinstance(v, float) and np.isnan(v)):
                raise FeatureError(f"column {column!r} is NaN for id {_show(frame[id_column].iloc[j])!r}")
            else:
                items = [str(v)]
            if not items:
                raise FeatureError(
                    f"column {column!r} holds an empty list for id {_show(frame[id_column].iloc[j])!r}"
                )
            lists.append(items)
        rows = np.repeat(idx, [len(v) for v in lists])
        flat = np.asarray([s for v in lists for s in v], dtype=object)
        vocab, codes = np.unique(flat.astype(str), return_inverse=True) if len(flat) else (np.array([]), np.array([], np.int64))
        n = len(self._ids(side))
        m = sp.csr_array(
            (np.ones(len(rows), np.float32), (rows, codes)), shape=(n, len(vocab))
        )
        m.sum_duplicates()
        m.data[:] = 1.0  # one-hot: an id holds a value or not
        keep = np.flatnonzero(np.diff(m.tocsc().indptr) >= int(min_count))
        m = sp.csr_array(m[:, keep])
        pre = column if prefix is None else prefix
        return self._append(side, m, tuple(f"{pre}={vocab[k]}" for k in keep))

    def add_numeric(
        self,
        side: Side,
        table: pd.DataFrame,
        id_column: str,
        columns: Sequence[str],
        *,
        unknown: Literal["raise", "ignore"] = "raise",
    ) -> Features:
        """Append numeric columns, min-max scaled to [0, 1] over the ids that have a row.

        Parameters
        ----------
        side : {"user", "item"}
        table : DataFrame
            One row per id (``id_column``); ids without a row get 0.
        id_column : str
        columns : sequence of str
        unknown : {"raise", "ignore"}

        Returns
        -------
        Features

        Raises
        ------
        FeatureError
            A missing or non-numeric column, NaN/inf (naming the id), a repeated id.
        KeyError
            An unknown id with ``unknown="raise"``.
        """
        columns = [columns] if isinstance(columns, str) else list(columns)
        idx, frame = self._rows(side, table, id_column, columns, unknown)
        if len(np.unique(idx)) != len(idx):
            raise FeatureError(f"{id_column!r} repeats ids; numeric features need one row per id")
        n = len(self._ids(side))
        dense = np.zeros((n, len(columns)), np.float32)
        for c, col in enumerate(columns):
            v = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64)
            bad = ~np.isfinite(v)
            if bad.any():
                raise FeatureError(
                    f"column {col!r} is NaN, inf or not a number for id {_show(frame[id_column].iloc[int(np.argmax(bad))])!r}"
                )
            lo, hi = (v.min(), v.max()) if len(v) else (0.0, 0.0)
            dense[idx, c] = (v - lo) / (hi - lo) if hi > lo else 1.0
        return self._append(side, sp.csr_array(dense), tuple(columns))

    def add_text(
        self,
        side: Side,
        table: pd.DataFrame,
        id_column: str,
        column: str,
        *,
        method: Literal["tfidf", "hashing"] = "tfidf",
        min_df: int = 2,
        max_features: int | None = 2000,
        n_features: int = 1024,
        prefix: str | None = None,
        unknown: Literal["raise", "ignore"] = "raise",
    ) -> Features:
        """Append text features (TF-IDF or hashed counts) of a free-text column.

        Rows of one id are joined into one document (e.g. all tags of a movie).

        Parameters
        ----------
        side : {"user", "item"}
        table : DataFrame
        id_column, column : str
        method : {"tfidf", "hashing"}, default "tfidf"
            scikit-learn's ``TfidfVectorizer`` (``min_df``, ``max_features``) or
            ``HashingVectorizer`` (``n_features`` columns, absolute counts, L2 rows).
        min_df, max_features, n_features
            See ``method``.
        prefix : str, optional
            Column-name prefix (default ``column``).
        unknown : {"raise", "ignore"}

        Returns
        -------
        Features

        Raises
        ------
        FeatureError
            A missing column, NaN text (naming the id), or an unknown ``method``.
        KeyError
            An unknown id with ``unknown="raise"``.
        """
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

        idx, frame = self._rows(side, table, id_column, [column], unknown)
        text = frame[column]
        if text.isna().any():
            raise FeatureError(f"column {column!r} is NaN for id {_show(frame[id_column][text.isna()].iloc[0])!r}")
        docs = pd.Series(text.astype(str).to_numpy()).groupby(idx).agg(" ".join)
        pre = column if prefix is None else prefix
        if method == "tfidf":
            vec = TfidfVectorizer(min_df=min(min_df, max(len(docs), 1)), max_features=max_features)
            m = vec.fit_transform(docs.to_numpy())
            names = tuple(f"{pre}:{t}" for t in vec.get_feature_names_out())
        elif method == "hashing":
            vec = HashingVectorizer(n_features=n_features, alternate_sign=False)
            m = vec.transform(docs.to_numpy())
            names = tuple(f"{pre}#{j}" for j in range(n_features))
        else:
            raise FeatureError(f"method must be 'tfidf' or 'hashing', got {method!r}")
        n = len(self._ids(side))
        coo = sp.coo_array(m)
        full = sp.csr_array(
            (coo.data, (docs.index.to_numpy()[coo.row], coo.col)), shape=(n, m.shape[1]), dtype=np.float32
        )
        return self._append(side, full, names)

    def add_relations(
        self,
        side: Side,
        pairs: pd.DataFrame | ArrayLike,
        a: str | None = None,
        b: str | None = None,
        *,
        weight: str | None = None,
        unknown: Literal["raise", "ignore"] = "raise",
    ) -> Features:
        """Add symmetric links between ids of one side (friendships, related items).

        Parameters
        ----------
        side : {"user", "item"}
        pairs : DataFrame or array of shape (n_pairs, 2)
            Pairs of the caller's ids; each link is used in both directions, self
            links are dropped and repeated links count once (largest weight).
        a, b : str, optional
            The DataFrame's two id columns (default its first two columns).
        weight : str, optional
            A column of link weights (> 0, finite); default 1.
        unknown : {"raise", "ignore"}

        Returns
        -------
        Features

        Raises
        ------
        FeatureError
            NaN ids or weights, bad weights, a malformed array.
        KeyError
            An unknown id with ``unknown="raise"``.
        """
        if not isinstance(pairs, pd.DataFrame):
            arr = np.asarray(pairs)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise FeatureError(f"pairs must have shape (n_pairs, 2), got {arr.shape}")
            pairs = pd.DataFrame({"a": arr[:, 0], "b": arr[:, 1]})
            a, b = "a", "b"
        a = pairs.columns[0] if a is None else a
        b = pairs.columns[1] if b is None else b
        for col in [a, b] + ([weight] if weight else []):
            if col not in pairs.columns:
                raise FeatureError(f"pairs has no column {col!r}")
            if pairs[col].isna().any():
                raise FeatureError(f"column {col!r} holds NaN")
        ids = self._ids(side)
        ia, ok_a = _lookup(ids, pairs[a].to_numpy(), a, unknown)
        ib, ok_b = _lookup(ids, pairs[b].to_numpy(), b, unknown)
        ok = ok_a & ok_b
        w = np.ones(len(pairs), np.float32)
        if weight:
            w = pd.to_numeric(pairs[weight], errors="coerce").to_numpy(np.float32)
            if not np.isfinite(w).all() or (w <= 0).any():
                raise FeatureError(f"column {weight!r} must hold finite weights > 0")
        ia, ib, w = ia[ok], ib[ok], w[ok]
        keep = ia != ib
        ia, ib, w = ia[keep], ib[keep], w[keep]
        n = len(ids)
        both = sp.coo_array(
            (np.concatenate([w, w]), (np.concatenate([ia, ib]), np.concatenate([ib, ia]))),
            shape=(n, n),
        )
        r = _max_merge(both, n)
        old = getattr(self, f"{side}_relations")
        if old is not None:
            r = sp.csr_array(old.maximum(r))
        return dataclasses.replace(self, **{f"{side}_relations": sp.csr_array(r, dtype=np.float32)})

    # ------------------------------------------------------------------ helpers
    def _rows(
        self, side: str, table: pd.DataFrame, id_column: str, columns: list[str], unknown: str
    ) -> tuple[np.ndarray, pd.DataFrame]:
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
        for col in [id_column, *columns]:
            if col not in table.columns:
                raise FeatureError(f"table has no column {col!r} (columns: {list(table.columns)})")
        if table[id_column].isna().any():
            raise FeatureError(f"column {id_column!r} holds NaN ids")
        idx, ok = _lookup(self._ids(side), table[id_column].to_numpy(), id_column, unknown)
        return idx[ok], table.loc[ok].reset_index(drop=True)

    def _append(self, side: str, m: sp.csr_array, names: tuple[str, ...]) -> Features:
        old = getattr(self, f"{side}_features")
        new = sp.csr_array(sp.hstack([old, m], format="csr"), dtype=np.float32)
        return dataclasses.replace(
            self,
            **{
                f"{side}_features": new,
                f"{side}_feature_names": getattr(self, f"{side}_feature_names") + names,
            },
        )

    def __repr__(self) -> str:
        rel = {s: 0 if getattr(self, f"{s}_relations") is None else getattr(self, f"{s}_relations").nnz // 2 for s in _SIDES}
        return (
            f"Features(users={len(self.users):,} x {self.n_features('user')} features, "
            f"{rel['user']:,} links; items={len(self.items):,} x {self.n_features('item')} "
            f"features, {rel['item']:,} links)"
        )


def _show(v: Any) -> Any:
    """A numpy scalar as the plain Python value (for error messages)."""
    return v.item() if isinstance(v, np.generic) else v


def _max_merge(coo: sp.coo_array, n: int) -> sp.csr_array:
    """CSR of ``coo`` with repeated entries merged by their maximum (not their sum)."""
    keys = coo.row.astype(np.int64) * n + coo.col
    order = np.lexsort((-coo.data, keys))
    keys, data = keys[order], coo.data[order]
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, data = keys[first], data[first]
    return sp.csr_array((data.astype(np.float32), (keys // n, keys % n)), shape=(n, n))


def _lookup(ids: IdMap, labels: np.ndarray, column: str, unknown: str) -> tuple[np.ndarray, np.ndarray]:
    """Internal indices of ``labels`` and a mask of the known ones."""
    if unknown not in ("raise", "ignore"):
        raise ValueError(f"unknown must be 'raise' or 'ignore', got {unknown!r}")
    labels = np.asarray(labels)
    try:
        return ids.to_index(labels), np.ones(len(labels), bool)
    except KeyError as err:
        if unknown == "raise":
            raise KeyError(f"column {column!r}: {err.args[0]} (pass unknown='ignore' to drop them)") from None
    known = np.asarray([lab in ids for lab in labels.tolist()], bool)  # slow path, only with unknown ids
    out = np.zeros(len(labels), np.int64)
    if known.any():
        out[known] = ids.to_index(labels[known])
    logger.info("column %r: %d rows with unknown ids dropped", column, int((~known).sum()))
    return out, known


def _check_matrix(m: Any, n: int, name: str) -> sp.csr_array:
    try:
        m = sp.csr_array(m, dtype=np.float32) if sp.issparse(m) else sp.csr_array(np.asarray(m, np.float32))
    except (TypeError, ValueError) as err:
        raise FeatureError(f"{name} is not a numeric matrix: {err}") from None
    if m.ndim != 2 or m.shape[0] != n:
        raise FeatureError(f"{name} must have {n} rows (one per internal index), got shape {m.shape}")
    if not np.isfinite(m.data).all():
        raise FeatureError(f"{name} holds NaN or inf")
    if (m.data < 0).any():
        raise FeatureError(f"{name} holds negative values; features are graph edge weights (>= 0)")
    m.eliminate_zeros()
    m.sort_indices()
    return m


_YEAR = re.compile(r"\((\d{4})\)\s*$")


def movielens_features(
    folder: str | Path, x: Any, *, tags: bool = True, year: bool = True, min_count: int = 2
) -> Features:
    """MovieLens item features: genres, tags (TF-IDF over each movie's tags) and title decade.

    Parameters
    ----------
    folder : path
        A MovieLens folder with ``movies.csv`` (and ``tags.csv`` for tags).
    x : Interactions or Dataset
        Whose IdMaps the features follow (e.g. ``load("movielens-small")``).
    tags, year : bool
        Include tags and the decade of the title's year (``"decade=1990s"``; movies
        without a year get none).
    min_count : int, default 2
        Tags must occur on at least this many movies.

    Returns
    -------
    Features
    """
    folder = Path(folder)
    f = Features.from_interactions(x)
    movies = pd.read_csv(folder / "movies.csv")
    g = movies[["movieId", "genres"]].copy()
    g = g[g["genres"] != "(no genres listed)"]
    f = f.add_categorical("item", g, "movieId", "genres", sep="|", unknown="ignore")
    if year:
        y = pd.to_numeric(movies["title"].str.extract(_YEAR, expand=False), errors="coerce")
        dec = movies.assign(decade=(y // 10 * 10).astype("Int64").astype(str) + "s")[y.notna()]
        f = f.add_categorical("item", dec[["movieId", "decade"]], "movieId", "decade", unknown="ignore")
    if tags and (folder / "tags.csv").is_file():
        t = pd.read_csv(folder / "tags.csv").dropna(subset=["tag"])
        t = t.assign(tag=t["tag"].astype(str).str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True))
        f = f.add_text("item", t, "movieId", "tag", min_df=min_count, unknown="ignore")
    return f


def lastfm_features(folder: str | Path, x: Any) -> Features:
    """Last.fm's user-user friendship links (``trustnetwork.txt``, 1-based ids).

    Parameters
    ----------
    folder : path
        The ``lastfm`` folder.
    x : Interactions or Dataset
        ``load("lastfm")``'s IdMaps (0-based user indices).

    Returns
    -------
    Features
    """
    pairs = pd.read_csv(Path(folder) / "trustnetwork.txt", sep="\t", header=None, names=["a", "b"])
    return Features.from_interactions(x).add_relations(
        "user", pairs[["a", "b"]].to_numpy(np.int64) - 1, unknown="ignore"
    )
