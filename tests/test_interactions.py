"""Tests for graphrec.data.interactions.Interactions."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec import IdMap, Interactions
from graphrec.data.interactions import read_lightgcn_pairs


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "x", "7"]), st.integers(0, 30)),
        min_size=1, max_size=40, unique=True,
    )
)
def test_pandas_roundtrip(pairs):
    df = pd.DataFrame(pairs, columns=["user_id", "item_id"])
    df["r"] = np.arange(len(df), dtype=float)
    x = Interactions.from_pandas(df, rating="r")
    back = x.to_pandas()
    got = sorted(zip(back["user"], back["item"], back["weight"]))
    assert got == sorted(zip(df["user_id"], df["item_id"], df["r"]))
    assert x.nnz == len(df)
    assert x.to_csr().sum() == pytest.approx(df["r"].sum())


@settings(max_examples=60, deadline=None)
@given(
    u=st.lists(st.integers(0, 4), min_size=1, max_size=30),
    data=st.data(),
    policy=st.sampled_from(["sum", "max", "last", "first"]),
)
def test_duplicate_policies_match_pandas(u, data, policy):
    n = len(u)
    i = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    w = data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    t = data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    x = Interactions.from_arrays(u, i, weights=w, timestamps=t, duplicates=policy)
    df = pd.DataFrame({"u": u, "i": i, "w": w, "t": t, "row": range(n)})
    df = df.sort_values(["u", "i", "t", "row"])
    g = df.groupby(["u", "i"])
    if policy == "sum":
        exp = g["w"].sum()
    elif policy == "max":
        exp = g["w"].max()
    elif policy == "last":
        exp = g["w"].last()
    else:
        exp = g["w"].first()
    got = pd.Series(x.weights.astype(float),
                    index=pd.MultiIndex.from_arrays([x.users.to_labels(x.user_idx),
                                                     x.items.to_labels(x.item_idx)]))
    assert got.sort_index().to_dict() == pytest.approx(exp.astype(float).to_dict())
    exp_t = g["t"].max() if policy in ("sum", "max", "last") else g["t"].first()
    got_t = pd.Series(x.timestamps, index=got.index).sort_index()
    assert got_t.to_dict() == exp_t.to_dict()


def test_duplicates_without_timestamps_use_input_order():
    x = Interactions.from_arrays([0, 0, 0], [1, 1, 1], weights=[3, 1, 2], duplicates="last")
    assert x.nnz == 1 and x.weights.tolist() == [2.0]
    x = Interactions.from_arrays([0, 0, 0], [1, 1, 1], weights=[3, 1, 2], duplicates="first")
    assert x.weights.tolist() == [3.0]
    x = Interactions.from_arrays([0, 0, 1], [1, 1, 1])
    assert x.nnz == 2 and x.to_csr().toarray().tolist() == [[1.0], [1.0]]
    with pytest.raises(ValueError, match="duplicates"):
        Interactions.from_arrays([0], [0], duplicates="mean")


def test_min_rating_makes_implicit():
    df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "r": [5, 2, 4, 3.5]})
    x = Interactions.from_pandas(df, rating="r", min_rating=3.5)
    assert x.nnz == 3 and x.weights is None
    assert sorted(zip(x.to_pandas()["user"], x.to_pandas()["item"])) == [(1, 1), (2, 1), (2, 3)]
    with pytest.raises(ValueError, match="min_rating"):
        Interactions.from_pandas(df, rating="r", min_rating=6)
    with pytest.raises(ValueError, match="rating"):
        Interactions.from_pandas(df, min_rating=3)


def test_k_core():
    # users 0..2 all rate items 0..2; user 3 rates only item 3
    u = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 0]
    i = [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 3]
    x = Interactions.from_arrays(np.array(u) + 100, np.array(i) + 10)
    core = x.k_core(2, 2)
    assert (core.n_users, core.n_items, core.nnz) == (3, 3, 9)
    assert core.users.labels.tolist() == [100, 101, 102]
    assert core.items.labels.tolist() == [10, 11, 12]
    assert (core.user_degrees >= 2).all() and (core.item_degrees >= 2).all()
    with pytest.raises(ValueError, match="removes every"):
        x.k_core(10, 10)
    with pytest.raises(ValueError):
        x.k_core(0, 1)


def test_views_and_subset():
    x = Interactions.from_arrays([0, 0, 1], [0, 2, 1], n_users=3, n_items=4)
    assert (x.n_users, x.n_items, x.nnz, len(x)) == (3, 4, 3, 3)
    assert x.density == pytest.approx(3 / 12)
    assert x.user_degrees.tolist() == [2, 1, 0] and x.item_degrees.tolist() == [1, 1, 1, 0]
    assert x.users.is_identity
    s = x.subset(np.array([True, False, True]))
    assert s.users is x.users and s.nnz == 2
    assert x.subset([2]).item_idx.tolist() == [1]
    with pytest.raises(ValueError):
        x.subset(np.array([True]))
    c = x.compact()
    assert (c.n_users, c.n_items) == (2, 3)
    csr = x.to_csr()
    assert csr is x.to_csr() and csr.shape == (3, 4) and csr.has_sorted_indices
    with pytest.raises(ValueError):
        csr.data[0] = 5
    with pytest.raises(ValueError):
        x.user_idx[0] = 1
    y = pickle.loads(pickle.dumps(x))
    assert np.array_equal(y.item_idx, x.item_idx) and y.users == x.users
    assert "nnz=3" in repr(x)


def test_datetime_timestamps():
    df = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"],
                       "t": pd.to_datetime(["1970-01-01 00:00:10", "2000-01-01 00:00:00"])})
    x = Interactions.from_pandas(df, timestamp="t")
    assert x.timestamps.tolist() == [10, 946684800]


# ---------------------------------------------------------------------- bad input
def test_empty_input():
    with pytest.raises(ValueError, match="empty"):
        Interactions.from_arrays([], [])
    with pytest.raises(ValueError, match="empty"):
        Interactions.from_pandas(pd.DataFrame({"user_id": [], "item_id": []}))


def test_missing_or_misnamed_columns():
    df = pd.DataFrame({"user": [1], "item_id": [2]})
    with pytest.raises(KeyError, match="available columns"):
        Interactions.from_pandas(df)
    df = pd.DataFrame({"user_id": [1], "item_id": [2]})
    with pytest.raises(KeyError, match="rating"):
        Interactions.from_pandas(df, rating="stars")
    with pytest.raises(KeyError, match="timestamp"):
        Interactions.from_pandas(df, timestamp="when")
    with pytest.raises(TypeError):
        Interactions.from_pandas({"user_id": [1], "item_id": [2]})


@pytest.mark.parametrize("bad", [np.nan, None, "", "  "])
def test_missing_ids(bad):
    df = pd.DataFrame({"user_id": ["a", bad], "item_id": ["x", "y"]})
    with pytest.raises(ValueError, match="missing or empty"):
        Interactions.from_pandas(df)
    df = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", bad]})
    with pytest.raises(ValueError, match="item"):
        Interactions.from_pandas(df)


def test_nan_ids_in_arrays():
    with pytest.raises(ValueError, match="NaN"):
        Interactions.from_arrays([1.0, np.nan], [0, 1])


def test_non_numeric_ratings_and_timestamps():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "r": [4, "good"], "t": [1, "x"]})
    with pytest.raises(ValueError, match="'r'.*non-numeric"):
        Interactions.from_pandas(df, rating="r")
    with pytest.raises(ValueError, match="'t'.*non-numeric"):
        Interactions.from_pandas(df, timestamp="t")
    with pytest.raises(ValueError, match="weights"):
        Interactions.from_arrays([0, 1], [0, 1], weights=["a", "b"])
    with pytest.raises(ValueError, match="timestamps"):
        Interactions.from_arrays([0, 1], [0, 1], timestamps=[1.0, np.inf])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": [1.0, -1.0]}, "non-negative"),
        ({"weights": [1.0, np.nan]}, "NaN"),
        ({"weights": [1.0]}, "length"),
        ({"n_users": 1, "n_items": 5}, "user ids must lie"),
    ],
)
def test_bad_arrays(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Interactions.from_arrays([0, 1], [0, 1], **kwargs)


def test_constructor_checks():
    m = IdMap.identity(2)
    with pytest.raises(ValueError, match="lengths differ"):
        Interactions.from_arrays([0, 1], [0])
    with pytest.raises(ValueError, match="out of range"):
        Interactions([0, 2], [0, 1], users=m, items=m)
    with pytest.raises(ValueError, match="duplicate"):
        Interactions([0, 0], [1, 1], users=m, items=m)
    with pytest.raises(TypeError):
        Interactions([0], [0], users=[0, 1], items=m)
    with pytest.raises(ValueError, match="integers"):
        Interactions([0.5], [0], users=m, items=m)
    with pytest.raises(ValueError, match="integers"):
        Interactions.from_arrays(["a"], [0], n_users=2, n_items=2)


# ---------------------------------------------------------------------- files
def test_lightgcn_txt(tmp_path):
    p = tmp_path / "train.txt"
    p.write_text("0 1 2 3\n1 0\n\n3 2 1\n4\n")
    u, i = read_lightgcn_pairs(p)
    assert list(zip(u.tolist(), i.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 0), (3, 2), (3, 1)]
    x = Interactions.from_lightgcn_txt(p, n_users=6, n_items=5)
    assert (x.n_users, x.n_items, x.nnz) == (6, 5, 6) and x.users.is_identity


@pytest.mark.parametrize(
    "text, match",
    [("0 1 2\n1 x 3\n", "line 2"), ("0 1\n1 -2\n", "line 2.*negative"), ("0 1.5\n", "line 1"),
     ("\n\n", "no interactions"), ("3\n4\n", "no interactions")],
)
def test_malformed_lightgcn(tmp_path, text, match):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        Interactions.from_lightgcn_txt(p)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        Interactions.from_lightgcn_txt(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError):
        Interactions.from_csv(tmp_path / "nope.csv")


def test_csv(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("u;i;r;t\na;x;4;10\nb;x;3;5\na;y;5;7\n")
    x = Interactions.from_csv(p, "u", "i", "r", "t", sep=";")
    assert (x.n_users, x.n_items, x.nnz) == (2, 2, 3)
    assert x.users.labels.tolist() == ["a", "b"] and sorted(x.timestamps.tolist()) == [5, 7, 10]


def test_timezone_aware_timestamps_become_utc_seconds():
    t = pd.to_datetime(["2000-01-01 01:00:00", "2000-01-02 01:00:00"]).tz_localize("Europe/Paris")
    df = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "t": t})
    assert Interactions.from_pandas(df, timestamp="t").timestamps.tolist() == [946684800, 946771200]


def test_duplicate_rows_warn_with_count_and_error_policy_refuses():
    from graphrec.exceptions import DuplicateRowsWarning

    df = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3], "item_id": ["a", "a", "a", "b", "b", "c"]})
    with pytest.warns(DuplicateRowsWarning, match=r"merged 3 duplicate rows into 2 \(user, item\) pairs") as rec:
        x = Interactions.from_pandas(df)
    assert x.nnz == 3
    assert rec[0].filename == __file__  # points at the caller, not at graphrec's internals
    with pytest.raises(ValueError, match=r"3 rows repeat.*first: user 1, item 'a'.*duplicates="):
        Interactions.from_pandas(df, duplicates="error")
    with pytest.raises(ValueError, match="repeat"):
        Interactions.from_arrays([0, 0], [1, 1], n_users=1, n_items=2, duplicates="error")


def test_no_warning_without_duplicates():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Interactions.from_arrays([0, 1], [1, 1], duplicates="error")
    assert x.nnz == 2
