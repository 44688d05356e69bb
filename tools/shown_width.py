"""Count the functions that chapters show with ``literalinclude`` that fit 88 columns.

For the issue-8 before/after note: ``python tools/shown_width.py [--rev REV]`` reads
every ``{literalinclude}`` with ``:pyobject:`` in ``book/*.md`` and the named function's
source, at the working tree or at a git revision.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
from pathlib import Path

_INCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n:pyobject: (\S+)")


def _read(path: str, rev: str | None) -> str:
    if rev is None:
        return Path(path).read_text(encoding="utf-8")
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def _object_lines(source: str, dotted: str) -> list[str]:
    """The source lines of a function or class named like ``Class.method``."""
    lines = source.splitlines()
    scope: list[ast.stmt] = ast.parse(source).body
    node = None
    for part in dotted.split("."):
        node = next(
            n
            for n in scope
            if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part
        )
        scope = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return lines[start - 1 : node.end_lineno]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="a git revision to read the files from")
    parser.add_argument("--width", type=int, default=88)
    args = parser.parse_args()
    files = subprocess.run(
        ["git", "ls-tree", "--name-only", args.rev or "HEAD", "book/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    shown, fitting = 0, 0
    for chapter in sorted(f for f in files if f.endswith(".md")):
        for target, obj in _INCLUDE.findall(_read(chapter, args.rev)):
            path = Path(chapter).parent / target
            path = str(path.resolve().relative_to(Path.cwd()))
            widest = max(len(ln) for ln in _object_lines(_read(path, args.rev), obj))
            shown += 1
            fitting += widest <= args.width
            if widest > args.width:
                print(f"  {chapter}: {obj} is {widest} columns wide")
    print(f"{fitting} of {shown} shown functions fit {args.width} columns")


if __name__ == "__main__":
    main()
