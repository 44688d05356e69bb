"""The execution cache must never serve outputs made by old dlcv code or old requirements."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlcv import sphinxext

JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")

CHAPTER = """\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# Chapter

```{code-cell} ipython3
:tags: [hide-input]
%matplotlib inline
import time
from fakepkg import used
print("VALUE", used.VALUE, "RUN", time.time_ns())
```
"""


@pytest.fixture
def fakepkg(tmp_path, monkeypatch):
    """A package `fakepkg` with a module the chapter uses, one it reaches, and one it doesn't."""
    pkg = tmp_path / "lib" / "fakepkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""fake"""\n')
    (pkg / "used.py").write_text("from .helper import BASE\nVALUE = BASE + 1\n")
    (pkg / "helper.py").write_text("BASE = 1\n")
    (pkg / "unused.py").write_text("X = 0\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    for name in [m for m in sys.modules if m.startswith("fakepkg")]:
        monkeypatch.delitem(sys.modules, name)
    return pkg


def test_chapter_imports_reads_code_cells_only():
    text = CHAPTER + "\nSome prose mentioning `import fakepkg.unused`.\n"
    assert sphinxext.chapter_imports(text, ["fakepkg"]) == {"fakepkg", "fakepkg.used"}
    assert sphinxext.chapter_imports(text, ["dlcv"]) == set()


def test_chapter_imports_reads_cells_with_a_yaml_options_block():
    cell = (
        "```{code-cell} ipython3\n---\nmystnb:\n  figure:\n    caption: A plot\n"
        "tags: [hide-input]\n---\nfrom fakepkg import used\n```\n"
    )
    assert sphinxext.chapter_imports(cell, ["fakepkg"]) == {"fakepkg", "fakepkg.used"}


def test_module_dependencies_follow_relative_imports(fakepkg):
    deps = sphinxext.module_dependencies({"fakepkg.used"})
    assert sorted(deps) == ["fakepkg", "fakepkg.helper", "fakepkg.used"]


def test_fingerprint_changes_with_used_code_only(fakepkg, tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("torch==2.13.0\n")

    def fp():
        return sphinxext.fingerprint(
            CHAPTER, packages=["fakepkg"], files=[req], extra="quick"
        )

    before = fp()
    (fakepkg / "unused.py").write_text("X = 1\n")
    assert fp() == before
    (fakepkg / "helper.py").write_text("BASE = 2\n")  # reached through used.py
    after_code = fp()
    assert after_code != before
    req.write_text("torch==2.14.0\n")
    assert fp() != after_code
    assert (
        sphinxext.fingerprint(CHAPTER, packages=["fakepkg"], files=[req], extra="full")
        != fp()
    )


def test_real_chapters_depend_on_the_modules_they_import():
    root = Path(__file__).resolve().parents[2]
    text = (root / "book" / "knn.md").read_text()
    deps = sphinxext.module_dependencies(sphinxext.chapter_imports(text, ["dlcv"]))
    assert {"dlcv", "dlcv.knn", "dlcv.data", "dlcv.runtime"} <= set(deps)


def run_build(book: Path, env: dict) -> subprocess.CompletedProcess:
    """`jupyter-book build` with the book's strict flags."""
    cmd = [
        JUPYTER_BOOK,
        "build",
        str(book),
        "--warningiserror",
        "--nitpick",
        "--keep-going",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def build(book: Path, env: dict) -> tuple[str, str]:
    """Build the tiny book strictly; return the chapter's printed line and the build log."""
    proc = run_build(book, env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (book / "_build" / "html" / "chapter.html").read_text()
    return re.search(r"VALUE \d+ RUN \d+", html).group(0), proc.stdout


@pytest.mark.slow
def test_book_rebuild_reexecutes_only_when_dependencies_change(fakepkg, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "chapter.md").write_text(CHAPTER)
    (book / "requirements.txt").write_text("torch==2.13.0\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (book / "_config.yml").write_text(
        textwrap.dedent("""\
        title: tiny
        execute: {execute_notebooks: cache, raise_on_error: true}
        sphinx:
          extra_extensions: [dlcv.sphinxext]
          config:
            dlcv_fingerprint_packages: [fakepkg]
            dlcv_fingerprint_files: [requirements.txt]
        """)
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(fakepkg.parent), os.environ.get("PYTHONPATH", "")]
        ),
        "DLCV_DEVICE": "cpu",
        "DLCV_BUDGET": "quick",
    }

    first, log = build(book, env)
    assert first.startswith("VALUE 2 ") and "Executed notebook" in log
    again, log = build(book, env)
    assert again == first, "an unchanged book must come from the cache"
    assert "Executed notebook" not in log

    (fakepkg / "unused.py").write_text("X = 1\n")
    again, _ = build(book, env)
    assert again == first, "code the chapter does not import must not re-execute it"

    (fakepkg / "helper.py").write_text("BASE = 41\n")
    changed, log = build(book, env)
    assert changed.startswith("VALUE 42 "), "a change to imported code must re-execute"
    assert "Executed notebook" in log

    (book / "requirements.txt").write_text("torch==2.14.0\n")
    rerun, _ = build(book, env)
    assert rerun != changed and rerun.startswith("VALUE 42 "), (
        "new requirements must re-execute"
    )

    full, _ = build(book, {**env, "DLCV_BUDGET": "full"})
    assert full != rerun, "another budget must re-execute"


@pytest.mark.slow
def test_failed_build_is_not_followed_by_a_green_noop(fakepkg, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "chapter.md").write_text(CHAPTER + "\n[a broken link](#nowhere)\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (book / "_config.yml").write_text(
        "title: tiny\nsphinx:\n  extra_extensions: [dlcv.sphinxext]\n"
        "  config:\n    dlcv_fingerprint_packages: [fakepkg]\n"
    )
    env = {**os.environ, "PYTHONPATH": str(fakepkg.parent)}
    for _ in range(2):
        proc = run_build(book, env)
        assert proc.returncode != 0, (
            "a warning must fail every build, not only the first"
        )
        assert "WARNING" in proc.stdout + proc.stderr


def test_repeated_scripts_are_written_once():
    from sphinx.builders.html._assets import _JavaScript

    inline = _JavaScript("", body="const THEBE_JS_URL = 'x'")
    scripts = [
        _JavaScript("a.js"),
        inline,
        _JavaScript("a.js"),
        inline,
        _JavaScript("b.js"),
    ]
    context = {"script_files": scripts}
    sphinxext._dedupe_scripts(None, "page", "page.html", context, None)
    assert [
        (js.filename, js.attributes.get("body")) for js in context["script_files"]
    ] == [
        ("a.js", None),
        ("", "const THEBE_JS_URL = 'x'"),
        ("b.js", None),
    ]
