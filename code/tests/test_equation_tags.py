"""Equation tags in dlcv's code are the numbers its chapters show, and mean the same thing.

A chapter numbers its labelled equations per chapter: the third labelled equation of
chapter 1 renders as (1.3). A module tags the code that computes an equation with that
number (``# Eq. (1.3)``) and shows the equation in its docstring, ending with the same
tag. This test fails when a tag names an equation that does not exist, when a tag lacks its
chapter number, or when the docstring's equation differs from the chapter's equation of
that number (after normalising spacing, ``\\left``/``\\right`` and ``\\text{...}``
remarks).
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# Each module whose code computes a chapter's equations, and that chapter.
MODULES = {"dlcv.knn": "book/knn"}

_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$(?: \(([^)\s]+)\))?$", re.M | re.S)
_TAG = re.compile(r"Eq\. \((\d+(?:\.\d+)?)\)")
_DOC_EQUATION = re.compile(r"^\s*(\S.*?)\s*\\quad \((\d+)\.(\d+)\)\s*$", re.M)


def chapter_numbers() -> dict[str, int]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [
        c["file"] for p in toc["parts"] if p.get("numbered") for c in p["chapters"]
    ]
    return {f: i for i, f in enumerate(numbered, start=1)}


def chapter_equations(chapter: str) -> dict[str, str]:
    """``{"1.3": latex}`` for the labelled display equations of a chapter, in order."""
    number = chapter_numbers()[chapter]
    text = (ROOT / f"{chapter}.md").read_text()
    labelled = [body for body, label in _DISPLAY.findall(text) if label]
    return {f"{number}.{k}": body for k, body in enumerate(labelled, start=1)}


def normalise(latex: str) -> str:
    latex = re.sub(r"\\text\{[^{}]*\}", "", latex)
    latex = re.sub(r"\\(left|right|quad|qquad|,|;|!)(?![a-zA-Z])", "", latex)
    return re.sub(r"\s+", "", latex).rstrip(".,")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_code_tags_name_equations_of_the_chapter(module):
    source = inspect.getsource(importlib.import_module(module))
    equations = {
        number: body
        for chapter in chapter_numbers()
        for number, body in chapter_equations(chapter).items()
    }
    tags = _TAG.findall(source)
    assert tags, f"{module} tags no equation"
    unknown = sorted({t for t in tags if t not in equations})
    assert not unknown, f"{module} tags equations that no chapter numbers: {unknown}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_docstring_equations_are_the_chapters(module):
    doc = importlib.import_module(module).__doc__
    equations = chapter_equations(MODULES[module])
    shown = _DOC_EQUATION.findall(doc)
    assert shown, f"{module}'s docstring shows no tagged equation"
    for latex, chapter, k in shown:
        number = f"{chapter}.{k}"
        assert number in equations, f"{module}: ({number}) is not in {MODULES[module]}"
        assert normalise(latex) == normalise(equations[number]), (
            f"{module}: its ({number}) differs from the chapter's:\n"
            f"  module:  {latex}\n  chapter: {equations[number]}"
        )


def test_normalise_ignores_layout_but_not_math():
    a = r"d_2 = \sqrt{\sum_p \left(I_1^p - I_2^p\right)^2} ,"
    b = r"d_2 = \sqrt{\sum_p (I_1^p - I_2^p)^2} \qquad \text{(L2)}"
    assert normalise(a) == normalise(b)
    assert normalise(a) != normalise(a.replace("^2", "^3"))
    assert normalise(r"\quadratic") == r"\quadratic"  # a command that starts with quad
