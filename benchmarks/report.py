"""The suite's report: JSON, Markdown tables, and the generated section of RESULTS.md.

RESULTS.md keeps everything outside ``<!-- suite:begin -->`` / ``<!-- suite:end -->``
(the hand-written header and "Other measured figures"); only the part between the
markers is replaced. A peer's row also shows its default recipe's figure where one is
recorded in ``docs/results/peer_defaults.json`` (written by ``benchmarks/tune_peers.py
--record-defaults`` from a measured run), so the reader sees the tuned and the default
setting side by side.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["BEGIN", "END", "PEER_DEFAULTS_JSON", "PUBLISHED", "load_peer_defaults", "suite_markdown",
           "update_results_md", "write_reports"]

BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
#: the measured default-recipe figures of the peers (benchmarks/tune_peers.py --record-defaults)
PEER_DEFAULTS_JSON = Path(__file__).resolve().parent.parent / "docs" / "results" / "peer_defaults.json"

#: Published Gowalla figures on the same LightGCN split (Recall@20, NDCG@20), with sources.
PUBLISHED = [
    ("LightGCN", 0.1830, 0.1554, ('He et al., "LightGCN: Simplifying and Powering Graph Convolution '
                                  'Network for Recommendation", SIGIR 2020')),
    ("GF-CF", 0.1849, 0.1518, ('Shen et al., "How Powerful is Graph Convolution for Recommendation?", '
                               'CIKM 2021')),
    ("UltraGCN", 0.1862, 0.1580, ('Mao et al., "UltraGCN: Ultra Simplification of Graph Convolutional '
                                  'Networks for Recommendation", CIKM 2021')),
    ("BSPM", 0.1920, 0.1597, ('Choi et al., "Blurring-Sharpening Process Models for Collaborative '
                              'Filtering", SIGIR 2023')),
]
# our models to set next to each published method
_OURS_FOR = {"LightGCN": "lightgcn", "GF-CF": "graphfilter"}

_METRIC_COLS = [("recall@10", "R@10"), ("ndcg@10", "N@10"), ("precision@10", "P@10"), ("map@10", "MAP@10"),
                ("recall@20", "R@20"), ("ndcg@20", "N@20"), ("precision@20", "P@20"), ("map@20", "MAP@20"),
                ("coverage@20", "cov@20"), ("diversity@20", "div@20"), ("novelty@20", "nov@20")]
#: intra-list diversity keys, newest first: each names the similarity it used ("diversity@20"
#: is the deprecated key of results written before issue 16, when one name meant either)
DIVERSITY_KEYS = ("category_diversity@20", "feature_diversity@20", "diversity@20")


def diversity_value(metrics: dict[str, Any]) -> Any:
    """The model-independent intra-list diversity@20 of a result: categories or the dataset's
    fixed item features (never the model's own embeddings, which differ per model)."""
    return next((metrics[k] for k in DIVERSITY_KEYS if k in metrics), None)


def _f(x: Any, fmt: str = ".4f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return format(x, fmt)


def _label(r: dict[str, Any]) -> str:
    if r.get("kind") == "peer":
        return f"{r['model']} (peer)"
    mark = " †" if str(r.get("settings_source", "")).startswith("class defaults") else ""
    return r["model"] + mark + (" ‡" if r.get("time_cap") else "")


def load_peer_defaults(path: Path | str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The recorded default-recipe figures, keyed by (dataset, peer); empty when the file is absent."""
    path = PEER_DEFAULTS_JSON if path is None else Path(path)
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text()).get("rows", [])
    return {(r["dataset"], r["peer"]): r for r in rows}


def _peer_default(r: dict[str, Any], defaults: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any] | None:
    return defaults.get((r["dataset"], r["model"])) if r.get("kind") == "peer" else None


def _dataset_table(rows: list[dict[str, Any]],
                   defaults: dict[tuple[str, str], dict[str, Any]] | None = None) -> list[str]:
    ok = [r for r in rows if r["status"] == "ok"]
    defaults = defaults or {}
    shown = [(r, d) for r in ok if (d := _peer_default(r, defaults)) is not None]
    lines = []
    if ok:
        head = ["model"] + [h for _, h in _METRIC_COLS] + ["epochs", "fit s", "eval s", "peak MB"]
        if shown:
            head.append("default recipe R@20 / N@20")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in ok:
            m = r["metrics"]
            epochs = r.get("epochs")
            cells = [_label(r)] + [_f(diversity_value(m) if k == "diversity@20" else m.get(k))
                                   for k, _ in _METRIC_COLS] + [
                _f(epochs, ".2f" if isinstance(epochs, float) and not float(epochs).is_integer() else "")
                if epochs is not None else "–",
                _f(r["fit_seconds"], ".1f"), _f(r["eval_seconds"], ".1f"), _f(r["peak_memory_mb"], ".0f")]
            if shown:
                d = _peer_default(r, defaults)
                cells.append("–" if d is None else f"{_f(d.get('recall@20'))} / {_f(d.get('ndcg@20'))}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for r, d in shown:
        params = ", ".join(f"{k}={v}" for k, v in sorted(d.get("params", {}).items())
                           if k not in ("random_state", "num_threads"))
        se = d.get("recall@20_se")
        lines.append(f"- default recipe of {r['model']} (peer): {params or 'library defaults'}; test R@20 "
                     f"{_f(d.get('recall@20'))}" + (f" ± {_f(se)}" if se is not None else "")
                     + f", measured {d.get('measured', '?')} by {d.get('source', '?')} "
                     "(docs/results/peer_defaults.json); the row's own figures are from its settings below.")
    if shown:
        lines.append("")
    if any("†" in _label(r) for r in ok):
        lines.append("† no settings recorded in graphrec/recipes.py: class defaults, training time capped.")
    for r in ok:
        if r.get("time_cap"):
            lines.append(f"‡ {r['model']}: recorded settings, but {r['time_cap']}.")
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"- **{r['model']}**: {r['status']}: {r['reason']}")
    if any(r["status"] != "ok" for r in rows):
        lines.append("")
    return lines


def _settings_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in rows:
        if r["status"] == "ok":
            s = ", ".join(f"{k}={v}" for k, v in sorted(r.get("settings", {}).items())
                          if k not in ("verbose", "device"))
            extra = f"; stopped: {r['stopped']}" if r.get("stopped") else ""
            source = f" ({r['settings_source']})" if r.get("settings_source") else ""
            lines.append(f"- {_label(r)}: {s or 'defaults'}{extra}{source}")
    return lines


def _comparison_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in results if r["status"] == "ok" and "comparison" in r]
    if not rows:
        return []
    head = ["dataset", "dim / layers / batch", "budget s", "ours s/step", "PyG s/step", "PyG ÷ ours time",
            "ours epochs", "PyG epochs", "ours R@20 / N@20", "PyG R@20 / N@20", "equal epochs",
            "ours R@20 / N@20 @E", "PyG R@20 / N@20 @E"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        c = r["comparison"]
        sh, ours, pyg = c["shape"], c["ours_equal_time"], c["pyg"]
        eq = c.get("equal_epochs", {})

        def pair(m: dict[str, Any] | None) -> str:
            return "–" if not m else f"{_f(m.get('recall@20'))} / {_f(m.get('ndcg@20'))}"

        if "skipped" in eq:
            e_cells = [f"– ({eq['skipped']})", "–", "–"]
        else:
            e_cells = [str(eq.get("epochs")), pair(eq.get("ours", {}).get("metrics")), pair(eq.get("pyg_metrics"))]
        lines.append("| " + " | ".join([
            r["dataset"], f"{sh['embedding_dim']} / {sh['n_layers']} / {sh['batch_size']}",
            _f(c["budget_seconds"], ".0f"), _f(ours.get("step_seconds"), ".3f"), _f(pyg["step_seconds"], ".3f"),
            _f(c.get("speed_ratio"), ".1f") + "×" if c.get("speed_ratio") else "–",
            _f(ours.get("epochs"), ""), _f(pyg["epochs"], ".2f"), pair(ours["metrics"]), pair(pyg["metrics"]),
            *e_cells]) + " |")
    return lines + [""]


def _published_table(results: list[dict[str, Any]]) -> list[str]:
    ours = {r["model"]: r for r in results if r["dataset"] == "gowalla" and r["status"] == "ok"}
    lines = ["| method | Recall@20 | NDCG@20 | source |", "|---|---|---|---|"]
    for name, rec, ndcg, src in PUBLISHED:
        lines.append(f"| {name} (published) | {rec:.4f} | {ndcg:.4f} | {src} |")
        mine = ours.get(_OURS_FOR.get(name, ""))
        if mine is not None:
            m = mine["metrics"]
            lines.append(f"| graphrec {mine['model']} (this run) | {_f(m['recall@20'])} | {_f(m['ndcg@20'])} | "
                         f"fit {mine['fit_seconds']:.0f} s on this machine |")
    shown = {_OURS_FOR[n] for n, *_ in PUBLISHED if n in _OURS_FOR}
    for name, r in ours.items():
        if name not in shown:
            m = r["metrics"]
            lines.append(f"| {_label(r)} (this run) | {_f(m['recall@20'])} | {_f(m['ndcg@20'])} | "
                         f"fit {r['fit_seconds']:.0f} s on this machine |")
    return lines + [""]


_PROTOCOL = (
    "- Protocol: full ranking over all items, each user's train items masked, metrics averaged over "
    "users with test items. cov = share of the catalogue in any top-20 list; div = intra-list "
    "diversity of the top 20 (see each dataset); nov = mean self-information -log2(pop/n_users) of "
    "recommended items. fit s / eval s are wall-clock seconds; peak MB is the job process's maxrss "
    "(data loading included); each (dataset, model) ran in its own process."
)
_COMPARISON_NOTE = (
    "Both trained in one process back to back. *s/step* = median training seconds per batch "
    "(PyG: over its steps; ours: over its whole epochs), so one-off warm-up is left out; "
    "*PyG ÷ ours time* = how many times longer a PyG step takes. Accuracy at the equal "
    "wall-clock budget, and (where PyG finishes at least one epoch in it) after the same "
    "number of epochs. PyG recipe: Adam lr 1e-3, uniform negatives, recommendation_loss "
    "(BPR + 1e-4 L2); ours: its recorded settings. Where benchmarks/peers.py records a setting "
    "for the dataset, the dataset table's pyg-lightgcn (peer) row is that setting's own fit (its "
    "settings line says so), not this example-recipe run."
)


def suite_markdown(suite: dict[str, Any], plots: list[Path] | None = None, relative_to: Path | None = None,
                   peer_defaults: dict[tuple[str, str], dict[str, Any]] | None = None) -> str:
    """The generated Markdown: run facts, one table per dataset, the PyG comparison, published figures.

    ``peer_defaults`` (default: :func:`load_peer_defaults`) gives each peer row its measured
    default-recipe figure.
    """
    results = suite["results"]
    if peer_defaults is None:
        peer_defaults = load_peer_defaults()
    mach, ver = suite["machine"], suite["versions"]
    done = sum(r["status"] in ("ok", "failed", "skipped", "not run") for r in results)
    if suite.get("finished"):
        state = (f"finished {suite.get('ended', '')}: {suite.get('n_ok', 0)} of {suite['n_jobs']} jobs ok "
                 f"in {suite.get('elapsed_seconds', 0) / 60:.1f} min")
    else:
        state = (f"**in progress or interrupted**: {done} of {suite['n_jobs']} jobs done after "
                 f"{suite.get('elapsed_seconds', 0) / 60:.1f} min; the jobs not listed have not run")
    out = [
        f"## Benchmark suite ({suite['mode']} mode)", "",
        f"- Started {suite['started']}; {state}.",
        f"- Command: `{suite['command']}`; code at git commit {suite.get('revision', 'unknown')}.",
        (f"- Machine: {mach['cpu']}, {mach['cores']} usable cores, {mach['memory_gb']} GB RAM, "
         f"{mach['torch_threads']} torch threads; {mach['platform']}."),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()) + ".",
        _PROTOCOL, "",
    ]
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    for d in datasets:
        rows = [r for r in results if r["dataset"] == d]
        stats = next((r["data"] for r in rows if r.get("data")), None)
        div = next((r["diversity_features"] for r in rows if r.get("diversity_features")), None)
        title = f"### {d}"
        if stats:
            title += (f" ({stats['n_users']:,} users, {stats['n_items']:,} items, {stats['n_train']:,} train / "
                      f"{stats['n_test']:,} test" + (f" / {stats['n_valid']:,} valid" if stats.get("n_valid") else "")
                      + " interactions)")
        out += [title, ""]
        if div:
            out += [f"div@20: {div}.", ""]
        out += _dataset_table(rows, peer_defaults)
        settings = _settings_lines(rows)
        if settings:
            out += ["<details><summary>settings</summary>", "", *settings, "", "</details>", ""]
    comp = _comparison_table(results)
    if comp:
        out += ["### Our LightGCN vs PyG's LightGCN (example recipe), same dim / layers / batch", "",
                _COMPARISON_NOTE, "", *comp]
    if "gowalla" in datasets:
        out += ["### Gowalla: published figures on the same split next to ours", "", *_published_table(results)]
    for p in plots or []:
        rel = os.path.relpath(p, relative_to) if relative_to else str(p)
        out += [f"![{p.stem.replace('_', ' ')}]({rel})", ""]
    return "\n".join(out).rstrip() + "\n"


_TEMPLATE = """# graphrec benchmark results

Every number between the suite markers below is written by `python benchmarks/run.py --full`
(the command, date, machine and versions are stated with the tables); nothing there is
edited by hand. Settings come from `graphrec/recipes.py` (graphrec models) and
`benchmarks/peers.py` (peer recipes).

{begin}
{end}

## Other measured figures

(Filled in by hand: figures measured outside the suite, each with its command and date.)
"""


def update_results_md(path: Path, generated: str) -> None:
    """Replace the text between the suite markers of ``path`` (created from a template if missing)."""
    path = Path(path)
    text = path.read_text() if path.is_file() else _TEMPLATE.format(begin=BEGIN, end=END)
    if BEGIN not in text or END not in text or text.index(BEGIN) > text.index(END):
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{generated.rstrip()}\n{END}{tail}"
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(new)
    tmp.replace(path)


def write_reports(suite: dict[str, Any], out: Path, *, results_md: Path | None = None,
                  plots_dir: Path | None = None) -> dict[str, Path]:
    """Write OUT/suite.json, OUT/suite.md, the plots and (when given) RESULTS.md's generated part.

    The plots and RESULTS.md are left alone until at least one job has finished ok.
    """
    out = Path(out)
    paths = {"json": out / "suite.json", "md": out / "suite.md"}
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(suite, indent=1, default=str))
    tmp.replace(paths["json"])
    # A run in which no job has finished (every dataset missing, say) keeps the recorded
    # RESULTS.md tables and plots rather than replacing them with a table of skips.
    any_ok = any(r.get("status") == "ok" for r in suite["results"])
    plots: list[Path] = []
    if plots_dir is not None and any_ok:
        from plots import write_plots

        plots = write_plots(suite["results"], Path(plots_dir))
    paths["md"].write_text(suite_markdown(suite, plots, relative_to=out))
    if results_md is not None and any_ok:
        update_results_md(Path(results_md), suite_markdown(suite, plots, relative_to=Path(results_md).parent))
        paths["results_md"] = Path(results_md)
    return paths
