import json
import pickle

import numpy as np
import pytest
from conftest import FixedEmbeddings

import graphrec as gr
from graphrec.persistence import ModelFileError


def _fitted(checkerboard):
    return gr.Popularity().fit(checkerboard[0])


def test_round_trip(tmp_path, checkerboard):
    m = _fitted(checkerboard)
    m.save(tmp_path / "m")
    m2 = gr.load(tmp_path / "m")
    assert isinstance(m2, gr.Popularity)
    np.testing.assert_array_equal(m.recommend(np.arange(8), 3)[0], m2.recommend(np.arange(8), 3)[0])
    assert (m2.seen_ != m.seen_).nnz == 0 and m2.users_ == m.users_


def test_string_ids_round_trip(tmp_path):
    x = gr.Interactions.from_arrays(["ann", "bob", "bob"], ["x", "y", "z"])
    m = gr.Popularity().fit(x)
    m.save(tmp_path / "m")
    m2 = gr.load(tmp_path / "m")
    assert list(m2.items_.labels) == ["x", "y", "z"]
    assert m2.recommend_frame(["ann"], k=2)["item"].tolist() == ["y", "z"]


def test_overwrite_is_atomic_and_clean(tmp_path, checkerboard):
    m = _fitted(checkerboard)
    m.save(tmp_path / "m")
    m.save(tmp_path / "m", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_refuses_to_overwrite_foreign_directory(tmp_path, checkerboard):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        _fitted(checkerboard).save(tmp_path / "m")
    assert (tmp_path / "m" / "precious.txt").exists()


def test_tampered_arrays_detected(tmp_path, checkerboard):
    _fitted(checkerboard).save(tmp_path / "m")
    with open(tmp_path / "m" / "arrays.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(ModelFileError, match="checksum"):
        gr.load(tmp_path / "m")


def test_corrupt_meta_and_missing_files(tmp_path, checkerboard):
    _fitted(checkerboard).save(tmp_path / "m")
    (tmp_path / "m" / "meta.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="JSON"):
        gr.load(tmp_path / "m")
    (tmp_path / "m" / "meta.json").unlink()
    with pytest.raises(ModelFileError, match="missing"):
        gr.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        gr.load(tmp_path / "nothing")


def test_unknown_class_and_version(tmp_path, checkerboard):
    _fitted(checkerboard).save(tmp_path / "m")
    meta_path = tmp_path / "m" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["class"] = "os.system"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="does not know"):
        gr.load(tmp_path / "m")
    meta["class"], meta["format_version"] = "Popularity", 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="version"):
        gr.load(tmp_path / "m")


def test_embedding_model_round_trip_and_pickle(tmp_path, checkerboard):
    train, _ = checkerboard
    rng = np.random.default_rng(0)
    m = FixedEmbeddings(
        user_vectors=rng.normal(size=(8, 3)), item_vectors=rng.normal(size=(8, 3))
    ).fit(train)
    with pytest.raises(TypeError, match="_vectors"):
        m.save(tmp_path / "e")  # array hyperparameters cannot go into JSON: a clear error
    assert not (tmp_path / "e").exists()
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.score([0, 1]), m2.score([0, 1]))
