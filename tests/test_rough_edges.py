"""The rough edges of issue #16: each bad input gives one clear line, each surprise a notice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import graphrec as gr
from graphrec.cli import main
from graphrec.exceptions import MalformedFileError


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--quiet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("graphrec")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("edges") / "pop"
    assert main(["--quiet", "train", "popularity", "--dataset", "sample", "--out", str(path)]) == 0
    return path


# ---------------------------------------------------------------------- files
def test_empty_csv(capsys, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    code, _, err = run(capsys, "train", "popularity", "--dataset", str(tmp_path / "empty.csv"),
                       "--out", str(tmp_path / "m"))
    assert code == 1 and "empty file" in one_error(err) and "delimiter" not in err
    with pytest.raises(MalformedFileError, match="empty file"):
        gr.Interactions.from_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("user_id,item_id\n")
    with pytest.raises(MalformedFileError, match="no rows"):
        gr.Interactions.from_csv(tmp_path / "header.csv")


def test_directory_as_dataset(capsys, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ratings.csv").write_text("user_id,item_id\n1,2\n")
    code, _, err = run(capsys, "train", "popularity", "--dataset", str(tmp_path / "data"),
                       "--out", str(tmp_path / "m"))
    line = one_error(err)
    assert code == 1 and "is a directory" in line and "ratings.csv" in line and "no such file" not in line
    with pytest.raises(IsADirectoryError):
        gr.Interactions.from_csv(tmp_path / "data")


def test_unclosed_quote_names_the_line(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('user_id,item_id,title\n1,2,"Heat"\n3,4,"Alien\n5,6,"Up"\n7,8,"Big"\n')
    code, _, err = run(capsys, "train", "popularity", "--dataset", str(path), "--out", str(tmp_path / "m"))
    assert code == 1 and "line 3" in one_error(err) and "never closed" in err
    with pytest.raises(MalformedFileError, match="line 3"):
        gr.Interactions.from_csv(path)


def test_a_good_csv_still_loads(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text('user_id;item_id;title\n1;2;"Heat; the film"\n3;4;"Up ""2"""\n')
    x = gr.Interactions.from_csv(path, sep=";")
    assert x.nnz == 2
    from graphrec.workflow import read_table

    assert read_table(path)["title"].tolist() == ["Heat; the film", 'Up "2"']  # ';' sniffed


# ---------------------------------------------------------------------- --model, --k
def test_model_pointing_at_a_csv_never_suggests_writing_over_it(capsys, tmp_path):
    csv = tmp_path / "ratings.csv"
    csv.write_text("user_id,item_id\n1,2\n")
    for argv in (["recommend", "--model", str(csv), "--user", "1"],
                 ["evaluate", "--model", str(csv)],
                 ["viz", "neighborhood", "--model", str(csv), "--user", "1"]):
        code, _, err = run(capsys, *argv)
        line = one_error(err)
        assert code == 1 and "is a file, not a model folder" in line, line
        assert f"--out {csv}" not in line and f"--dataset {csv}" in line
    assert csv.read_text() == "user_id,item_id\n1,2\n"


def test_k_larger_than_the_catalogue_says_so(capsys, model_dir):
    code, out, err = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--k", "20000", "--json")
    assert code == 0
    assert "note: --k 20000" in err and "9,724 items" in err
    n = len(pd.read_json(__import__("io").StringIO(out)))
    assert f"as few as {n:,}" in err
    code, _, err = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--k", "5")
    assert code == 0 and "note" not in err


def test_viz_flags_have_help(capsys):
    code = main(["viz", "--help"])
    out = capsys.readouterr().out
    assert code == 0
    options = " ".join(out[out.index("options:"):].split())  # argparse wraps the help lines
    for text in ("--model DIR a model folder written by", "--k K neighborhood: recommendations drawn",
                 "--hops HOPS neighborhood: graph hops drawn"):
        assert text in options, (text, options)


