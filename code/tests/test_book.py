"""Static checks that every chapter follows the book's conventions (see README)."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.M | re.S)
# Damage the seed's scrape left behind (../shared/ERRATA.md); none of it may
# reach the book.
SEED_DAMAGE = re.compile(
    r"图片|grad_quared|Sosine|Learing |comapre|gategate|"
    r"baddmm\b|\\sum\{p\}|[Id]\{[12]\}"
)


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


CHAPTERS = [f for f in toc_files() if CODE_CELL.search((ROOT / f"{f}.md").read_text())]


def test_every_toc_entry_exists_and_chapters_are_notebooks():
    for f in toc_files():
        assert (ROOT / f"{f}.md").is_file(), f
    assert len(CHAPTERS) >= 2


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_opens_with_the_hidden_runtime_report(chapter):
    text = (ROOT / f"{chapter}.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["jupytext"]["text_representation"]["format_name"] == "myst"
    assert front["kernelspec"]["name"] == "python3"
    first = CODE_CELL.findall(text)[0]
    assert ":tags: [hide-input]" in first
    assert "rt = setup()" in first and "print(rt.report())" in first


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_no_path_hacks_and_no_seed_damage(chapter):
    text = (ROOT / f"{chapter}.md").read_text()
    assert "sys.path" not in text
    assert not re.search(r"^\s*import code\b|from code\b", text, re.M)
    assert not SEED_DAMAGE.search(text), SEED_DAMAGE.search(text)


def _section(text: str, title: str) -> str:
    """The body of the level-2 section ``title`` (up to the next level-2 heading)."""
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_a_summary_and_exercises(chapter):
    """4-8 exercises, at least two checked by dlcv.exercises, answers folded."""
    from dlcv import exercises

    text = (ROOT / f"{chapter}.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[-2:] == ["Summary", "Exercises"], headings[-2:]
    body = _section(text, "Exercises")
    items = re.split(r"^### .+$", body, flags=re.M)[1:]
    assert 4 <= len(items) <= 8, f"{len(items)} exercises"
    checked = re.findall(r"exercises\.(check_\w+)\(", body)
    assert len(set(checked)) >= 2, checked
    for name in checked:
        assert name in exercises.__all__, f"{name} is not a checker of dlcv.exercises"
    for item in items:
        cells = CODE_CELL.findall(item)
        if any("exercises.check_" in c for c in cells):
            # A coding exercise: a stub that the checker reports as not attempted.
            assert any("raise NotImplementedError" in c for c in cells), item[:200]
        else:
            # A conceptual exercise: a worked answer that stays folded until opened.
            assert re.search(
                r"^:::\{admonition\} Answer\n:class: dropdown$", item, re.M
            ), item[:200]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_label_is_unique_and_prefixed(chapter):
    names = re.findall(
        r"^    name: (fig-\S+)$", (ROOT / f"{chapter}.md").read_text(), re.M
    )
    prefix = "fig-" + Path(chapter).name.replace("_", "-").split("-")[0]
    assert all(n.startswith(prefix) for n in names), (prefix, names)
    assert len(names) == len(set(names))
