"""Sphinx configuration of graphrec's API reference (``docs/source``).

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -n -b html docs/source docs/_build/html

Docstrings are numpydoc; narrative pages are Markdown (MyST) and include README-level
files from the repository (docs/cli.md, docs/scaling.md, benchmarks/RESULTS.md,
CHANGELOG.md) instead of copying them. ``nitpicky`` is on, so a cross-reference to a
graphrec name that is not documented is an error; references to other libraries are
shown as plain text (the build is offline: no intersphinx).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # document the checkout, installed or not
os.environ.setdefault("MPLBACKEND", "Agg")

import graphrec

project = "graphrec"
author = "the graphrec developers"
copyright = "2026, the graphrec developers"
release = graphrec.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"graphrec {release}"
html_static_path: list[str] = []
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "dollarmath"]

# -- autodoc / numpydoc -----------------------------------------------------------------
# scikit-learn adds metadata-routing request methods to every estimator class: not ours
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "exclude-members": "set_fit_request,set_score_request,set_predict_request,"
    "set_transform_request,set_partial_fit_request,set_split_request",
}
autodoc_typehints = "none"  # numpydoc's Parameters carry the types (with shapes)
autodoc_mock_imports: list[str] = []
autosummary_generate = False
numpydoc_show_class_members = False  # autodoc lists the members once, in source order
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# A documented public object without a docstring fails the build (numpydoc GL08).
numpydoc_validation_checks = {"GL08"}
numpydoc_validation_exclude = {
    r"\.__\w+__$",  # dunder methods
    r"\.[A-Z_]+$",  # constants are documented by #: comments or the module docstring
    r"\.forward$",  # torch modules: forward is described by the module's docstring
}

# Public modules left out of the reference while they are under change (none now). To
# document one: drop it here and add docs/source/api/<module>.rst (``.. automodule:: <module>``)
# to api/index.rst.
UNDOCUMENTED: tuple[str, ...] = ()

# -- cross-references ---------------------------------------------------------------------
_EXTERNAL_MODULES = (
    r"(numpy|np|scipy|sp|torch|pandas|pd|matplotlib|plotly|networkx|nx|sklearn"
    r"|faiss|torch_geometric|umap|tqdm|typing|collections|os|pathlib|argparse|logging"
    r"|datetime|json|enum|types|concurrent|multiprocessing|subprocess|io|abc)"
)
_BUILTINS = (
    r"(int|float|str|bool|bytes|dict|list|tuple|set|frozenset|object|type|None"
    r"|Any|Callable|Sequence|Mapping|Iterable|Iterator|Path|PathLike|NDArray|ArrayLike"
    r"|Exception|ValueError|TypeError|KeyError|IndexError|RuntimeError|OSError"
    r"|FileNotFoundError|TimeoutError|NotImplementedError|Warning|UserWarning"
    r"|FutureWarning|DeprecationWarning|BaseException|slice|range)"
)
nitpicky = True
# other libraries and the standard library: no intersphinx offline, so plain text
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL_MODULES + r"(\..*)?"),
    (r"py:.*", _BUILTINS),
    (r"py:.*", r"Module|Tensor|Generator|Figure|Axes|DataFrame|Series|csr_matrix|csr_array"),
    # private names (underscore) are not in the reference; a docstring may still name them
    (r"py:.*", r"(.*\.)?_[A-Za-z]\w*(\..*)?"),
    # scikit-learn's NotFittedError, re-exported as graphrec.NotFittedError
    (r"py:.*", r"(graphrec\.(exceptions\.)?)?NotFittedError"),
    *[(r"py:.*", re.escape(m) + r"(\..*)?") for m in UNDOCUMENTED],
]


def _canonical(target: str) -> str | None:
    """``graphrec.LightGCN`` -> ``graphrec.models.lightgcn.LightGCN`` (where it is defined)."""
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        if isinstance(obj, type(sys)):
            return obj.__name__
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{qualname}" if module and qualname else None
    return None


def resolve_reexport(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a reference to a re-exported name (``graphrec.LightGCN``, ``gr.viz.neighborhood``)."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if target.startswith("gr."):
        target = "graphrec." + target[3:]
    candidates = [target] if target.startswith("graphrec") else []
    # an unqualified name in a docstring: look in the module (and class) it was written in
    module, cls = node.get("py:module"), node.get("py:class")
    if module and not target.startswith("graphrec"):
        if cls:
            candidates.append(f"{module}.{cls}.{target}")
        candidates.append(f"{module}.{target}")
    domain = env.get_domain("py")
    for candidate in candidates:
        canonical = _canonical(candidate)
        if canonical is None or canonical == node["reftarget"]:
            continue
        found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical,
                                    node, contnode)
        if found is not None:
            return found
    # last: a unique documented object whose dotted name ends with the target
    # (``Recommender.recommend`` written in a module that imports it only for typing)
    roles = {"func": {"function"}, "meth": {"method"}, "class": {"class", "exception"},
             "mod": {"module"}, "attr": {"attribute", "property"}, "data": {"data"},
             "exc": {"exception", "class"}, "obj": None}
    kinds = roles.get(node["reftype"])
    matches = [name for name, entry in domain.objects.items()
               if name.endswith("." + target) and (kinds is None or entry.objtype in kinds)]
    if len(matches) == 1:
        return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                   matches[0], node, contnode)
    return None


class Reexports(Directive):
    """``.. reexports:: graphrec.viz``: a table of a package's ``__all__``, each linked
    to the page of the module that defines it, with the first line of its docstring."""

    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"exclude": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        package = importlib.import_module(self.arguments[0])
        exclude = set((self.options.get("exclude") or "").split())
        lines = [".. list-table::", "   :widths: 30 70", ""]
        for name in getattr(package, "__all__", []):
            if name in exclude or name.startswith("__"):
                continue
            obj = getattr(package, name)
            canonical = _canonical(f"{package.__name__}.{name}")
            if canonical is None:
                continue
            if any(canonical.startswith(m) for m in UNDOCUMENTED):
                continue
            role = ("mod" if isinstance(obj, type(sys)) else "class" if isinstance(obj, type)
                    else "func" if callable(obj) else "data")
            doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
            summary = doc[0] if doc and role != "data" else ""
            lines += [f"   * - :py:{role}:`~{canonical}`" if role != "mod"
                      else f"   * - :py:mod:`{canonical}`",
                      f"     - {summary}"]
        node = nodes.container()
        self.state.nested_parse(StringList(lines), self.content_offset, node)
        return [node]


def setup(app: Any) -> dict[str, Any]:
    """Register the re-export resolver and the ``reexports`` directive."""
    app.connect("missing-reference", resolve_reexport)
    app.add_directive("reexports", Reexports)
    return {"parallel_read_safe": True}
