"""Saving and loading model state: arrays + JSON metadata, atomic and code-free.

A model directory holds ``arrays.npz`` (numpy arrays, written without pickle and
read with ``allow_pickle=False``, so loading never executes code) and
``meta.json`` (class name, hyperparameters, scalar state, library version and the
SHA-256 of the arrays file). Writes go to a temporary directory beside the target
that is renamed into place, so an interrupted save never leaves a half-written model.
A save never destroys what was there (:func:`check_target`): it refuses a regular
file and a non-empty folder that is not a graphrec model, replaces an existing model
only with ``overwrite=True``, and never deletes a file that graphrec did not write.
This module knows no model class: :func:`graphrec.load` maps the saved class
name to a class through the explicit registry in :mod:`graphrec.models`.
:func:`encode_state` / :func:`decode_attributes` say how fitted attributes
(arrays, sparse matrices, IdMaps, JSON scalars) are stored, for any estimator.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from graphrec.data.ids import IdMap

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILES",
    "ModelFileError",
    "ModelState",
    "OutputExistsError",
    "check_target",
    "decode_attributes",
    "encode_state",
    "read_state",
    "write_state",
]

FORMAT_VERSION = 1
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"
_SPARSE_PARTS = ("data", "indices", "indptr")
#: the files graphrec writes into a model folder (the model itself, and what the
#: application layer saves beside it); a folder holding anything else is never replaced
MODEL_FILES = frozenset({ARRAYS_FILE, META_FILE, "items.csv", "data.json"})


class ModelFileError(ValueError):
    """A model directory is missing, corrupt, tampered with or incompatible."""


class OutputExistsError(FileExistsError):
    """An output path holds something that writing there would replace or delete.

    The message names what is there and what to do (another path, or
    ``overwrite=True`` / ``--force`` for an existing graphrec model).
    """


def _model_class_at(path: Path) -> str | None:
    """The class name of the graphrec model in folder ``path``, or None if it holds none."""
    try:
        meta = json.loads((path / META_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict) or "class" not in meta or "format_version" not in meta:
        return None
    return str(meta["class"]) if (path / ARRAYS_FILE).is_file() else None


def _children_at(path: Path) -> list[str]:
    """The nested model folders (an ensemble's members) that the model at ``path`` lists."""
    try:
        children = json.loads((path / META_FILE).read_text()).get("children", [])
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return []
    if not isinstance(children, list):
        return []
    return [c for c in children if isinstance(c, str) and _model_class_at(path / c) is not None]


def _listing(names: list[str], n: int = 4) -> str:
    shown = ", ".join(sorted(names)[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def check_target(path: str | os.PathLike, *, overwrite: bool = False) -> str:
    """Check that a model can be written to ``path`` without destroying anything.

    Called by :meth:`graphrec.Recommender.save` and, before any training starts, by
    ``graphrec train --out``.

    Parameters
    ----------
    path : path
        The model folder to write.
    overwrite : bool, default False
        Allow replacing an existing graphrec model folder (``--force``).

    Returns
    -------
    str
        ``"new"`` (nothing there), ``"empty"`` (an empty folder) or ``"model"`` (a
        graphrec model that ``overwrite=True`` allows replacing).

    Raises
    ------
    OutputExistsError
        ``path`` is a file; a folder that is not a graphrec model and not empty; a
        graphrec model and ``overwrite`` is False; or a model folder that also holds
        files graphrec did not write (replacing it would delete them).

    Examples
    --------
    >>> check_target("no/such/folder")
    'new'
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return "new"
    if not path.is_dir():
        raise OutputExistsError(
            f"{path} is an existing file, not a model folder; graphrec will not replace it: "
            "choose a new folder name"
        )
    entries = [p.name for p in path.iterdir()]
    if not entries:
        return "empty"
    cls = _model_class_at(path)
    if cls is None:
        raise OutputExistsError(
            f"{path} is a folder that is not a graphrec model (it holds {_listing(entries)}); "
            "graphrec never deletes files it did not write: choose a new or empty folder"
        )
    foreign = [e for e in entries if e not in MODEL_FILES and e not in _children_at(path)]
    if foreign:
        raise OutputExistsError(
            f"{path} holds a graphrec {cls} model and other files ({_listing(foreign)}); "
            "replacing it would delete them: move them, or choose a new folder"
        )
    if not overwrite:
        raise OutputExistsError(
            f"{path} already holds a graphrec {cls} model; pass overwrite=True (on the "
            "command line --force) to replace it, or choose a new folder"
        )
    return "model"


@dataclass
class ModelState:
    """Everything needed to rebuild a fitted model."""

    class_name: str
    params: dict[str, Any]
    arrays: dict[str, np.ndarray]
    attributes: dict[str, Any]
    library_version: str = ""
    #: states of nested models (an ensemble's members), each written to its own
    #: sub-directory of the model directory under its key, in this order
    children: dict[str, ModelState] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_state(
    path: str | os.PathLike,
    state: ModelState,
    *,
    overwrite: bool = False,
    files: dict[str, str] | None = None,
) -> Path:
    """Write ``state`` to directory ``path`` atomically (temp dir beside it, then rename).

    Parameters
    ----------
    path : path
    state : ModelState
    overwrite : bool, default False
        Allow replacing an existing graphrec model (see :func:`check_target`).
    files : dict of str to str, optional
        Extra text files written into the folder before it is renamed into place
        (names from :data:`MODEL_FILES`, e.g. ``items.csv``), so the folder appears
        complete or not at all.

    Raises
    ------
    TypeError
        An array has object dtype, or params/attributes are not JSON-serialisable.
    OutputExistsError
        See :func:`check_target`; nothing is written.
    ValueError
        A name in ``files`` that is not one of :data:`MODEL_FILES`.
    """
    from graphrec import __version__

    path = Path(path)
    for name, arr in state.arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.kind == "O":
            raise TypeError(f"state array {name!r} must be a non-object numpy array")
    extra = dict(files or {})
    bad = sorted(set(extra) - MODEL_FILES)
    if bad:
        raise ValueError(f"files may only name {sorted(MODEL_FILES)}, got {bad}")
    check_target(path, overwrite=overwrite)
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
    old: Path | None = None
    try:
        for name, content in extra.items():
            (tmp / name).write_text(content, encoding="utf-8")
        _write_files(tmp, state, __version__)  # meta.json last: the folder is a model once it is there
        # checked again right before the swap: only an empty folder or a graphrec model
        # (holding nothing graphrec did not write) is ever moved aside and deleted
        if check_target(path, overwrite=overwrite) == "model":
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / "model")
        elif path.is_dir():
            path.rmdir()  # empty; rmdir refuses if a file appeared meanwhile
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None and not path.exists():
                os.replace(old / "model", path)  # put the previous model back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not any(old.iterdir()):
            old.rmdir()
        raise
    return path


def _write_files(folder: Path, state: ModelState, version: str) -> None:
    """Write ``state``'s arrays and metadata into the existing ``folder``; children into sub-folders."""
    for name, arr in state.arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.kind == "O":
            raise TypeError(f"state array {name!r} must be a non-object numpy array")
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "class": state.class_name,
        "params": state.params,
        "attributes": state.attributes,
        "library_version": version,
    }
    if state.children:
        for key, child in state.children.items():
            if not key.replace("_", "").isalnum() or key in MODEL_FILES:
                raise ValueError(f"child state name must be alphanumeric (underscores allowed), got {key!r}")
            (folder / key).mkdir()
            _write_files(folder / key, child, version)
        meta["children"] = list(state.children)
    with open(folder / ARRAYS_FILE, "wb") as fh:
        np.savez(fh, **state.arrays)  # type: ignore[arg-type]  # numpy's stub reads the 2nd positional
    meta["arrays_sha256"] = _sha256(folder / ARRAYS_FILE)
    try:
        text = json.dumps(meta, indent=1, allow_nan=True)
    except TypeError as exc:
        raise TypeError(f"model params/attributes are not JSON-serialisable: {exc}") from exc
    (folder / META_FILE).write_text(text)


def read_state(path: str | os.PathLike) -> ModelState:
    """Read a directory written by :func:`write_state`, verifying its checksum.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        Missing files, invalid JSON, checksum mismatch (corrupt or tampered
        arrays), or a format version this library cannot read.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model directory at {path}")
    meta_path, arrays_path = path / META_FILE, path / ARRAYS_FILE
    for p in (meta_path, arrays_path):
        if not p.exists():
            raise ModelFileError(f"{path} is not a graphrec model directory: {p.name} is missing")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{meta_path} is not valid JSON (corrupt file?): {exc}") from exc
    if not isinstance(meta, dict) or "class" not in meta:
        raise ModelFileError(f"{meta_path} lacks the model class")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version!r}; this graphrec reads version {FORMAT_VERSION}"
        )
    if _sha256(arrays_path) != meta.get("arrays_sha256"):
        raise ModelFileError(f"{arrays_path} does not match its checksum: corrupt or modified")
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as exc:
        raise ModelFileError(f"cannot read {arrays_path}: {exc}") from exc
    children = meta.get("children", [])
    if not isinstance(children, list) or not all(
        isinstance(c, str) and c.replace("_", "").isalnum() for c in children
    ):
        raise ModelFileError(f"{meta_path} has an invalid list of nested models: {children!r}")
    return ModelState(
        class_name=meta["class"],
        params=meta.get("params", {}),
        arrays=arrays,
        attributes=meta.get("attributes", {}),
        library_version=meta.get("library_version", ""),
        children={c: read_state(path / c) for c in children},
    )


def encode_state(class_name: str, params: dict[str, Any], attributes: dict[str, Any]) -> ModelState:
    """A :class:`ModelState` from hyperparameters and fitted attributes.

    numpy arrays are stored as arrays, scipy sparse matrices as their CSR parts,
    :class:`graphrec.IdMap` as its labels, everything else as JSON.

    Raises
    ------
    TypeError
        A value that cannot be stored without pickle (named in the message).
    """
    arrays: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {}
    for name, value in attributes.items():
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, sp.sparray | sp.spmatrix):
            csr = sp.csr_array(value)
            for part in _SPARSE_PARTS:
                arrays[f"{name}::{part}"] = getattr(csr, part)
            attrs[name] = {"__sparse__": list(csr.shape)}
        elif isinstance(value, IdMap):
            arrays[f"{name}::labels"] = np.asarray(value.labels)
            attrs[name] = {"__idmap__": True}
        else:
            attrs[name] = _jsonable(value, name)
    return ModelState(class_name, {k: _jsonable(v, k) for k, v in params.items()}, arrays, attrs)


def decode_attributes(state: ModelState) -> dict[str, Any]:
    """The fitted attributes stored by :func:`encode_state`, rebuilt."""
    out: dict[str, Any] = {}
    for name, value in state.attributes.items():
        if isinstance(value, dict) and "__sparse__" in value:
            parts = [state.arrays[f"{name}::{p}"] for p in _SPARSE_PARTS]
            value = sp.csr_array(tuple(parts), shape=tuple(value["__sparse__"]))
        elif isinstance(value, dict) and "__idmap__" in value:
            value = IdMap(state.arrays[f"{name}::labels"])
        out[name] = value
    for name, arr in state.arrays.items():
        if "::" not in name:
            out[name] = arr
    return out


def _jsonable(value: Any, name: str) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, name) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, name) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"attribute {name!r} of type {type(value).__name__} cannot be saved")
