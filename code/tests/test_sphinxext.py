"""The execution cache never serves outputs made by old dlcv code or requirements."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlcv._book import sphinxext

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


# The tiny book's chapter: CHAPTER and a four-backtick cell with a YAML options block
# whose %%time magic imports fakepkg.conf, which reads fakepkg/conf/conf.json.
BOOK_CHAPTER = (
    CHAPTER
    + """
````{code-cell} ipython3
---
tags: [hide-input]
---
%%time
from fakepkg import conf
print("SCALE", conf.SCALE)
````
"""
)


@pytest.fixture
def fakepkg(tmp_path, monkeypatch):
    """A package `fakepkg`: a module the chapter uses, one it reaches, one it doesn't.

    And a subpackage `fakepkg.conf` that reads a JSON data file.
    """
    pkg = tmp_path / "lib" / "fakepkg"
    (pkg / "conf").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""fake"""\n')
    (pkg / "used.py").write_text("from .helper import BASE\nVALUE = BASE + 1\n")
    (pkg / "helper.py").write_text("BASE = 1\n")
    (pkg / "unused.py").write_text("X = 0\n")
    (pkg / "conf" / "__init__.py").write_text(
        "import json\nfrom pathlib import Path\n\n"
        'path = Path(__file__).parent / "conf.json"\n'
        'SCALE = json.loads(path.read_text())["scale"]\n'
    )
    (pkg / "conf" / "conf.json").write_text('{"scale": 3}\n')
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


def cell(source: str, *, fence: str = "```", options: str = "") -> str:
    """A MyST code cell holding ``source``."""
    return f"{fence}{{code-cell}} ipython3\n{options}{source}\n{fence}\n"


def imports(source: str, **kwargs) -> set[str]:
    """What `chapter_imports` finds of `fakepkg` in one code cell."""
    return sphinxext.chapter_imports(cell(source, **kwargs), ["fakepkg"])


USED = {"fakepkg", "fakepkg.used"}


def test_chapter_imports_reads_four_backtick_and_tilde_fences():
    yaml = "---\ntags: [hide-input]\n---\n"
    assert imports("from fakepkg import used", fence="````", options=yaml) == USED
    short = ":tags: [x]\n"
    assert imports("from fakepkg import used", fence="~~~", options=short) == USED
    four = cell("from fakepkg import used", fence="````")
    assert sphinxext._CODE_CELL.search(four), "a four-backtick chapter is executable"


@pytest.mark.parametrize(
    "source",
    [
        "%time from fakepkg import used",
        "%timeit -n1 -r3 from fakepkg import used",
        "x = %time from fakepkg import used",
        "%%time\nfrom fakepkg import used",
        "%%timeit -n1 from fakepkg import used\nused.VALUE",
        "%%timeit -n1\nfrom fakepkg import used",
        "%%capture out --no-stderr\nfrom fakepkg import used",
        "%matplotlib inline\n!nvidia-smi\nfrom fakepkg import used",
    ],
)
def test_chapter_imports_reads_the_code_that_magics_run(source):
    assert imports(source) == USED


def test_shell_commands_and_other_magics_count_when_they_name_the_package():
    assert imports("!nvidia-smi\n%matplotlib inline\n%config A.b = 1") == set()
    assert imports("!python -c 'import fakepkg.used'") == {"fakepkg.*"}
    assert imports("%load_ext fakepkg.used") == {"fakepkg.*"}
    assert imports("%run script.py") == {"fakepkg.*"}, "%run: a file we do not read"


@pytest.mark.parametrize(
    "source",
    [
        'import importlib\nm = importlib.import_module("fakepkg.used")',
        'import importlib as il\nm = il.import_module(".used", "fakepkg")',
        'from importlib import import_module as im\nm = im("fakepkg.used")',
        'm = __import__("fakepkg.used")',
        'm = __import__("fakepkg", fromlist=["used"])',
    ],
)
def test_importlib_calls_with_literal_names_count_as_imports(source):
    assert imports(source) in ({"fakepkg.used"}, USED)


def test_importlib_calls_of_other_packages_do_not_count():
    assert imports('import importlib\nm = importlib.import_module("json")') == set()


@pytest.mark.parametrize(
    "source",
    [
        'import importlib\nm = importlib.import_module("fakepkg." + NAME)',
        "import importlib\nm = importlib.import_module(f'fakepkg.{1}')",
        'import importlib\nm = importlib.import_module(".used", package=PKG)',
        'm = __import__("used", globals(), None, [], 1)',
        "from fakepkg import *",
        "def broken(:\n    pass\nfrom fakepkg import used",
        "%time def broken(:",
    ],
    ids=[
        "concatenated",
        "f-string",
        "computed-anchor",
        "relative-__import__",
        "star",
        "syntax-error",
        "bad-magic-line",
    ],
)
def test_unresolved_imports_stand_for_the_whole_package(source):
    assert "fakepkg.*" in imports(source)


def test_whole_package_means_every_module(fakepkg):
    deps = sphinxext.module_dependencies({"fakepkg.*"})
    assert sorted(deps) == [
        "fakepkg",
        "fakepkg.conf",
        "fakepkg.helper",
        "fakepkg.unused",
        "fakepkg.used",
    ]


