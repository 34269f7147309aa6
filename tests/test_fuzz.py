"""Property/fuzz suite (hypothesis): malformed input either loads or fails with a clear graphrec error.

Every loader (CSV, TSV, Parquet, LightGCN text, DataFrame, arrays, the ``Interactions``
constructor), the splits, save/load and the command line get random inputs. Each
case must

* load (and the result must hold its invariants), or
* raise one of the errors graphrec documents (``ValueError`` and its subclasses such
  as :class:`~graphrec.exceptions.MalformedFileError`, ``KeyError`` for a missing
  column or id, ``TypeError``, ``OSError`` for files) *from a ``raise`` statement in
  graphrec's own code* -- not an exception that escaped from deep inside pandas,
  numpy or torch, whose message would not name the column, line or parameter;
* finish within :data:`CASE_SECONDS` (a SIGALRM guard turns a hang into a failure).

A saved-then-loaded model must score identically. Hypothesis runs derandomized
(the same cases every run); ``GRAPHREC_FUZZ_PROFILE=ci`` runs fewer cases, ``=report`` more.
``GRAPHREC_FUZZ_REPORT=FILE`` writes the per-class counts of cases and outcomes
(the table in docs/reliability.md) as JSON at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import string
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphrec as gr
from graphrec.data.ids import IdMap

#: this module's settings (applied per test, so other modules' hypothesis settings are untouched):
#: derandomized, no example database; GRAPHREC_FUZZ_PROFILE=ci runs fewer cases, =report more
_EXAMPLES = {"default": 40, "ci": 15, "report": 200}[os.environ.get("GRAPHREC_FUZZ_PROFILE", "default")]
FUZZ = settings(max_examples=_EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def fewer(n: int) -> settings:
    """FUZZ with ``n`` cases for a slow property (fewer under the ci profile, never more)."""
    return settings(FUZZ, max_examples=max(3, n * min(_EXAMPLES, 40) // 40))

CASE_SECONDS = 10.0
#: the errors graphrec documents for bad input (ValueError covers MalformedFileError,
#: ColdStartError, ModelFileError, CheckpointError; KeyError covers UnknownIdError)
CLEAR = (ValueError, KeyError, TypeError, OSError)
OUTCOMES: dict[str, Counter] = defaultdict(Counter)
MESSAGES: dict[str, list[str]] = defaultdict(list)  # a few error messages per class, for the report


class Hang(BaseException):
    """A case ran past CASE_SECONDS."""


@contextlib.contextmanager
def time_limit(seconds: float = CASE_SECONDS) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def raised_by_graphrec(exc: BaseException) -> bool:
    """Whether ``exc`` comes from a ``raise`` statement in graphrec's own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    parts = Path(last.filename).parts
    return "graphrec" in parts and "tests" not in parts and (last.line or "").lstrip().startswith("raise")


def attempt(kind: str, fn: Callable[[], Any]) -> Any:
    """Run one case: its result, or None after a clear graphrec error; fail on anything else."""
    try:
        with time_limit():
            result = fn()
    except CLEAR as exc:
        if not raised_by_graphrec(exc):
            OUTCOMES[kind]["escaped"] += 1
            raise AssertionError(f"{kind}: {type(exc).__name__} escaped from inside a library: {exc}") from exc
        assert len(str(exc)) > 10, f"{kind}: uninformative message {exc!r}"
        OUTCOMES[kind][f"error: {type(exc).__name__}"] += 1
        text = f"{type(exc).__name__}: {str(exc).replace(str(Path.cwd()), '.')}"
        text = re.sub(r"\S*pytest-of-\S*/", "", text)[:150]  # the temporary folder is noise
        if len(MESSAGES[kind]) < 4 and not any(m[:30] == text[:30] for m in MESSAGES[kind]):
            MESSAGES[kind].append(text)
        return None
    except Hang:
        OUTCOMES[kind]["hang"] += 1
        raise
    except Exception:
        OUTCOMES[kind]["other exception"] += 1
        raise
    OUTCOMES[kind]["loaded"] += 1
    return result


