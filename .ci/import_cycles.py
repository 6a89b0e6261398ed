#!/usr/bin/env python3
"""Fails when the modules of src/ import each other in a circle.

Granularity (the nodes of the graph):
  * each top-level module of src/ (`auth`, `keys`, `resource`, `patch`, ...), with all of
    its sub-modules folded into it, except
  * the sub-modules of `store/` and `server/`, which are nodes of their own
    (`store::sql`, `store::memory`, `server::parse`, `server::route`, ...), since those
    two trees hold the layers of the design (the store trait and its implementations,
    the stages of the request pipeline).
The crate root (`lib.rs`) is a node for the items it defines itself (crate-wide
constants); its `pub use` items are only followed, not counted as its imports.
A module and its own descendants may use each other (a `mod.rs` re-exports its children,
a child uses its parent's types): edges between a node and its parent or child are not
counted. Every other pair that imports each other, directly or through a longer
path, is a circle.

Edges: every `crate::`, `super::` and `self::` path (in `use` items, also grouped, and
inline in code) outside comments, string literals and test code (`#[cfg(test)]` items and
files included only by them). A path through a re-export (`crate::User`,
`crate::store::RequestContext`) counts for the module that defines the item, found by
following the `pub use` items of the crate root and of each module file.

Usage: .ci/import_cycles.py [SRC_DIR]   (default: src next to .ci/); `--graph` prints
the edges; `--fine` makes every module file a node (circles inside one module tree;
`.ci/run` runs both); `--self-test` checks the checker on a small tree. Exit status 1 and the circles (with a file:line for each edge) on failure.
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict

SPLIT = {"store", "server"}  # top-level modules whose sub-modules are nodes of their own
FINE = False  # --fine: every module file is a node (enforced by .ci/run too)


def strip_comments_and_strings(text: str) -> str:
    """Blanks comments, string and char literals, keeping line breaks (for line numbers)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 130]) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): only the former
            # is blanked.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


TEST_ATTR = re.compile(r"#\[cfg\((?:test|all\(test[^\]]*\))\)\]")


