"""Readers for the on-disk formats of the named datasets (used by :mod:`graphrec.data.datasets`).

Each ``read_*`` takes the dataset's folder and returns :class:`Parts`
(train, test, valid, item_info); ``datasets.load`` wraps them in a ``Dataset``.
:func:`read_table` reads a user's own CSV/TSV/Parquet file with errors that say what
is wrong: a folder, an empty file, a malformed line (with its line number).
"""

from __future__ import annotations

import io
import lzma
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from graphrec.data.interactions import Interactions, read_lightgcn_pairs
from graphrec.data.splits import leave_last_out, validation_split
from graphrec.exceptions import MalformedFileError

__all__ = [
    "BUNDLED",
    "Parts",
    "movielens_parts",
    "read_bundled_sample",
    "read_lastfm",
    "read_lightgcn",
    "read_movielens",
    "read_sample",
    "read_table",
]

BUNDLED = Path(__file__).resolve().parent / "bundled"


class Parts(NamedTuple):
    """What a reader returns: the split and optional per-item table."""

    train: Interactions
    test: Interactions
    valid: Interactions | None = None
    item_info: pd.DataFrame | None = None


def _unclosed_quote_line(path: Path, sep: str, quote: str = '"') -> int | None:
    """The 1-based line where a quoted field opens and is never closed, or None.

    A field opens with a quote right after the separator (or at the line start); a
    line with an odd number of quotes then closes it (a legal multi-line field). A quote
    inside a field (``12" vinyl``) opens nothing, as for pandas. Only called when the
    file holds an odd number of quotes, so this pass over the lines costs nothing on the
    normal path.
    """
    import re

    opens = re.compile(rf"(^|{re.escape(sep)})[ \t]*{re.escape(quote)}")
    open_at = None
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, 1):
            if line.count(quote) % 2 == 0:
                continue
            if open_at is not None:
                open_at = None
            elif opens.search(line):
                open_at = number
    return open_at


def read_table(path: str | os.PathLike, *, sep: str | None = None) -> pd.DataFrame:
    """Read a user's CSV/TSV (separator sniffed unless given) or Parquet file.

    Parameters
    ----------
    path : path
    sep : str, optional
        Column separator; default: tab for ``.tsv``, else sniffed from the file.

    Returns
    -------
    DataFrame

    Raises
    ------
    FileNotFoundError
        No such file.
    IsADirectoryError
        ``path`` is a folder (the message names a table file inside it, if any).
    graphrec.exceptions.MalformedFileError
        An empty file, a header without rows, or a line pandas cannot parse (the
        message gives the line number, e.g. of a quote that is never closed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = p.write_text("user_id,item_id" + chr(10) + "1,2" + chr(10))
    >>> read_table(p).shape
    (1, 2)
    """
    path = Path(path)
    if path.is_dir():
        inside = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq"))
        hint = f", e.g. {inside[0]}" if inside else ""
        raise IsADirectoryError(
            f"{path} is a directory, not a data file: give a CSV/TSV/Parquet file{hint} "
            "(or a dataset name, with --root for a data folder)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path)
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise MalformedFileError(
            f"{path} is an empty file: expected a header line (e.g. user_id,item_id) and one row per interaction"
        )
    if sep is None and path.suffix.lower() == ".tsv":
        sep = "\t"
    if sep is None:  # sniff from the first lines (the csv module, via pandas' python engine)
        import csv

        try:
            first = "\n".join(head.decode("utf-8", "replace").splitlines()[:20])
            sep = csv.Sniffer().sniff(first, ",;\t| ").delimiter
        except csv.Error:
            sep = ","
    quotes = 0
    with open(path, "rb") as fh:  # an odd number of quote characters cannot be valid CSV
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            quotes += chunk.count(b'"')
    line = _unclosed_quote_line(path, sep) if quotes % 2 else None
    if line is not None:
        raise MalformedFileError(
            f"{path}, line {line}: a quoted field starts here and is never closed (unbalanced \")"
        )
    try:
        df = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError as exc:
        raise MalformedFileError(f"{path} has no header line: {exc}") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        line = _unclosed_quote_line(path, sep or ",")
        if line is not None:
            raise MalformedFileError(
                f"{path}, line {line}: a quoted field starts here and is never closed (unbalanced \")"
            ) from exc
        raise MalformedFileError(f"{path}: cannot parse the file: {str(exc).strip()}") from exc
    if df.empty:
        raise MalformedFileError(f"{path} has a header ({', '.join(map(str, df.columns))}) but no rows")
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    """``pd.read_parquet`` with graphrec's errors: a missing engine, a file that is not Parquet."""
    try:
        df = pd.read_parquet(path)
    except ImportError as exc:
        raise ImportError(f"reading {path} needs pyarrow: pip install 'graphrec[parquet]' ({exc})") from exc
    except Exception as exc:
        raise MalformedFileError(f"{path} is not a readable Parquet file: {str(exc).strip()[:200]}") from exc
    if df.empty:
        raise MalformedFileError(f"{path} has columns ({', '.join(map(str, df.columns))}) but no rows")
    return df


def read_lightgcn(folder: Path) -> Parts:
    """LightGCN ``train.txt``/``test.txt``: ids used as indices; index space = max id over both + 1."""
    tr_u, tr_i = read_lightgcn_pairs(folder / "train.txt")
    te_u, te_i = read_lightgcn_pairs(folder / "test.txt")
    n_users = int(max(tr_u.max(), te_u.max())) + 1
    n_items = int(max(tr_i.max(), te_i.max())) + 1
    train = Interactions.from_arrays(tr_u, tr_i, n_users=n_users, n_items=n_items)
    test = Interactions.from_arrays(te_u, te_i, n_users=n_users, n_items=n_items)
    return Parts(train, test)


def _lastfm_table(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "weight"])
    for col in ("user", "item"):
        if df[col].dtype.kind not in "iu":
            raise ValueError(f"{path}: column {col} holds non-integer ids")
    if df["weight"].dtype.kind not in "iuf":
        raise ValueError(f"{path}: the weight column is not numeric")
    return df