def check_interactions(x: gr.Interactions) -> None:
    assert isinstance(x, gr.Interactions) and x.nnz > 0
    assert x.user_idx.dtype == np.int64 and x.item_idx.dtype == np.int64
    assert 0 <= x.user_idx.min() and x.user_idx.max() < x.n_users
    assert 0 <= x.item_idx.min() and x.item_idx.max() < x.n_items
    keys = x.user_idx * x.n_items + x.item_idx
    assert len(np.unique(keys)) == x.nnz  # duplicates merged
    if x.weights is not None:
        assert np.isfinite(x.weights).all() and (x.weights >= 0).all()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    target = os.environ.get("GRAPHREC_FUZZ_REPORT")
    if target:
        out = {k: {"outcomes": dict(v), "messages": MESSAGES[k]} for k, v in sorted(OUTCOMES.items())}
        Path(target).write_text(json.dumps(out, indent=1, ensure_ascii=False))


# ---------------------------------------------------------------------- strategies
ID_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " _-.é中\t", min_size=0, max_size=6)
CELL = st.one_of(
    ID_TEXT,
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "nan", "None", "inf", "-1", "1e400", '"', '""', "'", "\\", "\x00", "a,b", '"x,y"',
                     "2024-01-01", "2024-13-45", "true"]),
)
HEADER = st.lists(st.sampled_from(["user_id", "item_id", "rating", "timestamp", "title", "", "user_id ", "x"]),
                  min_size=0, max_size=5)


GOOD_CELL = st.one_of(st.integers(0, 9).map(str), st.sampled_from(["a", "b", "u1", "i 2", "中"]))


@st.composite
def csv_text(draw: Any, sep: str = ",") -> str:
    """Mostly near-valid tables (the id columns present, a few bad cells), some noise."""
    if draw(st.integers(0, 9)) < 7:
        extra = draw(st.lists(st.sampled_from(["rating", "timestamp", "title", "x"]), unique=True, max_size=3))
        header = ["user_id", "item_id", *extra]
        width = len(header)
        cell = st.one_of(*([GOOD_CELL] * 40), CELL)
        exact = st.lists(cell, min_size=width, max_size=width)
        row = st.one_of(*([exact] * 12), st.lists(cell, max_size=width + 2))
        rows = draw(st.lists(row, min_size=1, max_size=8))
    else:
        header = draw(HEADER)
        rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=6), min_size=0, max_size=12))
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    text = "\n".join(lines)
    if draw(st.booleans()):
        text += "\n"
    if draw(st.integers(0, 9)) == 0:  # raw noise
        text = draw(st.text(max_size=200))
    return text


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(data)
    return path


# ---------------------------------------------------------------------- file loaders
@FUZZ
@given(text=csv_text(), rating=st.sampled_from([None, "rating"]), timestamp=st.sampled_from([None, "timestamp"]),
       min_rating=st.sampled_from([None, 3.0]))
def test_csv_loads_or_names_the_problem(tmp_path: Path, text: str, rating: str | None, timestamp: str | None,
                                        min_rating: float | None) -> None:
    path = write(tmp_path, "r.csv", text)
    x = attempt("CSV text (header, cells, quotes, noise)", lambda: gr.Interactions.from_csv(
        path, rating=rating, timestamp=timestamp, min_rating=min_rating if rating else None))
    if x is not None:
        check_interactions(x)


@FUZZ
@given(text=csv_text(sep="\t"))
def test_tsv_and_sniffed_tables_load_or_name_the_problem(tmp_path: Path, text: str) -> None:
    from graphrec.data._readers import read_table

    path = write(tmp_path, "r.tsv", text)
    df = attempt("TSV / sniffed separator (read_table)", lambda: read_table(path))
    if df is not None:
        assert isinstance(df, pd.DataFrame) and len(df) > 0
    path2 = write(tmp_path, "r.txt", text.replace("\t", ";"))
    attempt("TSV / sniffed separator (read_table)", lambda: read_table(path2, sep=None))


@FUZZ
@given(data=st.binary(max_size=300))
def test_binary_garbage_files_are_refused_clearly(tmp_path: Path, data: bytes) -> None:
    for name in ("g.csv", "g.parquet", "g.txt"):
        path = write(tmp_path, name, data)
        if name == "g.txt":
            attempt("binary garbage (csv/parquet/lightgcn)", lambda p=path: gr.Interactions.from_lightgcn_txt(p))
        else:
            attempt("binary garbage (csv/parquet/lightgcn)", lambda p=path: gr.Interactions.from_csv(p))


