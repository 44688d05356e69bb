"""Equation tags in dlcv's code are the numbers its chapters show, and mean the same.

A chapter numbers its labelled equations per chapter: the third labelled equation of
chapter 1 renders as (1.3). A module tags the code that computes an equation with that
number (``# Eq. (1.3)``) and declares each number it uses in its docstring, in one of
two ways: it shows the equation, ending with ``\\quad (1.3)``, or it names the
equation's label, as in ``(3.7) ``lin-stable-softmax````. This test fails when a tag
names an equation that no chapter numbers, when a module uses a number its docstring
does not declare, when a declared label is not the chapter's label of that number (so
renumbering a chapter breaks the test), or when a shown equation differs from the
chapter's (after normalising spacing, ``\\left``/``\\right`` and ``\\text{...}``
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
MODULES = {
    "dlcv.activations": "book/training_i",
    "dlcv.attention": "book/attention",
    "dlcv.autograd": "book/backprop",
    "dlcv.autoregressive": "book/generative_i",
    "dlcv.averaging": "book/training_ii",
    "dlcv.conv": "book/cnn",
    "dlcv.diffusion": "book/generative_ii",
    "dlcv.evaluation": "book/generative_ii",
    "dlcv.gan": "book/generative_ii",
    "dlcv.init": "book/training_i",
    "dlcv.knn": "book/knn",
    "dlcv.layers": "book/backprop",
    "dlcv.linear": "book/linear",
    "dlcv.mlp": "book/neural_networks",
    "dlcv.models": "book/architectures",
    "dlcv.optim": "book/optimization",
    "dlcv.preprocess": "book/training_i",
    "dlcv.regularization": "book/training_i",
    "dlcv.rnn": "book/rnn",
    "dlcv.schedules": "book/training_ii",
    "dlcv.systems": "book/hardware_software",
    "dlcv.tuning": "book/training_ii",
    "dlcv.understanding": "book/understanding",
    "dlcv.vae": "book/generative_i",
}

_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$(?: \(([^)\s]+)\))?$", re.M | re.S)
_TAG = re.compile(
    r"Eqs?\. \((\d+(?:\.\d+)?)\)((?:(?:,| and| or|,? and) \(\d+\.\d+\))*)"
)
_DOC_LABEL = re.compile(r"\((\d+\.\d+)\) ``([A-Za-z0-9_-]+)``")
_DOC_EQUATION = re.compile(r"^\s*(\S.*?)\s*\\quad \((\d+)\.(\d+)\)\s*$", re.M)


def chapter_numbers() -> dict[str, int]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [
        c["file"] for p in toc["parts"] if p.get("numbered") for c in p["chapters"]
    ]
    return {f: i for i, f in enumerate(numbered, start=1)}


def chapter_labelled(chapter: str) -> dict[str, tuple[str, str]]:
    """``{"1.3": (label, latex)}`` for the labelled display equations of a chapter."""
    number = chapter_numbers()[chapter]
    text = (ROOT / f"{chapter}.md").read_text()
    labelled = [(label, body) for body, label in _DISPLAY.findall(text) if label]
    return {f"{number}.{k}": pair for k, pair in enumerate(labelled, start=1)}


def chapter_equations(chapter: str) -> dict[str, str]:
    """``{"1.3": latex}`` for the labelled display equations of a chapter, in order."""
    return {n: body for n, (_, body) in chapter_labelled(chapter).items()}


def code_tags(source: str) -> set[str]:
    """Every equation number a source tags: ``Eq. (3.7)``, ``Eqs. (3.4) and (3.7)``."""
    tags: set[str] = set()
    for first, rest in _TAG.findall(source):
        tags.add(first)
        tags.update(re.findall(r"\((\d+\.\d+)\)", rest))
    return tags


def declared(doc: str) -> set[str]:
    """The equation numbers a module docstring shows or names by label."""
    return {f"{c}.{k}" for _, c, k in _DOC_EQUATION.findall(doc)} | {
        n for n, _ in _DOC_LABEL.findall(doc)
    }


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
    tags = code_tags(source)
    assert tags, f"{module} tags no equation"
    unknown = sorted(t for t in tags if t not in equations)
    assert not unknown, f"{module} tags equations that no chapter numbers: {unknown}"
    undeclared = sorted(tags - declared(importlib.import_module(module).__doc__))
    assert not undeclared, f"{module}'s docstring does not declare {undeclared}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_docstring_labels_are_the_chapters(module):
    doc = importlib.import_module(module).__doc__
    labelled = {
        number: label
        for chapter in chapter_numbers()
        for number, (label, _) in chapter_labelled(chapter).items()
    }
    for number, label in _DOC_LABEL.findall(doc):
        assert labelled.get(number) == label, (
            f"{module} names ({number}) {label!r}, but the chapter's ({number}) is "
            f"{labelled.get(number)!r}"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_docstring_equations_are_the_chapters(module):
    doc = importlib.import_module(module).__doc__
    equations = chapter_equations(MODULES[module])
    shown = _DOC_EQUATION.findall(doc)
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


def test_code_tags_reads_lists_of_equations():
    source = "x  # Eq. (3.1)\ny  # Eqs. (3.4) and (3.7)\nz  # Eqs. (4.2), (4.5)"
    assert code_tags(source) == {"3.1", "3.4", "3.7", "4.2", "4.5"}
    assert declared("(3.7) ``lin-stable-softmax``, and  a = b \\quad (1.2)") == {
        "3.7",
        "1.2",
    }
