"""Check that graphrec's built sdist and wheel carry what an installed graphrec needs.

    python tools/check_dist.py dist/graphrec-*.whl dist/graphrec-*.tar.gz

Each archive must hold the bundled MovieLens sample with its licence, ``py.typed``,
the package licence and the version of ``graphrec/__init__.py`` (the one source of
truth); the wheel must declare the ``graphrec`` console script and the licence files
in its metadata. Exits 1 naming every missing piece. Run by ``tools/wheel_smoke.sh``.
"""

from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FILES = (
    "graphrec/__init__.py",
    "graphrec/py.typed",
    "graphrec/data/bundled/README.txt",
    "graphrec/data/bundled/movies.csv.xz",
    "graphrec/data/bundled/ratings.npz.xz",
    "graphrec/cli/__init__.py",
)


def source_version() -> str:
    """Return ``__version__`` from graphrec/__init__.py, read without importing it."""
    tree = ast.parse((REPO / "graphrec" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise SystemExit("graphrec/__init__.py has no __version__")


def check_wheel(path: Path, version: str) -> list[str]:
    """Return what the wheel at ``path`` lacks."""
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        dist_info = f"graphrec-{version}.dist-info"
        problems = [f"{path.name}: no {n}" for n in PACKAGE_FILES if n not in names]
        for name in ("METADATA", "entry_points.txt", "licenses/LICENSE"):
            if f"{dist_info}/{name}" not in names:
                problems.append(f"{path.name}: no {dist_info}/{name}")
        if problems:
            return problems
        meta = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    if meta["Version"] != version:
        problems.append(f"{path.name}: Version {meta['Version']}, source says {version}")
    if "graphrec = graphrec.cli:main" not in entry_points:
        problems.append(f"{path.name}: no graphrec console script")
    if meta["License-Expression"] != "BSD-3-Clause":
        problems.append(f"{path.name}: License-Expression {meta['License-Expression']!r}")
    if not meta.get_payload() or "graphrec" not in meta.get_payload():
        problems.append(f"{path.name}: no long description")
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    """Return what the sdist at ``path`` lacks."""
    top = f"graphrec-{version}"
    with tarfile.open(path) as tf:
        names = set(tf.getnames())
    wanted = [*PACKAGE_FILES, "LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "PKG-INFO"]
    return [f"{path.name}: no {n}" for n in wanted if f"{top}/{n}" not in names]


def main(argv: list[str]) -> int:
    """Check each archive named in ``argv``; print the verdict and return the exit code."""
    version = source_version()
    paths = [Path(a) for a in argv]
    kinds = {p.suffix for p in paths}
    problems = [] if {".whl", ".gz"} <= kinds else ["give both a wheel and an sdist (.tar.gz)"]
    for p in paths:
        problems += check_wheel(p, version) if p.suffix == ".whl" else check_sdist(p, version)
    for problem in problems:
        print("MISSING", problem)
    if not problems:
        print(f"dist OK: graphrec {version}; sample, licences, py.typed in {len(paths)} archives")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