COLUMN = st.one_of(
    st.lists(st.integers(-5, 50), min_size=1, max_size=15),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=15),
    st.lists(st.one_of(st.none(), ID_TEXT), min_size=1, max_size=15),
    st.lists(st.one_of(st.integers(0, 9), ID_TEXT, st.none()), min_size=1, max_size=15),
    st.lists(st.booleans(), min_size=1, max_size=15),
)


@st.composite
def frames(draw: Any) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    cols = {}
    for name in draw(st.lists(st.sampled_from(["user_id", "item_id", "rating", "timestamp", "x"]), unique=True,
                              max_size=5)):
        values = draw(COLUMN)
        cols[name] = (values * (n // len(values) + 1))[:n]
    df = pd.DataFrame(cols)
    if "timestamp" in df and draw(st.booleans()):
        df["timestamp"] = pd.to_datetime(df["timestamp"], errors="coerce", unit="s")
    return df


@FUZZ
@given(df=frames())
def test_parquet_loads_or_names_the_problem(tmp_path: Path, df: pd.DataFrame) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    try:
        df.to_parquet(path)
    except Exception:  # noqa: BLE001 - a frame pyarrow itself cannot store: not graphrec's input
        return
    has = [c for c in ("rating", "timestamp") if c in df]
    x = attempt("Parquet (random column types)", lambda: gr.Interactions.from_parquet(
        path, rating="rating" if "rating" in has else None, timestamp="timestamp" if "timestamp" in has else None))
    if x is not None:
        check_interactions(x)


LGCN_TOKEN = st.one_of(st.integers(-3, 30).map(str), st.sampled_from(["", "x", "1.5", "+3", "٣", "99999999999999999999",
                                                                      "1e3", "\t", "0x1", "-0"]))


@FUZZ
@given(lines=st.lists(st.lists(LGCN_TOKEN, max_size=6), max_size=8), n_items=st.sampled_from([None, 5, 40]))
def test_lightgcn_text_loads_or_names_the_line(tmp_path: Path, lines: list[list[str]], n_items: int | None) -> None:
    path = write(tmp_path, "train.txt", "\n".join(" ".join(t) for t in lines))
    x = attempt("LightGCN text (tokens, lines)", lambda: gr.Interactions.from_lightgcn_txt(path, n_items=n_items))
    if x is not None:
        check_interactions(x)


# ---------------------------------------------------------------------- in-memory constructors
@FUZZ
@given(df=frames(), rating=st.sampled_from([None, "rating", "nope"]), timestamp=st.sampled_from([None, "timestamp"]),
       duplicates=st.sampled_from(["sum", "max", "last", "first", "mean"]),
       min_rating=st.sampled_from([None, 2.0, float("nan")]))
def test_dataframe_loads_or_names_the_problem(df: pd.DataFrame, rating: str | None, timestamp: str | None,
                                              duplicates: str, min_rating: float | None) -> None:
    x = attempt("DataFrame (from_pandas)", lambda: gr.Interactions.from_pandas(
        df, rating=rating, timestamp=timestamp, duplicates=duplicates, min_rating=min_rating))  # type: ignore[arg-type]
    if x is not None:
        check_interactions(x)


ARRAY = st.one_of(
    hnp.arrays(st.sampled_from([np.int64, np.int32, np.float64, np.uint8, np.bool_]), st.integers(0, 10)),
    hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 3))),
    st.lists(st.one_of(st.integers(-2, 20), ID_TEXT, st.none(), st.floats()), max_size=10),
)


@FUZZ
@given(users=ARRAY, items=ARRAY, weights=st.one_of(st.none(), ARRAY), timestamps=st.one_of(st.none(), ARRAY),
       n_users=st.sampled_from([None, 0, 3, 25, -1]), n_items=st.sampled_from([None, 5, 25, 2.5]))
def test_arrays_load_or_name_the_problem(users: Any, items: Any, weights: Any, timestamps: Any,
                                         n_users: Any, n_items: Any) -> None:
    x = attempt("arrays (from_arrays)", lambda: gr.Interactions.from_arrays(
        users, items, weights=weights, timestamps=timestamps, n_users=n_users, n_items=n_items))
    if x is not None:
        check_interactions(x)


