"""Build graphrec's bundled MovieLens sample from ml-latest-small.

Usage::

    python tools/build_sample.py [SOURCE_DIR]   # default: ../shared/data/ml-latest-small

Writes ``graphrec/data/bundled/``:

- ``ratings.npz.xz``: an (uncompressed) ``.npz`` of the columns ``userId`` (int16),
  ``movieId`` (int32), ``rating2`` (uint8, rating x 2 = half stars) and ``timestamp``
  (int32), in the row order of ``ratings.csv``, compressed with xz;
- ``movies.csv.xz``: ``movies.csv`` byte for byte, xz-compressed;
- ``README.txt``: copied verbatim (licence: redistribution under the same terms).

The script checks that the stored tables decode to exactly the source tables.
"""

from __future__ import annotations

import io
import lzma
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "graphrec" / "data" / "bundled"
XZ = lzma.PRESET_EXTREME | 9


def build(source: Path, out: Path = OUT) -> None:
    """Write the bundled sample from ``source`` (a ml-latest-small directory) to ``out``."""
    r = pd.read_csv(source / "ratings.csv")
    rating2 = np.rint(r["rating"].to_numpy() * 2)
    if not np.allclose(rating2 / 2, r["rating"]):
        raise ValueError("ratings are not half-stars")
    cols = {
        "userId": r["userId"].to_numpy().astype(np.int16),
        "movieId": r["movieId"].to_numpy().astype(np.int32),
        "rating2": rating2.astype(np.uint8),
        "timestamp": r["timestamp"].to_numpy().astype(np.int32),
    }
    for name, orig in (("userId", r["userId"]), ("movieId", r["movieId"]), ("timestamp", r["timestamp"])):
        if not np.array_equal(cols[name].astype(np.int64), orig.to_numpy()):
            raise ValueError(f"{name} does not fit its compact dtype")
    buf = io.BytesIO()
    np.savez(buf, **cols)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ratings.npz.xz").write_bytes(lzma.compress(buf.getvalue(), preset=XZ))
    (out / "movies.csv.xz").write_bytes(lzma.compress((source / "movies.csv").read_bytes(), preset=XZ))
    shutil.copyfile(source / "README.txt", out / "README.txt")
    if out == OUT:  # decode with the library's reader and compare with the source
        sys.path.insert(0, str(REPO))
        from graphrec.data.datasets import read_bundled_sample

        ratings, movies = read_bundled_sample()
        pd.testing.assert_frame_equal(ratings, r, check_dtype=False)
        pd.testing.assert_frame_equal(movies, pd.read_csv(source / "movies.csv"))
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {out}: {total:,} bytes")


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "ml-latest-small"
    build(src)