def read_lastfm(folder: Path) -> Parts:
    """Last.fm (HetRec 2011, LightGCN's split): 1-based ``user artist weight`` rows.

    Ids are shifted to 0-based and used as indices (index space = max id over both
    files). Implicit feedback: the listening weights are dropped, as in LightGCN's
    PyTorch port; every (user, artist) pair counts once.
    """
    tr = _lastfm_table(folder / "data1.txt")
    te = _lastfm_table(folder / "test1.txt")
    if min(tr["user"].min(), te["user"].min(), tr["item"].min(), te["item"].min()) < 1:
        raise ValueError(f"{folder}: lastfm ids must be 1-based")
    n_users = int(max(tr["user"].max(), te["user"].max()))
    n_items = int(max(tr["item"].max(), te["item"].max()))

    def build(df: pd.DataFrame) -> Interactions:
        u = df["user"].to_numpy(np.int64) - 1
        i = df["item"].to_numpy(np.int64) - 1
        return Interactions.from_arrays(u, i, n_users=n_users, n_items=n_items)

    return Parts(build(tr), build(te))


def movielens_parts(ratings: pd.DataFrame, movies: pd.DataFrame) -> Parts:
    """MovieLens tables -> temporal per-user split; movies -> ``item_info``.

    Ratings (0.5-5) are kept as weights and timestamps as Unix seconds; rows are put
    in canonical (user, item) order first, so the split does not depend on file order.
    Split: each user's latest 20% of ratings (by time) are the test set; the latest
    10% of each user's remaining ratings are the validation set
    (``leave_last_out(x, n=0.2)``, then ``validation_split(..., 0.1, method="last")``).
    ``item_info`` is indexed by internal item index with ``movieId``, ``title``,
    ``genres`` (``"A|B"``) and ``category`` (the first listed genre).
    """
    x = Interactions.from_pandas(ratings, "userId", "movieId", rating="rating", timestamp="timestamp")
    order = np.lexsort((x.item_idx, x.user_idx))
    if not np.array_equal(order, np.arange(x.nnz)):
        x = x.subset(order)
    split = validation_split(leave_last_out(x, n=0.2), 0.1, method="last")
    info = movies.drop_duplicates("movieId").set_index("movieId").reindex(x.items.labels)
    info = info.reset_index().rename_axis("item")
    info["category"] = info["genres"].str.split("|").str[0]
    return Parts(split.train, split.test, split.valid, info)


def read_movielens(folder: Path) -> Parts:
    """``ratings.csv`` and ``movies.csv`` of a MovieLens folder; see :func:`movielens_parts`."""
    return movielens_parts(pd.read_csv(folder / "ratings.csv"), pd.read_csv(folder / "movies.csv"))


def read_bundled_sample(folder: Path = BUNDLED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bundled MovieLens latest-small tables ``(ratings, movies)``, as in the CSVs.

    See ``tools/build_sample.py`` for the storage format.
    """
    with np.load(io.BytesIO(lzma.decompress((folder / "ratings.npz.xz").read_bytes()))) as z:
        ratings = pd.DataFrame(
            {
                "userId": z["userId"].astype(np.int64),
                "movieId": z["movieId"].astype(np.int64),
                "rating": z["rating2"].astype(np.float64) / 2,
                "timestamp": z["timestamp"].astype(np.int64),
            }
        )
    movies = pd.read_csv(io.BytesIO(lzma.decompress((folder / "movies.csv.xz").read_bytes())))
    return ratings, movies


def read_sample(folder: Path = BUNDLED) -> Parts:
    """The bundled sample, processed exactly as ``movielens-small``."""
    return movielens_parts(*read_bundled_sample(folder))
