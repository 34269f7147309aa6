"""README's figure tables, generated from recorded JSON so they cannot drift from the runs.

Each table in README.md between ``<!-- table:NAME:begin -->`` and ``<!-- table:NAME:end -->``
is rendered from ``docs/results/NAME.json``:

- ``demo``: the run facts ``graphrec demo`` writes to ``OUT/run.json`` (date, load, per
  model its settings, epochs, fit seconds and metrics), copied by ``--record-demo``.
- ``gowalla``: one row per recorded Gowalla run; ``--record-row`` sets a row's figures
  from a benchmark ``results.json`` (``benchmarks/run.py --dataset gowalla --model M``).

Usage::

    python tools/readme_tables.py                      # print every table
    python tools/readme_tables.py --check              # exit 1 if README.md differs
    python tools/readme_tables.py --write              # rewrite README.md's tables
    graphrec demo --out D && python tools/readme_tables.py --record-demo D --write
    python tools/readme_tables.py --record-row gowalla "Popularity" \\
        benchmarks/out/gowalla/popularity/results.json --write

``tests/test_readme_tables.py`` checks that README.md holds exactly what this prints.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results"
NAMES = {"popularity": "Popularity", "mf": "MF (BPR)", "lightgcn": "LightGCN", "graphfilter": "GraphFilter"}
DEMO_ORDER = ("lightgcn", "graphfilter", "mf", "popularity")


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- table:{name}:begin -->", f"<!-- table:{name}:end -->"


def _demo_label(name: str, run: dict[str, Any]) -> str:
    settings = run.get("settings") or {}
    label = NAMES.get(name, name)
    if name == "graphfilter" and "n_components" in settings:
        return f"{label} (GF-CF, {settings['n_components']} components)"
    epochs, budget = run.get("epochs"), settings.get("time_budget")
    if epochs and budget is not None and run.get("stopped") == "time_budget":
        return f"{label} ({epochs} epochs in its {float(budget):.0f} s budget)"
    if epochs:
        return f"{label} ({epochs} epochs)"
    return label


def render_demo(rec: dict[str, Any]) -> str:
    """The demo table and the sentence that says which run it is."""
    load = rec.get("load_before")
    machine = rec.get("machine") or (f"on the 2-core development machine, load average {load[0]} at the start"
                                     if load else "load not recorded")
    total = rec.get("seconds", {}).get("total", float("nan"))
    lines = [
        (f"The demo's own figures from a run on {rec['started']} ({total:.0f} s in all; {machine}). "
         "LightGCN and MF are budget-bound, so their figures move with the epochs a machine fits in "
         "the budget (the demo prints them); `python tools/readme_tables.py --record-demo OUT --write` "
         "records a run's `OUT/run.json` here."),
        "",
        "| model (demo budgets) | recall@20 | NDCG@20 | fit |",
        "|---|---:|---:|---:|",
    ]
    models = rec["models"]
    for name in sorted(models, key=lambda n: DEMO_ORDER.index(n) if n in DEMO_ORDER else len(DEMO_ORDER)):
        run = models[name]
        m = run["metrics"]
        lines.append(f"| {_demo_label(name, run)} | {m['recall@20']:.3f} | {m['ndcg@20']:.3f} | "
                     f"{run['fit_s']:.0f} s |")
    return "\n".join(lines)


def _figure(value: float, se: float | None) -> str:
    return f"{value:.4f}" if se is None else f"{value:.4f} ± {se:.4f}"


def render_rows(rec: dict[str, Any]) -> str:
    """A figures table: one row per recorded run (label, Recall@20, NDCG@20, time, source)."""
    lines = ["| model | Recall@20 | NDCG@20 | time | source |", "|---|---:|---:|---|---|"]
    for row in rec["rows"]:
        if row.get("published"):
            lines.append(f"| *{row['label']}* | *{row['recall']}* | *{row['ndcg']}* | | {row['source']} |")
            continue
        lines.append(f"| {row['label']} | {_figure(row['recall'], row.get('recall_se'))} | "
                     f"{_figure(row['ndcg'], row.get('ndcg_se'))} | {row['time']} | {row['source']} |")
    return "\n".join(lines)


RENDER = {"demo": render_demo, "gowalla": render_rows}


def render(name: str, results: Path = RESULTS) -> str:
    """The Markdown of table ``name`` from ``results/NAME.json``."""
    return RENDER[name](json.loads((results / f"{name}.json").read_text(encoding="utf-8")))


def readme_block(name: str, text: str) -> str:
    """What README holds between table ``name``'s markers (without them)."""
    begin, end = _markers(name)
    if begin not in text or end not in text:
        raise KeyError(f"README has no {begin} ... {end} block")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n")


def write(text: str, results: Path = RESULTS) -> str:
    """``text`` with every table block replaced by its rendering."""
    for name in RENDER:
        begin, end = _markers(name)
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{render(name, results)}\n{end}{tail}"
    return text


def record_demo(folder: Path, results: Path = RESULTS) -> Path:
    """Copy a demo run's ``run.json`` to ``results/demo.json``."""
    rec = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    if not rec.get("models") or rec.get("budget_scale") != 1.0:
        raise SystemExit(f"{folder}/run.json is not a full demo run (budget_scale {rec.get('budget_scale')})")
    path = results / "demo.json"
    path.write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    return path


def record_row(name: str, label: str, results_json: Path, results: Path = RESULTS) -> Path:
    """Set the figures of row ``label`` of table ``name`` from a benchmark ``results.json``."""
    path = results / f"{name}.json"
    rec = json.loads(path.read_text(encoding="utf-8"))
    run = json.loads(results_json.read_text(encoding="utf-8"))
    rows = [r for r in rec["rows"] if r["label"] == label]
    if not rows:
        raise SystemExit(f"no row {label!r} in {path}; rows: {[r['label'] for r in rec['rows']]}")
    m = run["metrics"]
    rows[0].update(recall=round(m["recall@20"], 4), ndcg=round(m["ndcg@20"], 4))
    for key, field in (("recall@20_se", "recall_se"), ("ndcg@20_se", "ndcg_se")):
        if isinstance(m.get(key), float) and math.isfinite(m[key]):
            rows[0][field] = round(m[key], 4)
    path.write_text(json.dumps(rec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 when README.md differs from the rendering")
    ap.add_argument("--write", action="store_true", help="rewrite README.md's tables")
    ap.add_argument("--record-demo", type=Path, metavar="DIR", help="record DIR/run.json of a `graphrec demo`")
    ap.add_argument("--record-row", nargs=3, metavar=("TABLE", "LABEL", "RESULTS_JSON"),
                    help="set a row's figures from a benchmark results.json")
    args = ap.parse_args(argv)
    if args.record_demo:
        print(f"recorded {record_demo(args.record_demo)}")
    if args.record_row:
        table, label, path = args.record_row
        print(f"recorded {record_row(table, label, Path(path))}")
    text = README.read_text(encoding="utf-8")
    if args.write:
        README.write_text(write(text), encoding="utf-8")
        return 0
    if args.check:
        stale = [n for n in RENDER if readme_block(n, text) != render(n)]
        for n in stale:
            print(f"README.md table {n!r} differs from docs/results/{n}.json: run "
                  "python tools/readme_tables.py --write", file=sys.stderr)
        return 1 if stale else 0
    for name in RENDER:
        print(f"{name}:\n{render(name)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
