"""The code's shape is the architecture: layers import downwards only, no cycles.

Read from the source with ``ast`` (every import, at the top of a module or
inside a function), so the rule holds whatever is imported lazily.
docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "knowledge_base", "training")

# Each module belongs to the first group whose prefix names it (most specific first).
GROUPS = [
    ("knowledge_base.build", "build"),  # builds a store's artifacts: trains its intent model
    ("knowledge_base", "knowledge"),
    ("bot.limits", "limits"),
    ("bot.storage", "storage"),
    ("bot.nlu", "nlu"),
    ("bot.config", "config"),
    ("bot.messages", "messages"),
    ("bot.answers", "answers"),
    ("bot.actions.commands", "entry"),
    ("bot.actions", "actions"),
    ("bot.insights.commands", "entry"),
    ("bot.insights", "insights"),
    ("bot.merchant.commands", "entry"),
    ("bot.merchant.faq_commands", "entry"),
    ("bot.merchant", "merchant"),
    ("bot.turn", "turn"),
    ("bot.assemble", "assemble"),
    ("bot.web", "web"),
    ("bot.cli", "entry"),
    ("bot.repl", "entry"),
    ("training", "training"),
]

# What each group may import besides itself. Dependencies run one way: the web skin
# over the turn pipeline over NLU, actions, answers, knowledge and storage; insights
# read storage; training and the command line sit on top of the runtime, and the
# runtime never imports training (only the build step trains an intent model).
ALLOWED = {
    "package": set(),
    "knowledge": set(),
    "limits": set(),
    "storage": set(),
    "nlu": {"knowledge"},
    "config": {"storage"},
    "messages": {"nlu", "knowledge"},
    "answers": {"knowledge", "config", "limits", "storage"},
    "actions": {"storage", "nlu", "messages", "knowledge"},
    "insights": {"storage", "nlu", "knowledge"},
    "merchant": {"answers", "knowledge", "storage"},
    "turn": {"nlu", "actions", "answers", "knowledge", "storage", "messages", "config"},
    "build": {"knowledge", "nlu", "training"},
    "assemble": {
        "turn",
        "nlu",
        "actions",
        "answers",
        "knowledge",
        "storage",
        "messages",
        "config",
        "insights",
        "build",
    },
    "web": {
        "assemble",
        "turn",
        "answers",
        "insights",
        "storage",
        "config",
        "limits",
        "messages",
        "merchant",
    },
    "training": {
        "knowledge",
        "build",
        "storage",
        "nlu",
        "config",
        "messages",
        "answers",
        "actions",
        "insights",
        "turn",
        "assemble",
    },
    # The commands sit on top of everything, training included.
    "entry": set(),
}

ALLOWED["entry"] = ALLOWED["training"] | {"web", "training", "limits", "merchant"}

MAX_LINES = 500
# Over the limit, each with its reason; the list may only shrink.
LONG_MODULES: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _group(module: str) -> str:
    if module in PACKAGES:
        return "package"  # the top-level packages' own __init__: nothing in them
    for prefix, group in GROUPS:
        if module == prefix or module.startswith(prefix + "."):
            return group
    raise AssertionError(f"{module} is in no layer: add it to GROUPS in tests/test_layout.py")


def _imports(module: str) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for each project import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name in MODULES]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in MODULES:
                    out.append((target, "", node.lineno))
                elif base in MODULES:
                    out.append((base, alias.name, node.lineno))
    return out


EDGES = {m: _imports(m) for m in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _group(module)


def test_layers_import_downwards_only():
    wrong = []
    for module, imports in EDGES.items():
        group = _group(module)
        for target, _, line in imports:
            other = _group(target)
            if other != group and other not in ALLOWED[group]:
                wrong.append(f"{module}:{line} ({group}) imports {target} ({other})")
    assert not wrong, "upward or sideways imports:\n" + "\n".join(wrong)


def test_no_import_cycles():
    graph = {m: sorted({t for t, _, _ in EDGES[m] if t != m}) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_private_name_is_imported_across_modules():
    private = [
        f"{module}:{line} imports {name} from {target}"
        for module, imports in EDGES.items()
        for target, name, line in imports
        if name.startswith("_") and target != module
    ]
    assert not private, "\n".join(private)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_short(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    if module in LONG_MODULES:
        assert lines > MAX_LINES, f"{module} is short now: take it off LONG_MODULES"
        return
    assert lines <= MAX_LINES, f"{module} has {lines} lines (limit {MAX_LINES}): split it"
