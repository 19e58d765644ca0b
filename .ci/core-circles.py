#!/usr/bin/env python3
"""Fails when lamba-core's modules import each other in a circle.

Two levels are checked: the rooms (the top-level modules: identity, oauth,
events, ...) must form no circle, and inside a room the sibling files must
form none (a parent `mod.rs` and its children are one unit: they may name
each other). A reference is any `crate::a::b` path or `super::x` in code;
comments are skipped.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "crates/lamba-core/src"


def module_of(path):
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


modules = {module_of(p): p for p in SRC.rglob("*.rs")}


def resolve(parts):
    """The deepest module file a path names."""
    parts = tuple(parts)
    while parts and parts not in modules:
        parts = parts[:-1]
    return parts


edges = set()
for module, path in modules.items():
    text = "\n".join(
        line.split("//", 1)[0] for line in path.read_text().splitlines()
    )
    # A test module may reach anywhere; circles matter in shipped code.
    text = text.split("#[cfg(test)]", 1)[0]
    for match in re.finditer(r"\bcrate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)", text):
        target = resolve(match.group(1).split("::"))
        if target and target != module:
            edges.add((module, target))
    for match in re.finditer(r"\bsuper::((?:[a-z_][a-z0-9_]*::)*[a-z_]*)", text):
        base = module[:-1]
        target = resolve(base + tuple(p for p in match.group(1).split("::") if p))
        if target != module:
            edges.add((module, target))
    # `use sibling::x` inside a mod.rs names a child.
    for match in re.finditer(r"^\s*(?:pub(?:\([a-z]+\))? )?use ([a-z_]+)::", text, re.M):
        child = module + (match.group(1),)
        if child in modules:
            edges.add((module, child))


def cycles(nodes, graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in nodes:
        if v not in index:
            visit(v)
    return out


failed = False
rooms = {}
for a, b in edges:
    if a and b and a[0] != b[0]:
        rooms.setdefault(a[0], set()).add(b[0])
for component in cycles(sorted({m[0] for m in modules if m}), rooms):
    failed = True
    print("error: lamba-core rooms import each other:", " <-> ".join(sorted(component)))

files = {}
for a, b in edges:
    # Inside one room, ignore a parent and its own children.
    if a and b and a[0] == b[0] and a[:-1] != b and b[:-1] != a:
        files.setdefault(a, set()).add(b)
for component in cycles(sorted(m for m in modules if m), files):
    failed = True
    print("error: lamba-core modules import each other:",
          " <-> ".join("::".join(m) for m in sorted(component)))

if failed:
    sys.exit(1)
print(f"lamba-core: {len(modules)} modules, no import circles")