def strip_test_items(text: str) -> tuple[str, set[str]]:
    """Blanks items under `#[cfg(test)]`; returns the text and the names of `mod x;`
    declarations so marked (files that are test code)."""
    test_mods = set()
    while True:
        m = TEST_ATTR.search(text)
        if not m:
            return text, test_mods
        j = m.end()
        # Skip further attributes and white space to the item.
        while True:
            rest = text[j:]
            ws = len(rest) - len(rest.lstrip())
            j += ws
            if text.startswith("#[", j):
                j = text.find("]", j) + 1
                continue
            break
        semi = text.find(";", j)
        brace = text.find("{", j)
        decl = re.match(r"(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text[j:])
        if decl:
            test_mods.add(decl.group(1))
            end = j + decl.end()
        elif brace >= 0 and (semi < 0 or brace < semi):
            end = matching_brace(text, brace) + 1
        else:
            end = semi + 1
        blank = "".join(ch if ch == "\n" else " " for ch in text[m.start():end])
        text = text[: m.start()] + blank + text[end:]


class Crate:
    def __init__(self, src: str):
        self.src = src
        self.files: dict[tuple[str, ...], str] = {}  # module path -> cleaned text
        self.paths: dict[tuple[str, ...], str] = {}  # module path -> file name
        self.reexports: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = defaultdict(dict)
        self.load((), os.path.join(src, "lib.rs"))
        for mod in list(self.files):
            self.read_reexports(mod)

    def load(self, mod: tuple[str, ...], path: str) -> None:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        text, test_mods = strip_test_items(strip_comments_and_strings(raw))
        self.files[mod] = text
        self.paths[mod] = os.path.relpath(path, os.path.dirname(self.src))
        # Inline modules (`mod x { ... }`) stay part of this file; file modules are loaded.
        here = os.path.dirname(path)
        is_dir_mod = os.path.basename(path) in ("mod.rs", "lib.rs")
        base = here if is_dir_mod else os.path.join(here, os.path.splitext(os.path.basename(path))[0])
        for m in re.finditer(r"(?:#\[path\s*=\s*\"([^\"]*)\"\]\s*)?(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text):
            name = m.group(2)
            if name in test_mods:
                continue
            for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
                if os.path.exists(cand):
                    self.load(mod + (name,), cand)
                    break

    def resolve(self, mod: tuple[str, ...], segs: list[str]) -> tuple[str, ...] | None:
        """The absolute path of `segs` (starting with crate/self/super) seen from `mod`."""
        if not segs:
            return None
        if segs[0] == "crate":
            return tuple(segs[1:])
        if segs[0] in ("self", "super"):
            base = list(mod)
            rest = list(segs)
            if rest[0] == "self":
                rest = rest[1:]
            while rest and rest[0] == "super":
                if not base:
                    return None
                base.pop()
                rest = rest[1:]
            return tuple(base) + tuple(rest)
        return None

    def read_reexports(self, mod: tuple[str, ...]) -> None:
        """`pub use` items of a module: name -> absolute path of what it names."""
        text = self.files[mod]
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", text):
            for segs, alias in use_leaves(m.group(1)):
                first = segs[0]
                if first not in ("crate", "self", "super") and (mod + (first,)) in self.files:
                    segs = ["self"] + segs
                target = self.resolve(mod, segs)
                if target is None:
                    continue
                name = alias or segs[-1]
                if name not in ("*", "self"):
                    self.reexports[mod][name] = target

    def definer(self, path: tuple[str, ...], depth: int = 0) -> tuple[str, ...]:
        """The module that defines the item at `path` (or the module `path` names)."""
        # The longest prefix that is a module.
        k = len(path)
        while k and path[:k] not in self.files:
            k -= 1
        mod, rest = path[:k], path[k:]
        if rest and depth < 16:
            target = self.reexports.get(mod, {}).get(rest[0])
            if target is not None and target != path:
                return self.definer(target + rest[1:], depth + 1)
        return mod


def use_leaves(tree: str) -> list[tuple[list[str], str | None]]:
    """The leaves of a use tree: `a::{b, c::{d as e}}` -> [a::b], [a::c::d as e]."""
    tree = re.sub(r"\s+", " ", tree).strip()
    out: list[tuple[list[str], str | None]] = []

    def walk(prefix: list[str], s: str) -> None:
        s = s.strip()
        if not s:
            return
        if "{" in s:
            i = s.index("{")
            head = s[:i].strip().rstrip(":").strip()
            inner = s[i + 1 : s.rindex("}")]
            pre = prefix + [p for p in head.split("::") if p]
            for part in split_top(inner):
                walk(pre, part)
            return
        alias = None
        m = re.match(r"(.*?)\s+as\s+(\w+)$", s)
        if m:
            s, alias = m.group(1), m.group(2)
        out.append((prefix + [p.strip() for p in s.split("::") if p.strip()], alias))

    for part in split_top(tree):
        walk([], part)
    return out


def split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


ROOT = "crate root"


def node_of(crate: Crate, mod: tuple[str, ...]) -> str:
    if not mod:
        return ROOT
    if FINE:
        return "::".join(mod)
    if mod[0] in SPLIT and len(mod) >= 2:
        return "::".join(mod[:2])
    return mod[0]


def related(a: str, b: str) -> bool:
    return a.startswith(b + "::") or b.startswith(a + "::")


PATH = re.compile(r"(?<![\w:])((?:crate|self|super)(?:\s*::\s*(?:\w+|\*))+)")
USE = re.compile(r"\buse\s+([^;]+);")


def edges(crate: Crate) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for mod, text in crate.files.items():
        src_node = node_of(crate, mod)
        refs: list[tuple[list[str], int]] = []
        spans = []
        for m in USE.finditer(text):
            spans.append((m.start(), m.end()))
            # The crate root's `pub use` items are the public paths, followed to the
            # defining module (see `definer`), not dependencies of the root.
            if not mod and re.search(r"\bpub(\([^)]*\))?\s+$", text[max(0, m.start() - 16) : m.start()]):
                continue
            line = text.count("\n", 0, m.start()) + 1
            for segs, _ in use_leaves(m.group(1)):
                first = segs[0]
                if first not in ("crate", "self", "super") and (mod + (first,)) in crate.files:
                    segs = ["self"] + segs
                refs.append((segs, line))
        for m in PATH.finditer(text):
            if any(a <= m.start() < b for a, b in spans):
                continue
            line = text.count("\n", 0, m.start()) + 1
            refs.append(([p.strip() for p in m.group(1).split("::")], line))
        for segs, line in refs:
            target = crate.resolve(mod, segs)
            if target is None:
                continue
            dst_node = node_of(crate, crate.definer(target))
            if dst_node == src_node or related(src_node, dst_node):
                continue
            found[(src_node, dst_node)].append(f"{crate.paths[mod]}:{line}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def shortest_circle(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """The shortest circle through the component (breadth-first from each member)."""
    best: list[str] = []
    for start in sorted(members):
        prev = {start: None}
        queue = [start]
        found = None
        while queue and found is None:
            nxt = []
            for v in queue:
                for w in sorted(graph.get(v, ())):
                    if w == start:
                        found = v
                        break
                    if w in members and w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            queue = nxt
        if found is None:
            continue
        path = [found]
        while prev[path[-1]] is not None:
            path.append(prev[path[-1]])
        path = path[::-1] + [start]
        if not best or len(path) < len(best):
            best = path
    return best


SELF_TEST = {
    # A tree with one circle (auth <-> keys, the second edge through a re-export at the
    # root and a grouped import), test-only and commented paths that must not count, and
    # parent/child imports that are allowed.
    "lib.rs": "pub mod auth;\npub mod keys;\npub mod store;\npub use keys::ApiKeys;\n"
    "/// The root's own item.\npub const C: &str = \"crate::store::x\";\n",
    "auth.rs": "use crate::{ApiKeys as K, store::Thing};\n// use crate::store::sql::Other;\n"
    "#[cfg(test)]\nmod tests { use crate::store::sql::Other; }\n",
    "keys.rs": "pub struct ApiKeys;\nfn f() { let _ = crate::auth::g; }\n",
    "store/mod.rs": "mod sql;\npub use sql::Other;\npub struct Thing;\nuse crate::C;\n",
    "store/sql.rs": "pub struct Other;\nuse super::Thing;\n",
}


def self_test() -> int:
    """Checks the checker on SELF_TEST: the circle is found, nothing else is."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in SELF_TEST.items():
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        found = edges(Crate(tmp))
    got = sorted(found)
    want = [
        ("auth", "keys"),
        ("auth", "store"),
        ("keys", "auth"),
        ("store", ROOT),
    ]
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in found:
        graph[a].add(b)
    circles = cycles(graph)
    if got != want or circles != [["auth", "keys"]]:
        print(f"self-test failed: edges {got}, circles {circles}")
        return 1
    print("self-test passed")
    return 0


def main() -> int:
    global FINE
    if "--self-test" in sys.argv:
        return self_test()
    FINE = "--fine" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    crate = Crate(os.path.normpath(src))
    found = edges(crate)
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in found:
        graph[a].add(b)
    if "--graph" in sys.argv:
        for (a, b), where in sorted(found.items()):
            print(f"{a} -> {b}  ({len(where)}: {where[0]})")
    circles = cycles(graph)
    if not circles:
        nodes = {n for e in found for n in e}
        print(f"no import circles among {len(nodes)} modules ({len(found)} edges)")
        return 0
    for comp in circles:
        members = set(comp)
        print("import circle among: " + ", ".join(comp))
        print("  shortest: " + " -> ".join(shortest_circle(graph, members)))
        for (a, b), where in sorted(found.items()):
            if a in members and b in members:
                more = f" (+{len(where) - 1} more)" if len(where) > 1 else ""
                print(f"  {a} -> {b}: {where[0]}{more}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
