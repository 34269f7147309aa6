"""Tests for graphrec.data.ids.IdMap."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec import IdMap

int_labels = st.lists(st.integers(-(2**62), 2**62), unique=True, max_size=50)
# A trailing NUL is refused (numpy str arrays would drop it): see test_trailing_nul_is_refused.
str_labels = st.lists(
    st.text(min_size=1, max_size=8).filter(lambda t: not t.endswith("\x00")),
    unique=True, max_size=50,
)


@settings(max_examples=80, deadline=None)
@given(labels=st.one_of(int_labels, str_labels), data=st.data())
def test_roundtrip(labels, data):
    m = IdMap(labels)
    assert len(m) == len(labels)
    idx = np.arange(len(labels))
    assert m.to_labels(idx).tolist() == list(labels)
    if labels:
        assert m.to_index(labels).tolist() == idx.tolist()
        pick = data.draw(st.lists(st.sampled_from(labels), max_size=10))
        if pick:
            assert m.to_labels(m.to_index(pick)).tolist() == pick


@settings(max_examples=40, deadline=None)
@given(labels=st.one_of(int_labels, str_labels))
def test_pickle_and_equality(labels):
    m = IdMap(labels)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2 == m and hash(m2) == hash(m)
    assert m2.to_labels(np.arange(len(m))).tolist() == list(labels)


def test_identity():
    m = IdMap.identity(5)
    assert m.is_identity and len(m) == 5
    assert m.to_index([4, 0]).tolist() == [4, 0]
    assert IdMap([0, 1, 2]).is_identity
    assert not IdMap([1, 2, 3]).is_identity
    assert not IdMap(["0", "1"]).is_identity
    assert len(IdMap.identity(0)) == 0
    with pytest.raises(ValueError):
        IdMap.identity(-1)
    with pytest.raises(KeyError):
        m.to_index([5])
    with pytest.raises(KeyError):
        m.to_index([-1])


def test_unknown_and_out_of_range():
    m = IdMap(["a", "b"])
    with pytest.raises(KeyError, match="c"):
        m.to_index(["c"])
    with pytest.raises(IndexError):
        m.to_labels([2])
    with pytest.raises(IndexError):
        m.to_labels([-1])
    with pytest.raises(TypeError):
        m.to_labels([0.5])
    assert "a" in m and "z" not in m


def test_integer_lookup_is_vectorised_and_float_tolerant():
    labels = np.array([10, 3, 7])
    m = IdMap(labels)
    assert m.to_index([7, 10]).tolist() == [2, 0]
    assert m.to_index(np.array([3.0])).tolist() == [1]
    with pytest.raises(KeyError):
        m.to_index([3.5])
    with pytest.raises(KeyError):
        m.to_index([4])


@pytest.mark.parametrize(
    "labels",
    [[1, 1], ["a", "a"], ["a", None], [1.0, np.nan], ["a", ""], [True, False], [[1, 2], [3, 4]]],
)
def test_bad_labels(labels):
    with pytest.raises(ValueError):
        IdMap(labels)


@pytest.mark.parametrize("labels", [["a", "a\x00"], ("b\x00",), np.array(["c\x00", "d"], dtype=object)])
def test_trailing_nul_is_refused(labels):
    with pytest.raises(ValueError, match="NUL"):
        IdMap(labels)


def test_immutable():
    m = IdMap([5, 6])
    with pytest.raises(ValueError):
        m.labels[0] = 1
    assert repr(IdMap.identity(3)) == "IdMap(n=3, identity)"


def test_huge_uint64_ids_do_not_wrap():
    big = np.array([2**63 + 5, 1], dtype=np.uint64)
    m = IdMap(big)
    assert all(int(lab) > 0 for lab in m.labels.tolist())
    assert m.to_index(big).tolist() == [0, 1]
    assert m.to_labels([0]).tolist() == [str(2**63 + 5)]