@st.composite
def near_valid_arrays(draw: Any) -> tuple[Any, Any, Any]:
    """Equal-length id lists, mostly good ids, an occasional bad one (None, NaN, inf, a negative, text)."""
    n = draw(st.integers(1, 12))
    bad = st.sampled_from([None, float("nan"), float("inf"), -1, "", 1.5, True])
    cell = st.one_of(*([st.integers(0, 9)] * 6), ID_TEXT, bad)
    users = draw(st.lists(cell, min_size=n, max_size=n))
    items = draw(st.lists(cell, min_size=n, max_size=n))
    weights = draw(st.one_of(st.none(), st.lists(st.one_of(st.floats(0, 5), st.floats()), min_size=n, max_size=n)))
    return users, items, weights


@FUZZ
@given(arrays=near_valid_arrays(), n_users=st.sampled_from([None, None, 10, 5]),
       duplicates=st.sampled_from(["sum", "max", "last", "first"]))
def test_near_valid_arrays_load_or_name_the_bad_value(arrays: tuple[Any, Any, Any], n_users: Any,
                                                       duplicates: str) -> None:
    users, items, weights = arrays
    x = attempt("arrays, near valid (from_arrays)", lambda: gr.Interactions.from_arrays(
        users, items, weights=weights, n_users=n_users, duplicates=duplicates))  # type: ignore[arg-type]
    if x is not None:
        check_interactions(x)
        assert x.nnz <= len(users)


@FUZZ
@given(u=ARRAY, i=ARRAY, n_users=st.integers(1, 30), n_items=st.integers(1, 30),
       weights=st.one_of(st.none(), ARRAY))
def test_constructor_checks_its_arrays(u: Any, i: Any, n_users: int, n_items: int, weights: Any) -> None:
    users, items = IdMap(np.arange(n_users)), IdMap(np.arange(n_items))
    x = attempt("Interactions constructor", lambda: gr.Interactions(u, i, users=users, items=items, weights=weights))
    if x is not None and x.nnz:
        check_interactions(x)


# ---------------------------------------------------------------------- splits
SIZE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2, 12), st.sampled_from(["0.2", None]))


@st.composite
def small_interactions(draw: Any) -> gr.Interactions:
    n = draw(st.integers(1, 40))
    users = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 7)))
    items = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 9)))
    ts = draw(st.one_of(st.none(), hnp.arrays(np.float64, n, elements=st.floats(0, 1e9))))
    return gr.Interactions.from_arrays(users, items, timestamps=ts)


@FUZZ
@given(x=small_interactions(), size=SIZE, seed=st.one_of(st.none(), st.integers(-1, 2**32), st.just("seed")),
       how=st.sampled_from(["random_holdout", "leave_last_out", "temporal_split", "validation_split"]))
def test_splits_partition_or_name_the_parameter(x: gr.Interactions, size: Any, seed: Any, how: str) -> None:
    def run() -> Any:
        if how == "random_holdout":
            return gr.splits.random_holdout(x, test_size=size, random_state=seed)
        if how == "leave_last_out":
            return gr.splits.leave_last_out(x, n=size if size is not None else 1)
        if how == "temporal_split":
            return gr.splits.temporal_split(x, test_size=size)
        return gr.splits.validation_split(x, size, random_state=seed)

    sp = attempt(f"splits ({how})", run)
    if sp is None:
        return
    parts = [p for p in (sp.train, sp.test, getattr(sp, "valid", None)) if p is not None]
    keys = [set((p.user_idx * x.n_items + p.item_idx).tolist()) for p in parts]
    assert sum(len(k) for k in keys) == x.nnz and set().union(*keys) == set((x.user_idx * x.n_items
                                                                              + x.item_idx).tolist())


# ---------------------------------------------------------------------- save / load
MODEL_FACTORIES = {
    "Popularity": lambda: gr.Popularity(),
    "MF": lambda: gr.MF(embedding_dim=4, epochs=1, batch_size=64, random_state=0, device="cpu"),
    "LightGCN": lambda: gr.LightGCN(embedding_dim=4, n_layers=1, epochs=1, batch_size=64, random_state=0,
                                    device="cpu"),
    "GraphFilter": lambda: gr.GraphFilter(n_components=2, random_state=0),
}


@fewer(12)
@given(x=small_interactions(), name=st.sampled_from(sorted(MODEL_FACTORIES)))
def test_saved_then_loaded_model_scores_identically(tmp_path_factory: pytest.TempPathFactory, x: gr.Interactions,
                                                     name: str) -> None:
    model = attempt(f"save/load round trip ({name})", lambda: MODEL_FACTORIES[name]().fit(x))
    if model is None:
        return
    path = tmp_path_factory.mktemp("m") / "model"
    model.save(path)
    loaded = gr.load(path)
    users = np.arange(x.n_users)
    np.testing.assert_array_equal(loaded.score(users, ids="index") if _has_ids(model) else loaded.score(users),
                                  model.score(users, ids="index") if _has_ids(model) else model.score(users))