def test_names_that_are_not_modules(fakepkg):
    """A name a module binds is resolved; any other stands for the whole package."""
    deps = sphinxext.module_dependencies({"fakepkg.used", "fakepkg.used.VALUE"})
    assert sorted(deps) == ["fakepkg", "fakepkg.helper", "fakepkg.used"]
    deps = sphinxext.module_dependencies({"fakepkg", "fakepkg.not_bound_anywhere"})
    assert "fakepkg.unused" in deps


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


@pytest.mark.parametrize(
    "source",
    [
        'import importlib\nm = importlib.import_module("fakepkg." + "used")',
        "def broken(:\n    pass",
    ],
    ids=["non-literal-importlib", "unparsable-cell"],
)
def test_fingerprint_of_an_unresolved_import_covers_every_module(fakepkg, source):
    chapter = cell(source)
    before = sphinxext.fingerprint(chapter, packages=["fakepkg"], files=[])
    (fakepkg / "unused.py").write_text("X = 1\n")
    assert sphinxext.fingerprint(chapter, packages=["fakepkg"], files=[]) != before


def test_fingerprint_covers_the_data_files_of_the_packages_it_imports(fakepkg):
    chapter = cell("%%time\nfrom fakepkg import conf")

    def fp():
        return sphinxext.fingerprint(chapter, packages=["fakepkg"], files=[])

    before = fp()
    (fakepkg / "conf" / "conf.json").write_text('{"scale": 4}\n')
    after_json = fp()
    assert after_json != before, "a changed JSON file must change the fingerprint"
    (fakepkg / "conf" / "tables").mkdir()
    (fakepkg / "conf" / "tables" / "t.csv").write_text("a,b\n")
    assert fp() != after_json, "data in a plain subfolder counts too"
    after_csv = fp()
    (fakepkg / "conf" / "__pycache__").mkdir()
    (fakepkg / "conf" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (fakepkg / "conf" / "y.pyc").write_bytes(b"\0")
    assert fp() == after_csv, "bytecode is not data"


def test_fingerprint_ignores_data_of_subpackages_it_does_not_import(fakepkg):
    before = sphinxext.fingerprint(CHAPTER, packages=["fakepkg"], files=[])
    (fakepkg / "conf" / "conf.json").write_text('{"scale": 5}\n')
    assert sphinxext.fingerprint(CHAPTER, packages=["fakepkg"], files=[]) == before


def test_a_missing_fingerprint_file_is_hashed_as_missing(fakepkg, tmp_path):
    lock = tmp_path / "requirements-lock.txt"

    def fp():
        return sphinxext.fingerprint(CHAPTER, packages=["fakepkg"], files=[lock])

    missing = fp()
    lock.write_text("")
    assert fp() != missing, "an empty file is not a missing one"


def test_setup_registers_the_default_fingerprint_files(monkeypatch):
    class App:
        def __init__(self):
            self.config, self.events = {}, []

        def add_config_value(self, name, default, rebuild):
            self.config[name] = (default, rebuild)

        def connect(self, event, handler, priority=500):
            self.events.append(event)

    monkeypatch.delenv("DLCV_PROGRESS", raising=False)
    app = App()
    meta = sphinxext.setup(app)
    assert app.config["dlcv_fingerprint_files"] == (
        ["requirements.txt", "requirements-lock.txt", "pyproject.toml"],
        "env",
    )
    assert app.config["dlcv_fingerprint_packages"] == (["dlcv"], "env")
    assert app.events == ["env-get-outdated", "build-finished", "html-page-context"]
    assert os.environ["DLCV_PROGRESS"] == "0" and meta["parallel_read_safe"]


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
    """Build the tiny book strictly; return the chapter's printed lines and the log."""
    proc = run_build(book, env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (book / "_build" / "html" / "chapter.html").read_text()
    lines = re.findall(r"VALUE \d+ RUN \d+|SCALE \d+", html)
    assert len(lines) == 2, lines
    return " / ".join(lines), proc.stdout


@pytest.mark.slow
def test_book_rebuild_reexecutes_only_when_dependencies_change(fakepkg, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "chapter.md").write_text(BOOK_CHAPTER)
    (book / "requirements.txt").write_text("torch==2.13.0\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (book / "_config.yml").write_text(
        textwrap.dedent("""\
        title: tiny
        execute: {execute_notebooks: cache, raise_on_error: true}
        sphinx:
          extra_extensions: [dlcv._book.sphinxext]
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
    assert first.startswith("VALUE 2 ") and first.endswith(" / SCALE 3")
    assert "Executed notebook" in log
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

    # Seen only through a %%time cell in a four-backtick fence: a data file.
    (fakepkg / "conf" / "conf.json").write_text('{"scale": 7}\n')
    scaled, log = build(book, env)
    assert scaled.endswith(" / SCALE 7") and "Executed notebook" in log, (
        "a changed data file of a module imported under a cell magic must re-execute"
    )
    rerun = scaled

    full, _ = build(book, {**env, "DLCV_BUDGET": "full"})
    assert full != rerun, "another budget must re-execute"


@pytest.mark.slow
def test_failed_build_is_not_followed_by_a_green_noop(fakepkg, tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "chapter.md").write_text(CHAPTER + "\n[a broken link](#nowhere)\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (book / "_config.yml").write_text(
        "title: tiny\nsphinx:\n  extra_extensions: [dlcv._book.sphinxext]\n"
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
