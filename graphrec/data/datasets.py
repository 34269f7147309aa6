"""Named datasets: the LightGCN benchmarks, Last.fm, MovieLens and the bundled sample.

``load(name)`` looks for the files of ``name`` under the data roots, in this order:

1. the ``root`` argument (when given, the only place searched);
2. the directory in the environment variable ``GRAPHREC_DATA``;
3. ``../shared/data`` beside the repository (the parent of the directory that holds
   the ``graphrec`` package), then ``../shared/data`` relative to the working directory;
4. ``~/.cache/graphrec`` (where ``download=True`` puts files by default).

Inside a root, each dataset lives in its own folder (``gowalla/``, ``lastfm/``,
``ml-latest-small/``); a root may also be that folder itself. ``"sample"`` is a
compressed copy of MovieLens latest-small shipped inside the package, so it needs no
data root and no network. :func:`synthetic` (defined in :mod:`graphrec.data.synthetic`,
reachable here as ``graphrec.datasets.synthetic``) generates a dataset with planted
communities.

This module is ``graphrec.datasets``: ``gr.datasets.load``, ``gr.datasets.available``,
``gr.datasets.data_roots``, ``gr.datasets.concat_interactions``, ``gr.datasets.synthetic``
and ``gr.datasets.Dataset``. It imports no torch and no scikit-learn, so ``graphrec
datasets`` starts quickly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from graphrec.data import _readers
from graphrec.data._readers import BUNDLED, read_bundled_sample
from graphrec.data.interactions import Interactions
from graphrec.data.splits import Split
from graphrec.exceptions import DatasetNotFoundError

if TYPE_CHECKING:
    from graphrec.data.synthetic import synthetic

__all__ = [
    "Dataset",
    "available",
    "concat_interactions",
    "data_roots",
    "load",
    "load_features",
    "read_bundled_sample",
    "synthetic",
]

logger = logging.getLogger(__name__)

CACHE = Path("~/.cache/graphrec")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A named dataset already split into train/test (and maybe validation).

    Parameters
    ----------
    name : str
    train, test : Interactions
        On the same IdMaps: internal indices agree between the parts.
    valid : Interactions, optional
    item_info : pandas.DataFrame, optional
        One row per internal item index (``0..n_items-1``, the frame's index) with
        columns such as the raw id, ``title``, ``genres`` and ``category``.
    user_info : pandas.DataFrame, optional
        One row per internal user index (e.g. the planted ``community``).
    source : str, optional
        Where the data was read from.

    Attributes
    ----------
    split : Split
        ``Split(train, test, valid)``; ``ds.split.report()`` counts cold users/items.
    all : Interactions
        Every interaction (train, then valid, then test rows) on the same IdMaps:
        the unsplit data, for re-splitting with :mod:`graphrec.data.splits`.
    n_users, n_items : int

    Examples
    --------
    >>> ds = load("sample")
    >>> ds.train.n_items == ds.test.n_items == len(ds.item_info)
    True
    """

    name: str
    train: Interactions
    test: Interactions
    valid: Interactions | None = None
    item_info: pd.DataFrame | None = field(default=None, repr=False)
    user_info: pd.DataFrame | None = field(default=None, repr=False)
    source: str | None = None

    @property
    def n_users(self) -> int:
        """Size of the user index space."""
        return self.train.n_users

    @property
    def n_items(self) -> int:
        """Size of the item index space."""
        return self.train.n_items

    @property
    def split(self) -> Split:
        """The parts as a :class:`~graphrec.data.splits.Split` (e.g. for ``split.report()``)."""
        return Split(self.train, self.test, self.valid)

    @cached_property
    def all(self) -> Interactions:
        """All rows (train, valid, test) as one Interactions on the same IdMaps."""
        return concat_interactions([p for p in (self.train, self.valid, self.test) if p is not None])

    def summary(self) -> dict:
        """Sizes and contents at a glance (for logs, the CLI and benchmark reports)."""
        x = self.all
        return {
            "name": self.name, "n_users": self.n_users, "n_items": self.n_items,
            "n_interactions": x.nnz, "n_train": self.train.nnz, "n_test": self.test.nnz,
            "n_valid": None if self.valid is None else self.valid.nnz, "density": x.density,
            "weights": x.weights is not None, "timestamps": x.timestamps is not None,
            "item_info": None if self.item_info is None else list(self.item_info.columns),
            "source": self.source,
        }

    def __repr__(self) -> str:
        valid = "" if self.valid is None else f", valid={self.valid.nnz:,}"
        return (
            f"Dataset({self.name!r}, n_users={self.n_users:,}, n_items={self.n_items:,}, "
            f"train={self.train.nnz:,}{valid}, test={self.test.nnz:,})"
        )


