"""Share of a module's code lines that validate input, for the issue-8 note.

A code line is any line of a statement that is not blank, a comment or a docstring. A
validation line belongs to an ``if`` whose body only raises, a bare ``raise``, a call of
a ``check_*``/``_check*`` helper (as a statement or an assignment), or the body of a
private ``_check*`` function. Usage:
``python tools/validation_share.py [--rev REV] MODULE...``.
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import tokenize


def _code_lines(source: str) -> set[int]:
    tree = ast.parse(source)
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines - docstrings


def _is_check_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name.startswith(("check_", "_check"))


def _validation_lines(source: str) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        span = None
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_check"):
            span = node
        elif isinstance(node, ast.If) and all(
            isinstance(s, ast.Raise) for s in node.body
        ):
            span = node
        elif isinstance(node, ast.Raise):
            span = node
        elif isinstance(node, ast.Expr | ast.Assign) and _is_check_call(node.value):
            span = node
        if span is not None:
            out.update(range(span.lineno, span.end_lineno + 1))
    return out


def share(source: str) -> tuple[int, int]:
    """(validation lines, code lines) of a module's source."""
    code = _code_lines(source)
    return len(_validation_lines(source) & code), len(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", help="paths such as code/dlcv/knn.py")
    parser.add_argument("--rev", help="a git revision to read the files from")
    args = parser.parse_args()
    for path in args.modules:
        if args.rev:
            source = subprocess.run(
                ["git", "show", f"{args.rev}:{path}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        else:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        valid, total = share(source)
        print(f"{path}: {valid}/{total} code lines validate ({valid / total:.0%})")


if __name__ == "__main__":
    main()