def test_time_budget_stop_is_reported(capsys, tmp_path):
    code, out, err = main(["train", "mf", "--dataset", "sample", "--epochs", "1000", "--time-budget", "1",
                           "--embedding-dim", "8", "--out", str(tmp_path / "m")]), *capsys.readouterr()
    assert code == 0, err
    assert "stopped by its time budget (1.0 s)" in err and "of 1000 epochs" in err
    assert "stopped by its time budget" in out  # also on the summary line
    code, out, err = main(["--quiet", "train", "popularity", "--dataset", "sample",
                           "--out", str(tmp_path / "p")]), *capsys.readouterr()
    assert code == 0 and "time budget" not in out + err


# ---------------------------------------------------------------------- viz: fonts, the gallery
def _glyph_missing_from_default() -> tuple[str, str] | None:
    """A character the default font lacks and another installed font has, and that font."""
    from matplotlib import font_manager as fm

    from graphrec.viz.io import _charmap

    have = _charmap(fm.findfont(fm.FontProperties()))
    for entry in fm.fontManager.ttflist:
        if "last resort" in entry.name.lower():
            continue
        extra = sorted(c for c in _charmap(entry.fname) - have if c > 0x7F and chr(c).isprintable())
        if extra:
            return chr(extra[0]), entry.name
    return None


def test_labels_get_a_font_that_has_their_glyphs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from graphrec.viz import fit_fonts

    found = _glyph_missing_from_default()
    if found is None:
        pytest.skip("no installed font has a glyph the default font lacks")
    char, _ = found
    fig = plt.figure()
    label = fig.text(0.1, 0.5, f"film {char}")
    plain = fig.text(0.1, 0.2, "Toy Story (1995)")
    family = fit_fonts(fig)
    from matplotlib import font_manager as fm

    from graphrec.viz.io import _charmap

    assert family is not None and ord(char) in _charmap(fm.findfont(label.get_fontproperties()))
    assert plain.get_fontfamily() == ["sans-serif"]  # texts that need nothing keep the default
    plt.close(fig)


def test_cjk_labels_render_or_warn(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import warnings

    from matplotlib import font_manager as fm

    from graphrec.viz.io import _charmap

    x = gr.Interactions.from_arrays([0, 0, 1, 1, 2], [0, 1, 1, 2, 3], n_users=3, n_items=4)
    info = pd.DataFrame({"item": range(4), "title": ["千と千尋の神隠し", "霸王别姬", "기생충", "Heat"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = gr.viz.neighborhood(gr.Popularity().fit(x), user=0, k=2, item_info=info, ids="index")
        gr.viz.save_figure(fig, tmp_path / "cjk.png")
    glyph_warnings = [w for w in caught if "Glyph" in str(w.message)]
    ours = [w for w in caught if "no installed font has the characters" in str(w.message)]
    texts = [t for t in fig.findobj(matplotlib.text.Text) if "千" in t.get_text()]
    covered = texts and ord("千") in _charmap(fm.findfont(texts[0].get_fontproperties()))
    # either a CJK font was found and used (no missing-glyph warnings), or we said so once
    assert (covered and not glyph_warnings and not ours) or (not covered and len(ours) == 1), (
        [str(w.message)[:80] for w in caught])
    assert (tmp_path / "cjk.png").stat().st_size > 0


def test_a_quote_inside_a_field_is_not_an_unclosed_quote(tmp_path):
    path = tmp_path / "plays.tsv"
    path.write_text('user_id\titem_id\ttitle\n1\t2\t12" single\n3\t4\tLP\n')
    from graphrec.workflow import read_table

    assert read_table(path)["title"].tolist() == ['12" single', "LP"]
    # a multi-line quoted field is legal CSV, and still loads
    ok = tmp_path / "multi.csv"
    ok.write_text('user_id,item_id,title\n1,2,"two\nlines"\n3,4,x\n')
    assert read_table(ok)["title"].tolist() == ["two\nlines", "x"]