def _has_ids(model: Any) -> bool:
    import inspect

    return "ids" in inspect.signature(model.score).parameters


@fewer(25)
@given(cut=st.floats(0, 1), junk=st.binary(max_size=40), which=st.sampled_from(["meta.json", "arrays.npz"]),
       mode=st.sampled_from(["truncate", "append", "replace", "json"]))
def test_damaged_model_directories_are_refused_clearly(tmp_path_factory: pytest.TempPathFactory, cut: float,
                                                       junk: bytes, which: str, mode: str) -> None:
    x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2])
    path = tmp_path_factory.mktemp("bad") / "model"
    gr.Popularity().fit(x).save(path)
    target = path / which
    data = target.read_bytes()
    if mode == "truncate":
        target.write_bytes(data[: int(len(data) * cut)])
    elif mode == "append":
        target.write_bytes(data + junk)
    elif mode == "replace":
        target.write_bytes(junk)
    else:
        target.write_text(json.dumps({"class": junk.hex()[:8] or "X", "format_version": 1, "params": {"k": cut}}))
    attempt("damaged model directory (gr.load)", lambda: gr.load(path))


# ---------------------------------------------------------------------- the command line
FLAG_VALUES = st.sampled_from(["", "0", "-1", "5", "1e9", "nan", "x", "--", "-p", "lr=", "=", "lr=abc", "n_layers=-2",
                               "embedding_dim=0", "none", "sample", "__DATA__", "__DIR__", "__MODEL__", "√", "0.5"])
FLAGS = st.sampled_from(["--dataset", "--model", "--out", "--k", "--user", "--item", "--epochs", "--embedding-dim",
                         "--time-budget", "--seed", "--device", "-p", "--user-col", "--item-col", "--rating-col",
                         "--time-col", "--min-rating", "--test-size", "--resume", "--checkpoint-dir", "--json",
                         "--exclude-seen", "--force", "--root"])
COMMAND = st.sampled_from(["train", "evaluate", "recommend", "similar", "models", "datasets", "nonsense", ""])


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli-fuzz")
    data = root / "r.csv"
    pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5], "item_id": [1, 2, 2, 3, 3, 4, 4, 5, 5, 1]}).to_csv(
        data, index=False)
    model = root / "model"
    gr.Popularity().fit(gr.Interactions.from_csv(data)).save(model)
    return {"__DATA__": str(data), "__DIR__": str(root), "__MODEL__": str(model)}


@fewer(60)
@given(command=COMMAND, rest=st.lists(st.tuples(FLAGS, FLAG_VALUES), max_size=5),
       model=st.sampled_from(["popularity", "mf", "graphfilter", "nope", ""]))
def test_cli_arguments_end_in_an_exit_code_and_one_clear_line(cli_files: dict[str, str], command: str,
                                                               rest: list[tuple[str, str]], model: str,
                                                               capsys: pytest.CaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    from graphrec import cli

    out_dir = tmp_path_factory.mktemp("out")
    files = {**cli_files, "__DIR__": str(out_dir)}
    argv = ["--quiet", command] if command else ["--quiet"]
    if command in ("train", "evaluate") and model:
        argv.append(model) if command == "train" else argv.extend(["--model", model])
    for flag, value in rest:
        argv += [flag, files.get(value, value)]
    if command == "train":
        argv += ["--epochs", "1", "--out", str(out_dir / "m")]
    seen: list[BaseException] = []
    real = cli.one_line

    def spy(exc: BaseException) -> str:
        seen.append(exc)
        return real(exc)

    monkeypatch.setattr(cli, "one_line", spy)
    code = attempt("command line (random argv)", lambda: cli.main(argv))
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, code)
    assert "Traceback" not in err, (argv, err)
    for exc in seen:  # an error line: it must come from graphrec's own checks
        ok = isinstance(exc, (*CLEAR, cli.UsageError)) and raised_by_graphrec(exc)
        OUTCOMES["command line (random argv)"]["error line from graphrec" if ok else "escaped"] += 1
        assert ok, (argv, f"{type(exc).__name__}: {exc}", traceback.format_tb(exc.__traceback__)[-1])
