"""The registry of a fit's parts (src/fastsgd/_registry.py) as Markdown tables, read from
the source: the documentation is built without the compiled module. The losses'
formulas come from their C++ types (cpp/include/fastsgd/losses.hpp). docs/_hooks.py puts
the tables into docs/parts.md; tests/test_losses.py checks they list every part.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "src" / "fastsgd" / "_registry.py"
LOSS_TYPES = ROOT / "cpp" / "include" / "fastsgd" / "losses.hpp"
REGISTRY_MARKER = "<!-- registry-tables -->"
REGISTRY_PAGE = "parts.md"


def _entries(tree: ast.Module, registry: str) -> list[dict[str, Any]]:
    """The entries of one registry (``LOSSES = Registry("loss", [Loss(...), ...])``), each
    as a dict of its literal arguments (name, summary, then keywords)."""
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == registry
            and isinstance(node.value, ast.Call)
        ):
            out = []
            for call in node.value.args[1].elts:  # type: ignore[attr-defined]
                entry: dict[str, Any] = {}
                for key, arg in zip(("name", "summary"), call.args, strict=False):
                    entry[key] = ast.literal_eval(arg)
                for kw in call.keywords:
                    try:
                        entry[str(kw.arg)] = ast.literal_eval(kw.value)
                    except ValueError:
                        entry[str(kw.arg)] = ast.unparse(kw.value)
                out.append(entry)
            return out
    raise ValueError(f"{REGISTRY.name} has no registry {registry}")


def _formulas() -> dict[str, str]:
    """Each C++ loss type's formula (its ``doc``), by the core's name for it."""
    text = LOSS_TYPES.read_text(encoding="utf-8")
    names = dict(re.findall(r"X\((\w+), (\w+)\)", text))  # core name -> type
    out = {}
    for core, typ in names.items():
        m = re.search(rf"struct {typ}\b.*?doc = \"(.*?)\";", text, re.DOTALL)
        out[core] = m.group(1) if m else ""
    return out


def _code(names: Any) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else ""


TARGETS = {
    "real": "real targets",
    "binary": "labels (two classes, or each class against the rest)",
    "class": "class indices (one score per class)",
}


def registry_tables() -> str:
    """The registry as Markdown tables."""
    tree = ast.parse(REGISTRY.read_text(encoding="utf-8"))
    formulas = _formulas()
    lines = [
        "### Losses",
        "",
        "| loss | aliases | ℓ(z, y) | targets | parameter | what it is |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in _entries(tree, "LOSSES"):
        param = e.get("parameter")
        par = f"`{param}` (default {e.get('default')})" if param else ""
        lines.append(
            f"| `{e['name']}` | {_code(e.get('aliases'))} | {formulas.get(e['core'], '')} | "
            f"{TARGETS[e['target']]} | {par} | {e['summary']} |"
        )
    parts = (("Penalties", "PENALTIES"), ("Update rules", "UPDATES"),
             ("Learning-rate schedules", "SCHEDULES"))  # fmt: skip
    for title, registry in parts:
        lines += ["", f"### {title}", "", "| name | what it is |", "| --- | --- |"]
        for e in _entries(tree, registry):
            opts = e.get("options")
            extra = f" (options {_code(opts)})" if opts else ""
            lines.append(f"| `{e['name']}` | {e['summary']}{extra} |")
    return "\n".join(lines) + "\n"
