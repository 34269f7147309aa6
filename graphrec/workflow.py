"""Workflow steps on the public API, as the CLI and the demo compose them.

Each function is one step a user (or ``graphrec`` on the command line) takes: load
data by name or from a table file, build a model from the registry with checked
hyperparameter names, save it with its item titles, recommend in the user's own
ids, evaluate and tabulate. :mod:`graphrec.demo` chains them on the bundled
MovieLens sample. Nothing here reads ``sys.argv`` or prints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graphrec.data import splits
from graphrec.data.datasets import Dataset
from graphrec.data.datasets import load as load_dataset
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions
from graphrec.evaluation import evaluate
from graphrec.models import ALIAS_PARAMS, get_model_class
from graphrec.models import load as load_model_dir
from graphrec.models.base import Recommender

__all__ = [
    "SavedModel",
    "build_model",
    "evaluate_model",
    "item_info_for",
    "load_data",
    "load_model",
    "make_reranker",
    "parse_labels",
    "read_table",
    "recommend_table",
    "save_model",
    "similar_table",
]

ITEMS_FILE = "items.csv"  # item labels and titles, one row per internal item index
DATA_FILE = "data.json"  # how the training data was loaded (for `graphrec evaluate`)
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


@dataclass
class SavedModel:
    """A model loaded from a directory, with what the CLI saved beside it.

    Attributes
    ----------
    model : Recommender
    item_info : DataFrame or None
        One row per internal item index (``item`` label, ``title`` when known).
    data : dict or None
        The data options the model was trained with (see :func:`load_data`).
    """

    model: Recommender
    item_info: pd.DataFrame | None = None
    data: dict[str, Any] | None = None


# ---------------------------------------------------------------------- data
def read_table(path: str | os.PathLike, *, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (separator sniffed unless given) or Parquet file.

    See :func:`graphrec.data._readers.read_table` (clear errors for a folder, an empty
    file and a malformed line, with its number).

    Raises
    ------
    FileNotFoundError
        No such file.
    IsADirectoryError
        ``path`` is a folder.
    graphrec.exceptions.MalformedFileError
        An empty or malformed file.
    """
    from graphrec.data._readers import read_table as _read_table

    return _read_table(path, sep=sep)


def _is_path(source: str) -> bool:
    return os.path.exists(source) or source.lower().endswith(TABLE_SUFFIXES) or os.sep in source


def load_data(
    source: str,
    *,
    root: str | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    rating_col: str | None = None,
    time_col: str | None = None,
    title_col: str | None = None,
    min_rating: float | None = None,
    test_size: float = 0.2,
    random_state: int = 0,
    download: bool = False,
) -> Dataset:
    """A named dataset, or a table file split into train and test.

    Parameters
    ----------
    source : str
        A dataset name (``graphrec.datasets.available()``) or a CSV/TSV/Parquet path.
    root : str, optional
        Data root for named datasets.
    user_col, item_col, rating_col, time_col, title_col : str
        Columns of the file (``title_col`` fills ``item_info["title"]``).
    min_rating : float, optional
        Keep rows with ``rating >= min_rating`` as implicit feedback.
    test_size : float, default 0.2
        Fraction held out per user: the latest rows when ``time_col`` is given
        (:func:`graphrec.splits.leave_last_out`), random rows otherwise
        (:func:`graphrec.splits.random_holdout`).
    random_state : int, default 0
    download : bool, default False
        Fetch a missing named dataset (see :func:`graphrec.datasets.load`).

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        A missing file or dataset.
    KeyError
        An unknown dataset name, or a column not in the file.

    Examples
    --------
    >>> load_data("sample").test.nnz > 0
    True
    """
    if not _is_path(source):
        return load_dataset(source, root=root, download=download)
    df = read_table(source)
    x = Interactions.from_pandas(df, user_col, item_col, rating_col, time_col, min_rating=min_rating)
    if time_col is not None:
        split = splits.leave_last_out(x, n=test_size)
    else:
        split = splits.random_holdout(x, test_size=test_size, random_state=random_state)
    info = None
    if title_col is not None:
        if title_col not in df.columns:
            raise KeyError(f"title column {title_col!r} not found; available columns: {list(df.columns)}")
        titles = df.drop_duplicates(item_col).set_index(item_col)[title_col]
        info = pd.DataFrame({"item": x.items.labels, "title": titles.reindex(x.items.labels).to_numpy()})
    return Dataset(Path(source).stem, split.train, split.test, split.valid, item_info=info, source=str(source))


