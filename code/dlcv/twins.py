"""Notebook twins of the chapters, for Colab, Binder and downloads.

The chapters are MyST Markdown notebooks (``book/knn.md``). Colab opens only ``.ipynb``
files, and sphinx-book-theme points its Colab and Binder buttons at ``book/knn.ipynb`` only
when that file sits beside ``book/knn.md``. So every chapter has a committed ``.ipynb`` twin:

* the same cells as the chapter (converted with Jupytext), without outputs;
* one extra first cell that installs ``dlcv`` from the book's repository **only on Colab**
  (where ``google.colab`` is importable); on Binder and in a local clone, where ``dlcv`` is
  already installed, it does nothing;
* deterministic cell ids, so that regenerating an unchanged chapter changes no byte.

``python -m dlcv.twins`` (``make twins``) rewrites the twins; ``python -m dlcv.twins --check``
and the tests fail when a twin is out of date. The repository and branch come from
``_config.yml`` (``repository.url``, ``repository.branch``), the same settings the launch
buttons use. The twins are excluded from the Sphinx build (``exclude_patterns``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

__all__ = ["chapters", "install_cell_source", "make_twin", "repository", "sync"]

_CODE_CELL = re.compile(r"^```\{code-cell\}", re.M)


def repository(root: Path) -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, from ``_config.yml``."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url or not url.startswith("https://github.com/"):
        raise ValueError(
            f"_config.yml repository.url must be a https://github.com/ URL, got {url!r}"
        )
    return url.rstrip("/"), branch


def install_cell_source(url: str, branch: str) -> str:
    """The first cell of every twin: install dlcv on Colab, do nothing elsewhere."""
    return (
        "# Colab only: install dlcv, this book's package, from the book's repository.\n"
        "# On Binder or in a local clone dlcv is already installed; nothing happens.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "dlcv @ git+{url}@{branch}"'
    )


def chapters(root: Path) -> list[Path]:
    """The chapter notebooks listed in ``_toc.yml`` (pages with code cells)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [
        c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])
    ]
    paths = [root / f"{f}.md" for f in files]
    return [p for p in paths if p.is_file() and _CODE_CELL.search(p.read_text())]


def make_twin(chapter: Path, url: str, branch: str) -> str:
    """The ``.ipynb`` text of a chapter's twin."""
    import jupytext
    import nbformat

    nb = jupytext.read(chapter, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    nb.metadata["colab"] = {"name": chapter.with_suffix(".ipynb").name}
    install = nbformat.v4.new_code_cell(
        install_cell_source(url, branch), metadata={"tags": ["colab-install"]}
    )
    nb.cells.insert(0, install)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # deterministic: same chapter, same bytes
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb) + "\n"


def sync(root: Path, *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, only compare) every twin; return those that differed."""
    url, branch = repository(root)
    stale = []
    for chapter in chapters(root):
        twin = chapter.with_suffix(".ipynb")
        text = make_twin(chapter, url, branch)
        current = twin.read_text(encoding="utf-8") if twin.is_file() else None
        if current != text:
            stale.append(twin)
            if not check:
                twin.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    """``python -m dlcv.twins [--check] [--root DIR]``."""
    parser = argparse.ArgumentParser(description="Sync the chapters' .ipynb twins.")
    parser.add_argument("--check", action="store_true", help="only report stale twins")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's root")
    args = parser.parse_args(argv)
    stale = sync(args.root, check=args.check)
    for twin in stale:
        verb = "out of date" if args.check else "written"
        print(f"{twin.relative_to(args.root)}: {verb}")
    if args.check and stale:
        print("run `make twins` to regenerate them")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