def concat_interactions(parts: list[Interactions]) -> Interactions:
    """Stack the rows of parts that share IdMaps (e.g. a split's train and test).

    Weights (timestamps) are kept only if every part has them.

    Raises
    ------
    ValueError
        No parts, parts on different IdMaps, or a (user, item) pair in two parts.
    """
    if not parts:
        raise ValueError("parts is empty")
    first = parts[0]
    for p in parts[1:]:
        if not (p.users == first.users and p.items == first.items):
            raise ValueError("parts are not on the same user/item IdMaps")

    def cat(attr: str) -> np.ndarray | None:
        arrays = [getattr(p, attr) for p in parts]
        return None if any(a is None for a in arrays) else np.concatenate(arrays)

    return Interactions(
        np.concatenate([p.user_idx for p in parts]),
        np.concatenate([p.item_idx for p in parts]),
        users=first.users,
        items=first.items,
        weights=cat("weights"),
        timestamps=cat("timestamps"),
    )


# ---------------------------------------------------------------------- loaders
_GH = "https://raw.githubusercontent.com/gusye1234/LightGCN-PyTorch/master/data"


@dataclass(frozen=True)
class _Spec:
    folders: tuple[str, ...]
    files: tuple[str, ...]
    reader: Callable[[Path], _readers.Parts]
    description: str
    urls: dict[str, str] = field(default_factory=dict)  # file name -> URL
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> checksum, where known
    zip_url: str | None = None  # MovieLens: one zip holding the files


_LIGHTGCN_FILES = ("train.txt", "test.txt")
_SPECS: dict[str, _Spec] = {
    "gowalla": _Spec(
        ("gowalla",), _LIGHTGCN_FILES, _readers.read_lightgcn,
        "Gowalla check-ins, the LightGCN split (29,858 users, 40,981 items)",
        urls={f: f"{_GH}/gowalla/{f}" for f in _LIGHTGCN_FILES},
        # sha256 of the reference copies (shared/data/README.md). That README says its
        # train.txt was rebuilt from the published adjacency matrix, so an upstream file
        # with the same pairs in another byte order would fail this check (error says so).
        sha256={
            "train.txt": "0f086326b28a56c2e6dcb81d86ee72d4ccb7eed3a8d26788392356d8f51111cc",
            "test.txt": "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
        },
    ),
    "yelp2018": _Spec(  # checksums unknown: not verified
        ("yelp2018",), _LIGHTGCN_FILES, _readers.read_lightgcn,
        "Yelp 2018, the LightGCN split (download only)",
        urls={f: f"{_GH}/yelp2018/{f}" for f in _LIGHTGCN_FILES},
    ),
    "lastfm": _Spec(  # checksums unknown: not verified
        ("lastfm",), ("data1.txt", "test1.txt"), _readers.read_lastfm,
        "Last.fm HetRec 2011, LightGCN's split (1,892 users, 4,489 artists; implicit)",
        urls={f: f"{_GH}/lastfm/{f}" for f in ("data1.txt", "test1.txt", "trustnetwork.txt")},
    ),
    "movielens-small": _Spec(  # verified against GroupLens' published .md5 (no sha256 known)
        ("ml-latest-small", "movielens-small"), ("ratings.csv", "movies.csv"), _readers.read_movielens,
        "MovieLens latest-small (610 users, 9,724 rated movies; ratings, time, titles, genres)",
        zip_url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    ),
    "sample": _Spec(
        ("bundled",), ("ratings.npz.xz", "movies.csv.xz"), _readers.read_sample,
        "bundled copy of MovieLens latest-small (no data root needed)",
    ),
}
_ALIASES = {"ml-latest-small": "movielens-small", "movielens": "movielens-small"}


def _spec(name: str) -> tuple[str, _Spec]:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _SPECS:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {sorted(_SPECS)}")
    return key, _SPECS[key]