# ---------------------------------------------------------------------- models
def build_model(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    random_state: int | None = None,
    device: str | None = None,
    verbose: bool | None = None,
) -> Recommender:
    """An unfitted model from the registry, with checked hyperparameter names.

    ``random_state``, ``device`` and ``verbose`` are set only on models that take them.

    Raises
    ------
    KeyError
        Unknown model name (the known ones are listed).
    ValueError
        A hyperparameter the model does not take (its hyperparameters are listed).

    Examples
    --------
    >>> build_model("popularity", {"use_weights": True})
    Popularity(use_weights=True)
    """
    cls = get_model_class(name)
    known = cls().get_params()
    params = {**ALIAS_PARAMS.get(name.lower(), {}), **(params or {})}  # "bspm" -> SpectralFilter as BSPM
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"its hyperparameters: {', '.join(sorted(known))}"
        )
    for key, value in (("random_state", random_state), ("device", device), ("verbose", verbose)):
        if value is not None and key in known:
            params.setdefault(key, value)
    return cls(**params)


def save_model(
    model: Recommender,
    path: str | os.PathLike,
    *,
    item_info: pd.DataFrame | None = None,
    data: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """``model.save(path)`` with ``items.csv`` and ``data.json`` inside, in one atomic write.

    ``items.csv`` holds one row per internal item index: the ``item`` label and,
    when ``item_info`` has them, ``title``, ``category`` and ``genres``.
    ``data.json`` records ``data`` (how the training data was loaded). The folder
    appears complete or not at all, and nothing that was there is destroyed (see
    :func:`graphrec.persistence.check_target`; ``overwrite`` replaces an existing model).

    Raises
    ------
    graphrec.persistence.OutputExistsError
        ``path`` holds something other than a graphrec model, or a model and
        ``overwrite`` is False.
    """
    from sklearn.utils.validation import check_is_fitted

    from graphrec.persistence import write_state

    check_is_fitted(model)
    items = pd.DataFrame({"item": model.items_.labels})
    for col in ("title", "category", "genres"):
        if item_info is not None and col in item_info.columns:
            items[col] = item_info[col].to_numpy()
    files = {ITEMS_FILE: items.to_csv(index=False)}
    if data is not None:
        files[DATA_FILE] = json.dumps(data, indent=1)
    return write_state(path, model._to_state(), overwrite=overwrite, files=files)


def load_model(path: str | os.PathLike) -> SavedModel:
    """Load a model directory and the item titles and data options saved beside it.

    Raises
    ------
    FileNotFoundError
        No such directory.
    graphrec.persistence.ModelFileError
        Not a (valid) model directory.
    """
    path = Path(path)
    model = load_model_dir(path)
    info = None
    if (path / ITEMS_FILE).is_file():
        kind = np.asarray(model.items_.labels).dtype
        items = pd.read_csv(path / ITEMS_FILE, dtype={"item": kind if kind.kind in "iuf" else str})
        if len(items) == model.n_items_:
            info = items
    data = json.loads((path / DATA_FILE).read_text()) if (path / DATA_FILE).is_file() else None
    return SavedModel(model, info, data)


def item_info_for(items: IdMap, ds: Dataset) -> pd.DataFrame | None:
    """``ds.item_info`` re-indexed onto another item IdMap (matched by label)."""
    if ds.item_info is None or "title" not in ds.item_info.columns:
        return None
    out = pd.DataFrame({"item": items.labels})
    for col in ("title", "category", "genres"):
        if col in ds.item_info.columns:
            by_label = pd.Series(ds.item_info[col].to_numpy(), index=ds.train.items.labels)
            out[col] = by_label.reindex(items.labels).to_numpy()
    return out


def parse_labels(idmap: IdMap, raw: Sequence[str], role: str = "user") -> np.ndarray:
    """Convert ids typed as text to the label type of ``idmap``, checking they exist.

    Raises
    ------
    KeyError
        An id that is not in the model (a few known ids are suggested).

    Examples
    --------
    >>> parse_labels(IdMap(np.array([10, 20])), ["20"]).tolist()
    [20]
    """
    labels = np.asarray(idmap.labels)
    out: list[Any] = []
    for r in raw:
        try:
            out.append(int(r) if labels.dtype.kind in "iu" else str(r))
        except ValueError:
            out.append(None)
    bad = [r for r, v in zip(raw, out) if v is None or v not in idmap]
    if bad:
        raise KeyError(
            f"unknown {role} id {bad[0]!r} (the model has {len(labels):,} {role}s, "
            f"e.g. {', '.join(map(str, labels[:3].tolist()))})"
        )
    return np.asarray(out, dtype=labels.dtype)


def make_reranker(kind: str | None, model: Recommender, item_info: pd.DataFrame | None = None) -> Any:
    """A re-ranker for ``kind`` ("mmr"/"dpp"), or None when ``kind`` is None.

    Item similarity: cosine of multi-hot genres when ``item_info`` has a
    ``genres`` column ("|"-separated), else the model's item embeddings, else
    ``item_info["category"]`` (same category = similar).

    Raises
    ------
    ValueError
        Unknown ``kind``, or nothing to measure item similarity with.
    """
    if kind is None:
        return None
    from graphrec.rerank import DPP, MMR, RERANKERS

    if kind not in RERANKERS:
        raise ValueError(f"rerank must be one of {RERANKERS}, got {kind!r}")
    similarity: Any = "centered"
    if item_info is not None and "genres" in item_info.columns:
        similarity = item_info["genres"].fillna("").astype(str).str.get_dummies("|").to_numpy(np.float32)
    elif getattr(model, "item_embeddings_", None) is None:
        if item_info is None or "category" not in item_info.columns:
            raise ValueError(f"{type(model).__name__} has no item embeddings or genres to diversify with")
        similarity = item_info["category"].astype("category").cat.codes.to_numpy()
    return (MMR if kind == "mmr" else DPP)(similarity=similarity)


def recommend_table(
    model: Recommender,
    users: Sequence[Any],
    k: int = 10,
    *,
    item_info: pd.DataFrame | None = None,
    rerank: Any = None,
    explain: bool = False,
) -> pd.DataFrame:
    """Top-``k`` per user label: columns user, rank, item, score[, title][, because].

    ``users`` are labels of the model's users (:func:`parse_labels` converts typed
    ids); ``rerank`` is passed to :meth:`Recommender.recommend`. With ``explain``,
    ``because`` names the user's item with the largest share of the graph walks that
    lead to each recommendation (:func:`graphrec.explain.explain_recommendations`).

    Raises
    ------
    KeyError
        An unknown user id.
    """
    frame = model.recommend_frame(np.asarray(users), k, item_info=item_info, rerank=rerank)
    if explain and len(frame):
        from graphrec.explain import explain_recommendations

        because: list[Any] = []
        for user, group in frame.groupby("user", sort=False):
            u = int(model.users_.to_index([user])[0])
            items = model.items_.to_index(group["item"].to_numpy())
            why = explain_recommendations(model, u, items=items, top=1, level="item", item_info=item_info,
                                          ids="index")
            first = why.groupby("rec_rank")["label"].first()
            because += first.reindex(range(1, len(items) + 1)).fillna("no path").tolist()
        frame["because"] = [str(b).removeprefix("because of ") for b in because]
    return frame


def similar_table(
    model: Recommender, items: Sequence[Any], k: int = 10, *, item_info: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Most similar items per item label: columns item, rank, similar, score[, title].

    Raises
    ------
    AttributeError
        The model has no item embeddings.
    KeyError
        An unknown item id.
    """
    labels = np.asarray(items)
    idx, scores = model.similar_items(model.items_.to_index(labels), k)
    rows = np.nonzero(idx >= 0)
    frame = pd.DataFrame(
        {"item": labels[rows[0]], "rank": rows[1] + 1, "similar": model.items_.to_labels(idx[rows]),
         "score": scores[rows]}
    )
    if item_info is not None and "title" in item_info.columns:
        frame["title"] = item_info["title"].to_numpy()[idx[rows]]
    return frame


def evaluate_model(
    model: Recommender, test: Interactions, k: Sequence[int] = (10, 20), *, item_info: pd.DataFrame | None = None
) -> dict[str, Any]:
    """:func:`graphrec.evaluate`, with genre diversity when ``item_info`` has categories.

    Raises
    ------
    ValueError
        ``test`` is not on the model's user/item ids.
    """
    if test.users != model.users_ or test.items != model.items_:
        raise ValueError("the test data does not use the model's user/item ids (trained on other data?)")
    features = None
    if item_info is not None and "category" in item_info.columns:
        features = item_info["category"].to_numpy()
    return evaluate(model, test, k=tuple(k), item_features=features)
