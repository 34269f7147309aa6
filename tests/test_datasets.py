"""Tests for graphrec.data.datasets (gr.datasets): named datasets, the bundled sample and synthetic()."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec.data import datasets as dsmod
from graphrec.data._download import download_file
from graphrec.data.datasets import (
    Dataset,
    _find,
    available,
    concat_interactions,
    data_roots,
    load,
    synthetic,
)
from graphrec.data.synthetic import sample_distinct
from graphrec.exceptions import DatasetNotFoundError


def _need(name: str) -> None:
    if _find(name, None) is None:
        roots = ", ".join(str(p) for p, _ in data_roots())
        pytest.skip(f"dataset {name!r} not on disk (looked in {roots})")


# ---------------------------------------------------------------------- synthetic
def test_synthetic_shapes_and_communities():
    ds = synthetic(n_users=200, n_items=100, n_communities=4, random_state=0)
    assert isinstance(ds, Dataset)
    assert ds.train.n_users == ds.test.n_users == 200
    assert ds.train.n_items == ds.test.n_items == 100
    assert ds.train.users is ds.test.users
    comm = ds.user_info["community"].to_numpy()
    cat = ds.item_info["category"].to_numpy()
    assert len(ds.item_info) == 100 and len(ds.user_info) == 200
    # every user has a held-out item in its own community, and one in train
    assert (ds.test.user_degrees >= 1).all()
    assert (comm[ds.test.user_idx] == cat[ds.test.item_idx]).all()
    own_train = np.bincount(
        ds.train.user_idx[comm[ds.train.user_idx] == cat[ds.train.item_idx]], minlength=200
    )
    assert (own_train >= 1).all()
    # mostly in-community
    all_x = ds.all
    assert all_x.nnz == 200 * 10
    assert (comm[all_x.user_idx] == cat[all_x.item_idx]).mean() > 0.85


def test_synthetic_deterministic_and_seed_dependent():
    a, b = synthetic(random_state=3), synthetic(random_state=3)
    c = synthetic(random_state=4)
    assert np.array_equal(a.train.user_idx, b.train.user_idx)
    assert np.array_equal(a.train.item_idx, b.train.item_idx)
    assert not np.array_equal(a.all.to_csr().toarray(), c.all.to_csr().toarray())


def test_synthetic_default_size():
    # Speed lives in benchmarks/, not in timed unit tests: check what is generated.
    ds = synthetic()
    assert ds.all.nnz > 0 and ds.train.nnz > ds.test.nnz


def test_synthetic_density_and_noise():
    ds = synthetic(n_users=50, n_items=40, n_communities=2, density=0.25, noise=0.0)
    assert ds.all.nnz == 50 * 10
    comm = ds.user_info["community"].to_numpy()
    cat = ds.item_info["category"].to_numpy()
    assert (comm[ds.all.user_idx] == cat[ds.all.item_idx]).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 0},
        {"n_items": 5, "n_communities": 4},
        {"noise": 1.0},
        {"test_size": 0.0},
        {"density": 0.1, "interactions_per_user": 5},
        {"interactions_per_user": 1},
        {"interactions_per_user": 101},
    ],
)
def test_synthetic_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        synthetic(**kwargs)


@settings(max_examples=60, deadline=None)
@given(pool=st.lists(st.integers(0, 12), min_size=1, max_size=20), data=st.data(),
       seed=st.integers(0, 100))
def test_sample_distinct(pool, data, seed):
    k = [data.draw(st.integers(0, p)) for p in pool]
    rows, vals, rank = sample_distinct(np.random.default_rng(seed), pool, k)
    assert np.bincount(rows, minlength=len(pool)).tolist() == k
    assert (np.diff(rows) >= 0).all()
    assert ((vals >= 0) & (vals < np.asarray(pool)[rows])).all()
    assert len(set(zip(rows.tolist(), vals.tolist()))) == len(rows)
    assert all(sorted(rank[rows == r].tolist()) == list(range(k[r])) for r in range(len(pool)))


def test_sample_distinct_uniform_and_bad_input():
    _, vals, rank = sample_distinct(np.random.default_rng(0), np.full(20_000, 10), np.full(20_000, 3))
    freq = np.bincount(vals, minlength=10) / len(vals)
    assert np.abs(freq - 0.1).max() < 0.01
    assert np.abs(np.bincount(vals[rank == 0], minlength=10) / 20_000 - 0.1).max() < 0.015
    with pytest.raises(ValueError):
        sample_distinct(np.random.default_rng(0), [3], [4])


def test_synthetic_scales():
    ds = synthetic(n_users=20_000, n_items=2_000, n_communities=8, interactions_per_user=20)
    assert ds.all.nnz == 400_000


# ---------------------------------------------------------------------- sample
def test_sample_loads_without_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREC_DATA", str(tmp_path))
    ds = load("sample")
    assert ds.name == "sample"
    assert ds.all.nnz == 100_836
    assert ds.n_users == 610 and ds.n_items == 9_724
    assert ds.valid is not None
    assert ds.train.users is ds.test.users is ds.valid.users
    assert ds.train.nnz + ds.valid.nnz + ds.test.nnz == 100_836
    assert list(ds.item_info.index) == list(range(ds.n_items))
    assert {"movieId", "title", "genres", "category"} <= set(ds.item_info.columns)
    assert ds.item_info.loc[0, "title"] == "Toy Story (1995)"
    assert ds.train.timestamps is not None and ds.train.weights is not None


def test_sample_split_is_temporal_per_user():
    ds = load("sample")
    for part in (ds.train, ds.valid):
        last = pd.Series(part.timestamps).groupby(part.user_idx).max()
        first_test = pd.Series(ds.test.timestamps).groupby(ds.test.user_idx).min()
        assert (last <= first_test.reindex(last.index)).all()


def test_bundled_sample_small():
    folder = Path(available().loc["sample", "path"])
    total = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.suffix != ".py")
    assert total < 1_000_000
    assert (folder / "README.txt").is_file()


# ---------------------------------------------------------------------- registry
def test_unknown_name_lists_known():
    with pytest.raises(KeyError, match="gowalla"):
        load("no-such-dataset")


def test_missing_dataset_says_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load("gowalla", root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "download=True" in msg and "GRAPHREC_DATA" in msg


def test_available_lists_all():
    av = available()
    assert {"gowalla", "lastfm", "movielens-small", "sample"} <= set(av.index)
    assert av.loc["sample", "found"]


def test_root_and_env(tmp_path, monkeypatch):
    folder = tmp_path / "gowalla"
    folder.mkdir()
    (folder / "train.txt").write_text("0 1 2\n1 0\n")
    (folder / "test.txt").write_text("0 3\n2 1\n")
    ds = load("gowalla", root=tmp_path)
    assert (ds.n_users, ds.n_items, ds.train.nnz, ds.test.nnz) == (3, 4, 3, 2)
    assert load("gowalla", root=folder).train.nnz == 3  # root may be the dataset folder
    monkeypatch.setenv("GRAPHREC_DATA", str(tmp_path))
    assert data_roots()[0][0] == tmp_path
    assert load("gowalla").source == str(folder)


def test_concat_interactions_roundtrip():
    ds = synthetic()
    x = concat_interactions([ds.train, ds.test])
    assert x.nnz == ds.train.nnz + ds.test.nnz


# ---------------------------------------------------------------------- download (offline: file:// URLs)
def test_download_file_checks_sha256_atomically(tmp_path):
    src = tmp_path / "src.txt"
    src.write_text("0 1 2\n")
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    out = download_file(src.as_uri(), tmp_path / "out" / "a.txt", good)
    assert out.read_text() == "0 1 2\n"
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_file(src.as_uri(), tmp_path / "out" / "b.txt", "0" * 64)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.txt"]  # no partial file


def test_load_download_lightgcn(tmp_path, monkeypatch):
    up = tmp_path / "upstream"
    up.mkdir()
    (up / "train.txt").write_text("0 1 2\n1 0\n")
    (up / "test.txt").write_text("0 3\n")
    spec = replace(
        dsmod._SPECS["gowalla"],
        urls={f: (up / f).as_uri() for f in ("train.txt", "test.txt")},
        sha256={"test.txt": hashlib.sha256((up / "test.txt").read_bytes()).hexdigest()},
    )
    monkeypatch.setitem(dsmod._SPECS, "gowalla", spec)
    root = tmp_path / "root"
    with pytest.raises(DatasetNotFoundError):
        load("gowalla", root=root)
    ds = load("gowalla", root=root, download=True)
    assert (ds.train.nnz, ds.test.nnz) == (3, 1)
    assert (root / "gowalla" / "train.txt").is_file()


def test_load_download_movielens_zip(tmp_path, monkeypatch):
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-latest-small/ratings.csv", "userId,movieId,rating,timestamp\n"
                    + "".join(f"{u},{m},4.0,{u * 10 + m}\n" for u in (1, 2) for m in range(1, 11)))
        zf.writestr("ml-latest-small/movies.csv", "movieId,title,genres\n"
                    + "".join(f"{m},Film {m},Drama|Comedy\n" for m in range(1, 11)))
    (tmp_path / "ml-latest-small.zip.md5").write_text(hashlib.md5(archive.read_bytes()).hexdigest())
    spec = replace(dsmod._SPECS["movielens-small"], zip_url=archive.as_uri())
    monkeypatch.setitem(dsmod._SPECS, "movielens-small", spec)
    ds = load("movielens", root=tmp_path / "root", download=True)
    assert (ds.all.nnz, ds.test.nnz, ds.valid.nnz) == (20, 4, 2)
    assert ds.item_info["title"].tolist() == [f"Film {m}" for m in range(1, 11)]
    assert (ds.item_info["category"] == "Drama").all()
    assert not (tmp_path / "root" / "ml-latest-small.zip").exists()


# ---------------------------------------------------------------------- real data
def test_gowalla_stats():
    _need("gowalla")
    ds = load("gowalla")
    assert (ds.n_users, ds.n_items) == (29_858, 40_981)
    assert (ds.train.nnz, ds.test.nnz) == (810_128, 217_242)
    assert ds.train.users.is_identity and ds.test.items.is_identity
    assert (ds.train.user_degrees >= 8).all() and (ds.test.user_degrees >= 1).all()
    assert ds.train.to_csr().multiply(ds.test.to_csr()).nnz == 0


def test_lastfm():
    _need("lastfm")
    ds = load("lastfm")
    assert (ds.n_users, ds.n_items) == (1_892, 4_489)
    assert (ds.train.nnz, ds.test.nnz) == (42_135, 10_533)
    assert ds.train.weights is None


def test_movielens_small_matches_sample():
    _need("movielens-small")
    ml, sample = load("movielens-small"), load("sample")
    assert ml.all.nnz == 100_836 and ml.n_users == 610
    for a, b in ((ml.train, sample.train), (ml.valid, sample.valid), (ml.test, sample.test)):
        assert a.users == b.users and a.items == b.items
        for attr in ("user_idx", "item_idx", "weights", "timestamps"):
            assert np.array_equal(getattr(a, attr), getattr(b, attr))
    pd.testing.assert_frame_equal(ml.item_info, sample.item_info)


def test_summary_and_pickle():
    import pickle

    ds = synthetic()
    s = ds.summary()
    assert s["n_interactions"] == s["n_train"] + s["n_test"] == 2000
    assert s["item_info"] == ["category", "title"] and s["n_valid"] is None
    assert ds.split.report()["test_only_users"] == 0 and ds.split.train is ds.train
    back = pickle.loads(pickle.dumps(ds))
    assert back.train.users is back.test.users
    assert back.all.nnz == 2000