def data_roots(root: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The directories searched for datasets, in order, each with why it is searched.

    With ``root`` given, only ``root``; otherwise ``$GRAPHREC_DATA``, ``../shared/data``
    beside the repository, ``../shared/data`` from the working directory, then
    ``~/.cache/graphrec``. Directories need not exist.
    """
    if root is not None:
        return [(Path(root).expanduser(), "the root argument")]
    found: list[tuple[Path, str]] = []
    env = os.environ.get("GRAPHREC_DATA")
    if env:
        found.append((Path(env).expanduser(), "$GRAPHREC_DATA"))
    found.append((Path(__file__).resolve().parents[3] / "shared" / "data", "../shared/data beside the repository"))
    found.append((Path.cwd().parent / "shared" / "data", "../shared/data from the working directory"))
    found.append((CACHE.expanduser(), "the user cache"))
    out, seen = [], set()
    for path, why in found:
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            out.append((path, why))
    return out


def _candidates(spec: _Spec, root: str | os.PathLike | None) -> list[tuple[Path, str]]:
    if spec.reader is _readers.read_sample:
        return [(BUNDLED, "the graphrec package")]
    return [(base / f, why) for base, why in data_roots(root) for f in spec.folders] + (
        [(Path(root).expanduser(), "the root argument (as the dataset folder)")] if root is not None else []
    )


def _find(name: str, root: str | os.PathLike | None) -> Path | None:
    _, spec = _spec(name)
    for folder, _why in _candidates(spec, root):
        if all((folder / f).is_file() for f in spec.files):
            return folder
    return None


def available(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Which datasets are on disk and where.

    Returns
    -------
    pandas.DataFrame
        Indexed by dataset name; columns ``found`` (bool), ``path`` (str or None)
        and ``description``.

    Examples
    --------
    >>> bool(available().loc["sample", "found"])
    True
    """
    rows = []
    for name, spec in _SPECS.items():
        folder = _find(name, root)
        rows.append(
            {"name": name, "found": folder is not None, "path": None if folder is None else str(folder),
             "description": spec.description}
        )
    return pd.DataFrame(rows).set_index("name")


def load(name: str, root: str | os.PathLike | None = None, *, download: bool = False) -> Dataset:
    """Load a named dataset, already split.

    Parameters
    ----------
    name : {"gowalla", "yelp2018", "lastfm", "movielens-small", "sample"}
        ``"ml-latest-small"`` and ``"movielens"`` are aliases of ``"movielens-small"``.
    root : path, optional
        Directory holding the dataset folders; see the module docstring for the
        places searched without it.
    download : bool, default False
        Fetch missing files from the authors' sites (needs internet) into ``root``,
        ``$GRAPHREC_DATA`` or ``~/.cache/graphrec``, verifying known checksums.

    Returns
    -------
    Dataset
        ``gowalla``/``yelp2018``: the LightGCN train/test files, ids used as indices.
        ``lastfm``: 0-based ids, implicit (weights dropped). ``movielens-small`` and
        ``sample``: ratings as weights, timestamps, a temporal per-user split (latest
        20% test, latest 10% of the rest valid) and titles/genres in ``item_info``.

    Raises
    ------
    KeyError
        Unknown name (the known names are listed).
    DatasetNotFoundError
        The files are in none of the places searched (all are listed, with how to get them).

    Examples
    --------
    >>> load("sample").name
    'sample'
    """
    key, spec = _spec(name)
    folder = _find(key, root)
    if folder is None and download and (spec.urls or spec.zip_url):
        from graphrec.data._download import fetch_dataset

        target = data_roots(root)[0][0] if (root is not None or os.environ.get("GRAPHREC_DATA")) else CACHE.expanduser()
        folder = fetch_dataset(target / spec.folders[0], spec.urls, spec.sha256, spec.zip_url)
    if folder is None:
        raise DatasetNotFoundError(_not_found_message(key, spec, root))
    logger.info("loading %s from %s", key, folder)
    parts = spec.reader(folder)
    source = f"bundled copy of MovieLens latest-small ({folder})" if key == "sample" else str(folder)
    return Dataset(key, *parts, source=source)


def load_features(name: str, on: Any, root: str | os.PathLike | None = None) -> Any:
    """Side information of a named dataset, on the IdMaps of ``on``.

    ``movielens-small``: item genres, tags (TF-IDF) and title decade
    (:func:`graphrec.data.features.movielens_features`); ``lastfm``: the user-user
    trust network (:func:`graphrec.data.features.lastfm_features`).

    Parameters
    ----------
    name : {"movielens-small", "lastfm"}
    on : Dataset or Interactions
        Whose IdMaps the features follow (e.g. ``load(name)``).
    root : path, optional
        As in :func:`load`.

    Returns
    -------
    graphrec.Features

    Raises
    ------
    KeyError
        A dataset without side information here.
    DatasetNotFoundError
        The files are not found.
    """
    from graphrec.data import features

    key, spec = _spec(name)
    readers = {"movielens-small": features.movielens_features, "lastfm": features.lastfm_features}
    if key not in readers:
        raise KeyError(f"no side information for {name!r}; known: {sorted(readers)}")
    folder = _find(key, root)
    if folder is None:
        raise DatasetNotFoundError(_not_found_message(key, spec, root))
    return readers[key](folder, on)


def _not_found_message(key: str, spec: _Spec, root: str | os.PathLike | None) -> str:
    looked = "\n".join(f"  {folder}  ({why})" for folder, why in _candidates(spec, root))
    source = spec.zip_url or ", ".join(spec.urls.values()) or "the graphrec package"
    return (
        f"dataset {key!r} not found: looked for {', '.join(spec.files)} in\n{looked}\n"
        f"To get it: graphrec.datasets.load({key!r}, download=True) fetches it (internet needed) "
        f"from {source}; or put the files in <root>/{spec.folders[0]}/ and pass root=<root> "
        f"or set GRAPHREC_DATA=<root>."
    )


def __getattr__(name: str) -> Any:
    # synthetic() builds a Dataset, so graphrec.data.synthetic imports this module;
    # it is reached from here on first use instead of by an import cycle.
    if name == "synthetic":
        from graphrec.data.synthetic import synthetic

        return synthetic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
