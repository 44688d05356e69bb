"""Notebook twins of the chapters, for Colab, Binder and downloads.

The chapters are MyST Markdown notebooks (``book/knn.md``). Colab opens only
``.ipynb`` files, and sphinx-book-theme points its Colab and Binder buttons at
``book/knn.ipynb`` only when that file sits beside ``book/knn.md``. So every chapter has
a committed ``.ipynb`` twin that reads like the page:

* the chapter's code cells, without outputs; those the page hides (``hide-input``)
  or leaves out (``remove-cell``, ``remove-input``) are collapsed in Jupyter and
  folded under a ``#@title`` in Colab. Left-out cells stay: later cells and the prose
  use what they compute, and "Run all" must give the page's numbers;
* its Markdown cells in plain Jupyter Markdown: MyST roles and directives become what
  the page shows (see :class:`Converter`): listings of ``dlcv``'s source, author-year
  citations, numbered headings, equations, figures and exercises, links to the
  published pages, and folded answers;
* a caption cell ("**Fig. 3.1** ...") after each numbered figure's code cell;
* one extra first cell that installs ``dlcv`` from the book's repository **only on
  Colab** (where ``google.colab`` is importable); on Binder and in a local clone, where
  ``dlcv`` is already installed, it does nothing;
* deterministic cell ids, so that regenerating an unchanged chapter changes no byte.

A construct the converter does not know raises :class:`TwinError`, naming the chapter
and the construct, rather than leaving raw MyST in a twin.

``python -m dlcv._book.twins`` (``make twins``) rewrites the twins;
``python -m dlcv._book.twins --check`` and the tests fail when a twin is out of date,
which includes a change to a listed ``dlcv`` function. The repository and branch come
from ``_config.yml`` (``repository.url``, ``repository.branch``), the same settings the
launch buttons use, and the published book from ``html.baseurl``. The twins are
excluded from the Sphinx build (``exclude_patterns``).
"""

from __future__ import annotations

import argparse
import ast
import html
import posixpath
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "API_PAGE",
    "APT_PACKAGES",
    "REFERENCES_PAGE",
    "Book",
    "Converter",
    "TwinError",
    "apt_packages",
    "chapters",
    "install_cell_source",
    "make_twin",
    "published_url",
    "raw_myst",
    "repository",
    "sync",
]

# A MyST code cell: a fence of three or more backticks or tildes (as markdown-it reads).
_CODE_CELL = re.compile(r"^ {0,3}(?:`{3,}|~{3,})[ \t]*\{code-cell\}", re.M)
# The opening line of a fenced block: code (```python), a directive (```{note}) or a
# colon fence (:::{admonition}); up to three spaces of indentation, as in CommonMark.
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[A-Za-z][\w:.-]*)\}\s*(?P<arg>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*?))?\s*$")
# A role, {name}`content`.
_ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:.+-]*)\}`(?P<content>[^`]+)`")
_LABEL = re.compile(r"^\s*\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<text>.*?)(?:[ \t]+#+)?[ \t]*$")
# A display equation and its label, exactly as code/tests/test_equation_tags.py reads
# them: the labelled ones are numbered k.1, k.2, ... in chapter k.
_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$(?: \(([^)\s]+)\))?$", re.M | re.S)
_STRAY_EQ_LABEL = re.compile(r"^.*\$\$[ \t]*\([^)\s]+\)[ \t]*$", re.M)
_TITLED = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)

# What raw_myst() flags: a role, or a directive's opening fence.
_RAW_ROLE = re.compile(r"\{[A-Za-z][\w:.+-]*\}`")
_RAW_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,}|:{3,})[ \t]*\{", re.M)

# Admonitions: directive name -> the title the page shows.
_ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
_PY_ROLES = {"func", "meth", "class", "mod", "attr", "data", "exc", "obj", "const"}
_NUMREF_DEFAULT = {"figure": "Fig. %s", "section": "Section %s"}
_HIDDEN = "(hidden on the page)"
# The published pages that citations and Python names link to.
REFERENCES_PAGE = "book/references"
API_PAGE = "book/api"
_REMOVED = "(not shown on the page)"


class TwinError(ValueError):
    """A chapter holds MyST that the twin generator cannot convert."""


def repository(root: Path) -> tuple[str, str]:
    """``(url, branch)`` of the book's repository, from ``_config.yml``.

    Args:
        root: the book's root folder, which holds ``_config.yml``.

    Returns:
        The GitHub URL without a trailing slash, and the branch (``main`` if unset).

    Raises:
        ValueError: if ``repository.url`` is missing or not a ``https://github.com/``
            URL.
    """
    repo = _config(root).get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url or not url.startswith("https://github.com/"):
        raise ValueError(
            f"_config.yml repository.url must be a https://github.com/ URL, got {url!r}"
        )
    return url.rstrip("/"), branch


def published_url(root: Path) -> str:
    """The published book's URL, ``html.baseurl`` of ``_config.yml``.

    Args:
        root: the book's root folder, which holds ``_config.yml``.

    Returns:
        The URL, ending with ``/``.

    Raises:
        ValueError: if ``html.baseurl`` is missing or not an ``https://`` URL.
    """
    url = (_config(root).get("html") or {}).get("baseurl")
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValueError(
            f"_config.yml html.baseurl must be the published book's https:// URL, "
            f"got {url!r}"
        )
    return url.rstrip("/") + "/"


def _config(root: Path) -> dict:
    """``_config.yml`` of the book under ``root``."""
    import yaml

    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}


def install_cell_source(url: str, branch: str, apt: Sequence[str] = ()) -> str:
    """The first cell of every twin: install dlcv on Colab, do nothing elsewhere.

    Args:
        url: the book's GitHub repository.
        branch: the branch to install from.
        apt: Debian/Ubuntu packages the chapter needs besides dlcv (Colab runs as root
            on Ubuntu; Binder installs them from ``binder/apt.txt``).

    Returns:
        The cell's source, in IPython syntax (``%pip``, ``!apt-get``).
    """
    lines = [
        "# Colab only: install dlcv, this book's package, from the book's repository.",
        "# On Binder or in a local clone dlcv is already installed; nothing happens.",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        f'    %pip install --quiet "dlcv @ git+{url}@{branch}"',
    ]
    if apt:
        lines.append(f"    !apt-get install -qq -y {' '.join(apt)} > /dev/null")
    return "\n".join(lines)


# Debian/Ubuntu packages that a chapter needs when it calls one of these dlcv names.
APT_PACKAGES = {"load_fortunes": "fortunes"}


def apt_packages(text: str) -> list[str]:
    """The Debian/Ubuntu packages a chapter's text needs (``APT_PACKAGES``).

    Args:
        text: the chapter's MyST Markdown.

    Returns:
        The package names, sorted, without repeats.
    """
    return sorted({pkg for name, pkg in APT_PACKAGES.items() if name in text})


def _toc(root: Path) -> tuple[list[str], dict[str, int]]:
    """Every page of ``_toc.yml`` in order, and the numbered chapters' numbers.

    Chapters are numbered 1, 2, ... across the parts marked ``numbered``, as
    jupyter-book numbers them.
    """
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files, numbers = [toc["root"]], {}
    for part in toc.get("parts", []):
        for c in part.get("chapters", []):
            files.append(c["file"])
            if part.get("numbered"):
                numbers[c["file"]] = len(numbers) + 1
    return files, numbers


def chapters(root: Path) -> list[Path]:
    """The chapter notebooks listed in ``_toc.yml`` (pages with code cells).

    Args:
        root: the book's root folder, which holds ``_toc.yml``.

    Returns:
        The chapters' ``.md`` paths, in table-of-contents order.
    """
    paths = [root / f"{f}.md" for f in _toc(root)[0]]
    return [p for p in paths if p.is_file() and _CODE_CELL.search(p.read_text())]


def raw_myst(text: str) -> list[str]:
    """The MyST roles and directive fences left in Markdown, which Jupyter cannot show.

    The body of a fenced code block (a ``python`` listing, say) is code, shown as it is
    on the page too, and is not searched; a directive's fence is reported.

    Args:
        text: a Markdown cell's source.

    Returns:
        Each offending line, stripped, in order; empty when there is none.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    lines = []
    for block in _blocks(text):
        if isinstance(block, _Fence):
            opening = f"{block.fence}{block.info}"
            lines += [opening] if _RAW_FENCE.match(opening) else []
        else:
            lines += block.split("\n")
    return [
        line.strip()
        for line in lines
        if _RAW_ROLE.search(line) or _RAW_FENCE.match(line)
    ]


# --------------------------------------------------------------------------------------
# Reading Markdown: fenced blocks, headings, labels.


@dataclass
class _Fence:
    """A fenced block: its fence, info string, body lines and indentation.

    The body lines lose the fence's indentation (1-3 spaces, in a list item), which
    :func:`_indent` gives back to the converted block.
    """

    fence: str
    info: str
    body: list[str]
    indent: str = ""


def _blocks(text: str) -> list[str | _Fence]:
    """``text`` cut into runs of plain lines (``str``) and fenced blocks (``_Fence``).

    A fence closes at the first line of only its character, at least as long, as
    CommonMark and MyST's colon fences read it; so nested fences survive. A fence
    that never closes runs to the end, as in CommonMark.
    """
    lines, out, plain = text.split("\n"), [], []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        is_colon = m is not None and m["fence"][0] == ":"
        if m is None or (is_colon and not m["info"].strip()):
            plain.append(lines[i])
            i += 1
            continue
        fence = m["fence"]
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}+\s*$")
        j = i + 1
        while j < len(lines) and not (
            close.match(lines[j]) and len(lines[j].strip()) >= len(fence)
        ):
            j += 1
        if plain:
            out.append("\n".join(plain))
            plain = []
        n = len(m["indent"])
        body = [re.sub(rf"^ {{0,{n}}}", "", line) for line in lines[i + 1 : j]]
        out.append(_Fence(fence, m["info"].strip(), body, m["indent"]))
        i = j + 1
    if plain or not out:
        out.append("\n".join(plain))
    return out


def _fence_text(block: _Fence) -> str:
    """A fenced block written back as it was, but for its indentation."""
    return "\n".join([f"{block.fence}{block.info}", *block.body, block.fence])


def _indent(text: str, indent: str) -> str:
    """``text`` with ``indent`` before every line that is not blank."""
    lines = text.split("\n")
    return "\n".join(indent + line if line.strip() else line for line in lines)


def _directive_parts(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's options (``:key: value`` lines or a YAML block) and content."""
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        import yaml

        end = body.index("---", 1) if "---" in body[1:] else len(body)
        loaded = yaml.safe_load("\n".join(body[1:end])) or {}
        options = {str(k): "" if v is None else str(v) for k, v in loaded.items()}
        body = body[end + 1 :]
    else:
        while body and (m := _OPTION.match(body[0])):
            options[m["key"]] = m["value"] or ""
            body = body[1:]
    while body and not body[0].strip():
        body = body[1:]
    return options, body


@dataclass
class _Target:
    """Something a cross-reference can point at."""

    doc: str  # "book/linear"
    kind: str  # "section", "figure", "equation" or "other"
    number: str | None  # "3.8.5", "3.1"; None where unnumbered
    text: str | None  # the heading or caption; None where there is none


@dataclass
class _Page:
    """What cross-references need from a page of the book."""

    doc: str
    path: Path
    number: int | None
    title: str | None = None
    cells: list = field(default_factory=list)  # jupytext's cells
    heading_numbers: list[str | None] = field(default_factory=list)
    figures: dict[int, tuple[str, str, str]] = field(default_factory=dict)


def _scan(page: _Page, targets: dict[str, _Target]) -> None:
    """Read a page's title, heading numbers, figures, equations and labels."""
    import jupytext

    text = page.path.read_text(encoding="utf-8")
    page.cells = jupytext.reads(text, fmt="md:myst").cells
    k = page.number
    counters: list[int] = []
    pending: list[str] = []
    n_figures = 0
    for index, cell in enumerate(page.cells):
        if cell.cell_type == "code":
            pending = _unnumbered(page, pending, targets)
            tags = cell.metadata.get("tags", [])
            figure = (cell.metadata.get("mystnb") or {}).get("figure") or {}
            shown = "remove-cell" not in tags and "remove-output" not in tags
            if figure.get("name") and shown:
                n_figures += 1
                number = f"{k}.{n_figures}" if k else None
                caption = str(figure.get("caption", "")).strip()
                page.figures[index] = (figure["name"], number or "", caption)
                targets[figure["name"]] = _Target(page.doc, "figure", number, caption)
            continue
        for block in _blocks(cell.source):
            if isinstance(block, _Fence):
                continue
            for line in block.split("\n"):
                if m := _LABEL.match(line):
                    pending.append(m["label"])
                elif m := _HEADING.match(line):
                    level, heading = len(m["hashes"]), m["text"]
                    if level == 1 and page.title is None:
                        page.title, number = heading, str(k) if k else None
                    elif level == 1:
                        number = None
                    else:
                        del counters[level - 1 :]
                        counters.extend([0] * (level - 1 - len(counters)))
                        counters[level - 2] += 1
                        number = ".".join(map(str, [k, *counters])) if k else None
                    page.heading_numbers.append(number)
                    for label in pending:
                        targets[label] = _Target(page.doc, "section", number, heading)
                    pending = []
                elif line.strip() and pending:
                    pending = _unnumbered(page, pending, targets)
    labelled = [label for _, label in _DISPLAY.findall(text) if label]
    for n, label in enumerate(labelled, start=1):
        targets[label] = _Target(page.doc, "equation", f"{k}.{n}" if k else None, None)


def _unnumbered(page: _Page, labels: list[str], targets: dict) -> list:
    """Record labels that name no heading (a paragraph, a code cell); ``[]``."""
    for label in labels:
        targets.setdefault(label, _Target(page.doc, "other", None, None))
    return []


@dataclass
class Book:
    """The book's pages, settings and cross-reference targets.

    Attributes:
        root: the book's root folder.
        url: the GitHub repository.
        branch: the repository's branch.
        baseurl: the published book's URL, ending with ``/``.
        pages: every page of ``_toc.yml`` by document name (``book/linear``).
        targets: every label, figure name and equation label of those pages.
    """

    root: Path
    url: str
    branch: str
    baseurl: str
    pages: dict[str, _Page]
    targets: dict[str, _Target]
    _bib: dict | None = None

    @classmethod
    def load(cls, root: Path) -> Book:
        """Read the book under ``root``.

        Args:
            root: the book's root folder, which holds ``_config.yml`` and ``_toc.yml``.

        Returns:
            The book.

        Raises:
            ValueError: if ``_config.yml`` lacks the repository or published URL.
        """
        url, branch = repository(root)
        baseurl = published_url(root)
        files, numbers = _toc(root)
        pages, targets = {}, {}
        for doc in files:
            path = root / f"{doc}.md"
            if path.is_file():
                pages[doc] = _Page(doc, path, numbers.get(doc))
                _scan(pages[doc], targets)
        return cls(root, url, branch, baseurl, pages, targets)

    def page_url(self, doc: str, anchor: str = "") -> str:
        """The published URL of a page, with ``#anchor`` if given.

        Args:
            doc: the document name (``book/linear``).
            anchor: an HTML id on that page, or ``""``.

        Returns:
            The URL.
        """
        return f"{self.baseurl}{doc}.html" + (f"#{anchor}" if anchor else "")

    def bibliography(self) -> dict[str, tuple[str, str]]:
        """``{key: (authors, year)}`` of the ``bibtex_bibfiles`` of ``_config.yml``.

        Returns:
            Each entry's author-year names, "A", "A and B" or "A et al.", as text.

        Raises:
            ValueError: if an entry has no author (or editor) or no year.
        """
        if self._bib is None:
            from pybtex.database import parse_file

            self._bib = {}
            for name in _config(self.root).get("bibtex_bibfiles") or []:
                for key, entry in parse_file(self.root / name).entries.items():
                    self._bib[key] = _author_year(key, entry)
        return self._bib


def _author_year(key: str, entry: Any) -> tuple[str, str]:
    """``(authors, year)`` of a pybtex entry, as sphinxcontrib-bibtex shows them."""
    from pybtex.richtext import Text

    people = entry.persons.get("author") or entry.persons.get("editor") or []
    year = entry.fields.get("year")
    if not people or not year:
        raise ValueError(
            f"bibliography entry {key!r}: expected an author (or editor) and a year, "
            f"got authors {len(people)}, year {year!r}"
        )
    last = [
        Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text")
        for p in people
    ]
    if len(last) == 1:
        names = last[0]
    elif len(last) == 2:
        names = f"{last[0]} and {last[1]}"
    else:
        names = f"{last[0]} et al."
    return names, Text.from_latex(year).render_as("text")


# --------------------------------------------------------------------------------------
# Converting a chapter.


class Converter:
    """Turns one chapter's MyST Markdown into Jupyter Markdown that reads like the page.

    * ``{literalinclude}`` of a ``:pyobject:`` -> a ``python`` listing of its current
      source, under a line naming (and linking) the file;
    * ``{cite:p}`` -> "(A and B, 2019; C et al., 2020)", ``{cite:t}`` -> "A (2019)",
      linked to the published references page;
    * ``{py:func}`` and the other Python roles -> code linked to the API page,
      ``{doc}`` and ``{ref}`` -> links to the published pages;
    * labelled display equations -> ``\\tag{k.n}``; ``{eq}``, ``{numref}`` -> the
      numbers the page shows; headings numbered as on the page;
    * ``{glue:text}`name``` -> "**name** (printed above)": the code cell that glues a
      value prints ``name: value`` outside the book's build;
    * dropdown admonitions -> ``<details>``; other admonitions -> block quotes;
    * ``(label)=`` lines dropped.

    Args:
        book: the book.
        doc: the chapter's document name (``book/linear``).
    """

    def __init__(self, book: Book, doc: str) -> None:
        if doc not in book.pages:
            raise ValueError(f"expected a page of _toc.yml, got {doc!r}")
        self.book, self.page = book, book.pages[doc]
        self._headings = iter(self.page.heading_numbers)
        self._index = 0  # the cell being converted
        self._glued = [
            (i, rx)
            for i, cell in enumerate(self.page.cells)
            if cell.cell_type == "code"
            for rx in _glued_names(cell.source)
        ]

    # -- errors -------------------------------------------------------------------

    def error(self, construct: str, why: str) -> TwinError:
        """A :class:`TwinError` naming the chapter, the line and the construct.

        Args:
            construct: the MyST text that cannot be converted.
            why: what is wrong with it.

        Returns:
            The error, to raise.
        """
        path = self.page.path.relative_to(self.book.root).as_posix()
        text = self.page.path.read_text(encoding="utf-8")
        first = construct.strip().split("\n")[0]
        at = text.find(first)
        where = f"{path}:{text.count(chr(10), 0, at) + 1}" if at >= 0 else path
        return TwinError(f"{where}: cannot convert {first!r} for the twin: {why}")

    # -- Markdown ---------------------------------------------------------------

    def markdown(self, source: str, *, top: bool = True) -> str:
        """Convert a Markdown cell (or, with ``top=False``, a directive's content).

        Args:
            source: MyST Markdown.
            top: a cell of the chapter, whose headings are numbered as on the page.

        Returns:
            Jupyter Markdown.

        Raises:
            TwinError: if it holds MyST that cannot be converted.
        """
        parts = []
        for block in _blocks(source):
            if isinstance(block, _Fence):
                parts.append(_indent(self.fenced(block), block.indent))
            else:
                parts.append(self.text(block, top=top))
        out = "\n".join(parts).strip("\n")
        left = raw_myst(out) or _STRAY_EQ_LABEL.findall(out)
        if left:
            raise self.error(left[0], "no conversion is known for it")
        return out

    def text(self, text: str, *, top: bool) -> str:
        """Convert plain Markdown lines: labels, headings, equations and roles.

        Args:
            text: Markdown without fenced blocks.
            top: number the headings as on the page.

        Returns:
            The converted text.
        """
        lines = []
        for line in text.split("\n"):
            if _LABEL.match(line):
                continue
            m = _HEADING.match(line)
            if m and top:
                number = next(self._headings, None)
                if number:
                    line = f"{m['hashes']} {number}. {m['text']}"
            lines.append(line)
        text = _DISPLAY.sub(self._equation, "\n".join(lines))
        return _ROLE.sub(self._role, text)

    def _equation(self, m: re.Match) -> str:
        body, label = m[1], m[2]
        if not label:
            return m[0]
        target = self.book.targets[label]
        if target.number is None:
            raise self.error(m[0], "labelled equation in an unnumbered chapter")
        return f"$$\n{body}\n\\tag{{{target.number}}}\n$$"

    # -- directives -------------------------------------------------------------

    def fenced(self, block: _Fence) -> str:
        """Convert a fenced block: a directive, or code kept as it is.

        Args:
            block: the block.

        Returns:
            Jupyter Markdown.
        """
        m = _DIRECTIVE.match(block.info)
        if m is None:
            return _fence_text(block)
        name, arg = m["name"], m["arg"].strip()
        options, content = _directive_parts(block.body)
        construct = f"{block.fence}{block.info}"
        if name == "literalinclude":
            return self.literalinclude(arg, options, construct)
        if name in ("admonition", *_ADMONITIONS):
            return self.admonition(name, arg, options, content, construct)
        if name in ("code-block", "code", "sourcecode") and not options:
            fence = _code_fence(content)
            return "\n".join([f"{fence}{arg}", *content, fence])
        raise self.error(construct, f"the directive {{{name}}} has no conversion")

    def admonition(
        self,
        name: str,
        arg: str,
        options: dict[str, str],
        content: list[str],
        construct: str,
    ) -> str:
        """A dropdown as ``<details>``, any other admonition as a block quote.

        Args:
            name: ``admonition`` or a named kind (``note``, ``tip``, ...).
            arg: the title (an ``admonition`` needs one; a named kind may take the
                first line of its content from it).
            options: ``:class:`` and ``:name:`` are understood.
            content: the body's lines.
            construct: the opening fence, for errors.

        Returns:
            Jupyter Markdown.
        """
        unknown = sorted(set(options) - {"class", "name"})
        if unknown:
            raise self.error(construct, f"unknown options {unknown}")
        if name == "admonition":
            if not arg:
                raise self.error(construct, "an admonition needs a title")
            title = arg
        else:
            title = _ADMONITIONS[name]
            content = ([arg] if arg else []) + content
        title = self.text(title, top=False).strip()
        body = self.markdown("\n".join(content), top=False)
        if "dropdown" in options.get("class", "").split():
            summary = html.escape(title, quote=False)
            return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"
        quoted = [f"> {line}" if line.strip() else ">" for line in body.split("\n")]
        return "\n".join([f"> **{title}**", ">", *quoted])

    def literalinclude(self, arg: str, options: dict[str, str], construct: str) -> str:
        """A listing of a Python object's current source, or of a whole file.

        Args:
            arg: the file, relative to the chapter.
            options: ``:pyobject:`` (``name`` or ``Class.method``), the cuts
                ``:start-at:``, ``:start-after:``, ``:end-at:`` and ``:end-before:``
                (as Sphinx applies them), ``:dedent:``, ``:language:``; any other
                raises.
            construct: the opening fence, for errors.

        Returns:
            Jupyter Markdown: a line naming the file, then a fenced listing.
        """
        unknown = sorted(set(options) - {"pyobject", "dedent", "language", *_CUTS})
        if unknown:
            raise self.error(
                construct,
                f"options {unknown} are not supported (only :pyobject:, :dedent:, "
                ":language:, :start-at:, :start-after:, :end-at:, :end-before:)",
            )
        path = (self.page.path.parent / arg).resolve()
        if not path.is_file():
            raise self.error(construct, f"{path} does not exist")
        source = path.read_text(encoding="utf-8")
        if "pyobject" in options:
            try:
                source = pyobject_source(source, options["pyobject"])
            except LookupError as exc:
                raise self.error(construct, str(exc)) from None
        try:
            source = _cut(source, options)
        except ValueError as exc:
            raise self.error(construct, str(exc)) from None
        if "dedent" in options:
            try:
                source = _dedent(source, options["dedent"])
            except ValueError as exc:
                raise self.error(construct, str(exc)) from None
        source = source.rstrip("\n")
        language = options.get("language") or ("python" if path.suffix == ".py" else "")
        rel = path.relative_to(self.book.root.resolve()).as_posix()
        shown = rel.removeprefix("code/")
        link = f"{self.book.url}/blob/{self.book.branch}/{rel}"
        fence = _code_fence(source.split("\n"))
        return (
            f"From [`{shown}`]({link}) (read-only listing):\n\n"
            f"{fence}{language}\n{source}\n{fence}"
        )

    # -- roles --------------------------------------------------------------------

    def _role(self, m: re.Match) -> str:
        name, content = m["name"], m["content"]
        try:
            return self.role(name, content)
        except LookupError as exc:
            raise self.error(m[0], str(exc)) from None

    def role(self, name: str, content: str) -> str:
        """Convert one role.

        Args:
            name: the role's name (``cite:p``, ``py:func``, ``eq``, ...).
            content: what sits between its backticks.

        Returns:
            Jupyter Markdown.

        Raises:
            TwinError: if the role is unknown.
            LookupError: if its target does not exist.
        """
        if name in ("cite:p", "cite", "cite:t"):
            return self.cite(content, textual=name == "cite:t")
        domain, _, kind = name.partition(":")
        if domain == "py" and kind in _PY_ROLES:
            return self.python(kind, content)
        if name == "doc":
            return self.doc(content)
        if name == "ref":
            return self.ref(content)
        if name == "eq":
            return self.eq(content)
        if name == "numref":
            return self.numref(content)
        if name in ("glue:text", "glue", "glue:any"):
            return self.glue(content.split(":")[0].strip())
        if name == "math":
            return f"${content}$"
        raise self.error(f"{{{name}}}`{content}`", f"the role {{{name}}} is unknown")

    def glue(self, name: str) -> str:
        """A glued value named in the prose, with where its code cell prints it.

        Args:
            name: the glued value's name.

        Returns:
            :func:`glue_reference` of the name, placed "above" if a code cell before
            the current one glues it, else "below" if a later one does.
        """
        cells = [i for i, rx in self._glued if rx.fullmatch(name)]
        if any(i < self._index for i in cells):
            return glue_reference(name, "above")
        return glue_reference(name, "below" if cells else None)

    def cite(self, content: str, *, textual: bool) -> str:
        """``(A, 2019; B and C, 2020)``, or with ``textual`` ``A (2019), B (2020)``.

        Args:
            content: comma-separated bibliography keys.
            textual: ``{cite:t}``, the authors as part of the sentence.

        Returns:
            Each citation linked to the published references page.
        """
        bib, url = self.book.bibliography(), self.book.page_url(REFERENCES_PAGE)
        parts = []
        for key in (k.strip() for k in content.split(",")):
            if key not in bib:
                raise LookupError(f"no bibliography entry {key!r}")
            names, year = bib[key]
            if textual:
                parts.append(f"[{names} ({year})]({url})")
            else:
                parts.append(f"[{names}, {year}]({url})")
        return ", ".join(parts) if textual else f"({'; '.join(parts)})"

    def python(self, kind: str, content: str) -> str:
        """A Python name in code style, linked to the API page if it is ``dlcv``'s.

        Args:
            kind: ``func``, ``meth``, ``class``, ``mod``, ...
            content: ``dlcv.knn.vote``, ``~dlcv.knn.vote`` (show the last part) or
                ``title <dlcv.knn.vote>``.

        Returns:
            Jupyter Markdown.
        """
        titled = _TITLED.match(content)
        if titled:
            shown, target = titled["text"], titled["target"].strip()
        else:
            target = content.strip()
            link = not target.startswith("!")
            target = target.lstrip("!")
            if target.startswith("."):
                raise LookupError(f"relative Python names are not supported: {content}")
            if target.startswith("~"):
                target = target[1:]
                shown = target.split(".")[-1]
            else:
                shown = target
            if kind in ("func", "meth"):
                shown += "()"
            if not link:
                return f"`{shown}`"
        if target.split(".")[0] != "dlcv":
            return f"`{shown}`"  # no target on the page either (nitpick_ignore)
        anchor = f"module-{target}" if kind == "mod" else target
        return f"[`{shown}`]({self.book.page_url(API_PAGE, anchor)})"

    def doc(self, content: str) -> str:
        """A link to a published page, titled by its first heading unless given.

        Args:
            content: ``path`` or ``text <path>``, relative to the chapter (or to the
                root with a leading ``/``).

        Returns:
            Jupyter Markdown.
        """
        titled = _TITLED.match(content)
        text, target = (titled["text"], titled["target"]) if titled else (None, content)
        target = target.strip().removesuffix(".md")
        if target.startswith("/"):
            doc = target.lstrip("/")
        else:
            doc = posixpath.normpath(
                posixpath.join(posixpath.dirname(self.page.doc), target)
            )
        page = self.book.pages.get(doc)
        if page is None:
            raise LookupError(f"no page {doc!r} in _toc.yml")
        if text is None:
            if page.title is None:
                raise LookupError(f"page {doc!r} has no '# ' heading")
            text = page.title
        return f"[{text}]({self.book.page_url(doc)})"

    def _target(self, label: str) -> _Target:
        target = self.book.targets.get(label)
        if target is None:
            raise LookupError(f"no label {label!r} in the book")
        return target

    def ref(self, content: str) -> str:
        """A link to a label's page and anchor, titled by its heading unless given.

        Args:
            content: ``label`` or ``text <label>``.

        Returns:
            Jupyter Markdown.
        """
        titled = _TITLED.match(content)
        text, label = (titled["text"], titled["target"]) if titled else (None, content)
        target = self._target(label.strip())
        if text is None:
            if target.text is None:
                raise LookupError(f"label {label!r} has no heading or caption")
            text = target.text
        return f"[{text}]({self.book.page_url(target.doc, _html_id(label))})"

    def _numbered(self, text: str, target: _Target, anchor: str) -> str:
        """``text``, linked to the target when it lies on another page."""
        if target.doc == self.page.doc:
            return text
        return f"[{text}]({self.book.page_url(target.doc, _html_id(anchor))})"

    def eq(self, content: str) -> str:
        """``(k.n)``, the number the page shows for a labelled equation.

        Args:
            content: the equation's label.

        Returns:
            Jupyter Markdown.
        """
        label = content.strip()
        target = self._target(label)
        if target.kind != "equation" or target.number is None:
            raise LookupError(f"{label!r} is not a numbered equation")
        return self._numbered(f"({target.number})", target, f"equation-{label}")

    def numref(self, content: str) -> str:
        """``Fig. 3.1`` or ``Exercise 3.8.5``: the page's words for a numbered target.

        Args:
            content: ``label``, or ``format <label>`` where the format holds ``%s`` or
                ``{number}`` (and perhaps ``{name}``).

        Returns:
            Jupyter Markdown.
        """
        titled = _TITLED.match(content)
        label = (titled["target"] if titled else content).strip()
        target = self._target(label)
        if target.kind not in _NUMREF_DEFAULT or target.number is None:
            raise LookupError(f"{label!r} is not a numbered figure or section")
        fmt = titled["text"] if titled else _NUMREF_DEFAULT[target.kind]
        text = fmt.replace("%s", target.number).replace("{number}", target.number)
        text = text.replace("{name}", target.text or "")
        return self._numbered(text, target, label)

    # -- cells --------------------------------------------------------------------

    def cells(self) -> list:
        """The twin's cells after the install cell, in the chapter's order.

        Returns:
            nbformat cells: converted Markdown, code cells (those the page hides or
            leaves out collapsed, see :func:`hide_source`) and figure captions.
        """
        import nbformat

        out = []
        for index, cell in enumerate(self.page.cells):
            self._index = index
            if cell.cell_type == "markdown":
                source = self.markdown(cell.source)
                if source:
                    out.append(nbformat.v4.new_markdown_cell(source, **_meta(cell)))
                continue
            if cell.cell_type != "code":
                out.append(cell)
                continue
            tags = cell.metadata.get("tags", [])
            code = nbformat.v4.new_code_cell(cell.source, **_meta(cell))
            figure = self.page.figures.get(index)
            if {"hide-input", "remove-input", "remove-cell"} & set(tags):
                removed = "hide-input" not in tags
                hide_source(code, figure[1] if figure else None, removed=removed)
            out.append(code)
            if figure:
                caption = self.markdown(figure[2], top=False)
                number = f"**Fig. {figure[1]}**" if figure[1] else "**Figure**"
                out.append(nbformat.v4.new_markdown_cell(f"{number} {caption}"))
        return out


def glue_reference(name: str, where: str | None = "above") -> str:
    """How the twin's prose names a value that the page's prose shows.

    Outside the book's build :func:`dlcv.runtime.glue` prints ``name: value`` under the
    code cell that computes it; the prose names the value in bold and says where.

    Args:
        name: the glued value's name.
        where: ``"above"`` or ``"below"``: where that code cell is; ``None`` if unknown.

    Returns:
        ``**name** (printed above)``, ``**name** (printed below)`` or, where unknown,
        ``**name** (printed by the code)``.

    Raises:
        ValueError: if ``where`` is something else.
    """
    if where not in ("above", "below", None):
        raise ValueError(f"where must be 'above', 'below' or None, got {where!r}")
    return f"**{name}** (printed {where or 'by the code'})"


def _glued_names(source: str) -> list[re.Pattern]:
    """Patterns of the names a code cell glues: ``glue("a", ...)``, ``glue(f"{k}_b")``.

    A name passed as a variable (``glue(name, ...)``) could be any name.
    """
    found = []
    for m in re.finditer(r"\bglue\(\s*(?:(f?)(\"|')(.*?)\2|([A-Za-z_]))", source):
        if m[4]:
            found.append(re.compile(r".+"))
        elif m[1]:
            found.append(re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(m[3]))))
        else:
            found.append(re.compile(re.escape(m[3])))
    return found


def hide_source(cell: Any, figure: str | None = None, *, removed: bool = False) -> None:
    """Collapse a code cell's source, as the page hides it.

    Jupyter reads ``jupyter.source_hidden``; Colab shows a form cell (``cellView:
    form``) folded under its ``#@title`` line, which this adds: "Code of Fig. k.n",
    the cell's first comment up to a colon or parenthesis, "Setup" or "Code", then
    "(hidden on the page)" or, with ``removed``, "(not shown on the page)".

    Args:
        cell: an nbformat code cell, changed in place.
        figure: the number of the figure the cell draws, if any.
        removed: the page leaves the cell out (``remove-cell``, ``remove-input``)
            rather than folding it (``hide-input``).
    """
    first = cell.source.split("\n", 1)[0]
    if figure:
        title = f"Code of Fig. {figure}"
    elif first.startswith("# "):
        title = re.split(r" \(|: ", first[2:].strip())[0].rstrip(".:")
    elif re.search(r"\bsetup\(", cell.source):
        title = "Setup"
    else:
        title = "Code"
    cell.source = f"#@title {title} {_REMOVED if removed else _HIDDEN}\n{cell.source}"
    cell.metadata["jupyter"] = {"source_hidden": True}
    cell.metadata["cellView"] = "form"


def _html_id(label: str) -> str:
    """The HTML id of a label, figure name or ``equation-<label>`` on a page.

    Docutils makes it (``fig-neural_networks-rings`` -> ``fig-neural-networks-rings``);
    Python objects keep their dotted names instead (Sphinx's own ``make_id``).
    """
    from docutils.nodes import make_id

    return make_id(label.strip())


def _meta(cell: Any) -> dict:
    """The keyword arguments that keep a cell's metadata."""
    return {"metadata": dict(cell.metadata)} if cell.metadata else {}


def _code_fence(lines: list[str]) -> str:
    """A backtick fence that no line of ``lines`` closes: longer than any of theirs."""
    runs = [len(m[1]) for line in lines if (m := re.match(r" {0,3}(`{3,})", line))]
    return "`" * max([3, *(r + 1 for r in runs)])


def _dedent(source: str, value: str) -> str:
    """``:dedent:`` as Sphinx applies it: N characters, or all common indentation."""
    if not value.strip():
        return textwrap.dedent(source)
    if not value.strip().isdigit():
        raise ValueError(f":dedent: must be a whole number, got {value!r}")
    n = int(value)
    lines = source.split("\n")
    for line in lines:
        if line.strip() and not line[:n].isspace():
            raise ValueError(f":dedent: {n} would cut into {line!r}")
    return "\n".join(line[n:] for line in lines)


def pyobject_source(source: str, name: str) -> str:
    """The source of a top-level function or class, or of ``Class.method``.

    Decorators included, as :func:`inspect.getsource` and Sphinx's ``:pyobject:``
    show it; the lines keep their indentation.

    Args:
        source: a Python module's source.
        name: ``name`` or a dotted path through classes (``Class.method``).

    Returns:
        The object's lines, ending with a newline.

    Raises:
        LookupError: if there is no such function or class.
    """
    body = ast.parse(source).body
    node = None
    for part in name.split("."):
        found = [
            n
            for n in body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.name == part
        ]
        if not found:
            raise LookupError(f"no function or class {name!r} in the file")
        node = found[-1]  # the last definition wins, as at import
        body = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = source.split("\n")[start - 1 : node.end_lineno]
    return "\n".join(lines) + "\n"


_CUTS = ("start-at", "start-after", "end-at", "end-before")


def _cut(source: str, options: dict[str, str]) -> str:
    """Sphinx's ``:start-at:``/``:start-after:``/``:end-at:``/``:end-before:`` cuts.

    As Sphinx's ``LiteralIncludeReader`` does after ``:pyobject:``: the listing starts
    at (or after) the first line that contains the start text, and ends at (or before)
    the first line after that which contains the end text.

    Raises:
        ValueError: if a text is in no line, or both forms of a cut are given.
    """
    lines = source.split("\n")
    for at, after in (("start-at", "start-after"), ("end-at", "end-before")):
        if at in options and after in options:
            raise ValueError(f"give :{at}: or :{after}:, not both")
    start = options.get("start-at", options.get("start-after"))
    if start is not None:
        hits = [i for i, line in enumerate(lines) if start in line]
        if not hits:
            raise ValueError(f"start pattern {start!r} not found")
        lines = lines[hits[0] + ("start-after" in options) :]
    end = options.get("end-at", options.get("end-before"))
    if end is not None:
        hits = [i for i, line in enumerate(lines) if end in line]
        if not hits:
            raise ValueError(f"end pattern {end!r} not found")
        lines = lines[: hits[0] + ("end-at" in options)]
    return "\n".join(lines)


def make_twin(chapter: Path, book: Book) -> str:
    """The ``.ipynb`` text of a chapter's twin.

    Args:
        chapter: the chapter's MyST Markdown file.
        book: the book it belongs to (:meth:`Book.load`).

    Returns:
        The notebook as JSON text, ending with a newline.

    Raises:
        TwinError: if the chapter holds MyST that cannot be converted.
        ValueError: if the chapter is not a page of the book's ``_toc.yml``.
    """
    import jupytext
    import nbformat

    doc = chapter.resolve().relative_to(book.root.resolve()).with_suffix("").as_posix()
    nb = jupytext.read(chapter, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    nb.metadata["colab"] = {"name": chapter.with_suffix(".ipynb").name}
    install = nbformat.v4.new_code_cell(
        install_cell_source(book.url, book.branch, apt_packages(chapter.read_text())),
        metadata={"tags": ["colab-install"]},
    )
    nb.cells = [install, *Converter(book, doc).cells()]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # deterministic: same chapter, same bytes
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nbformat.writes(nb) + "\n"


def sync(root: Path, *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, only compare) every twin.

    Args:
        root: the book's root folder.
        check: only compare the twins on disk with their chapters, write nothing.

    Returns:
        The twins that differed from (or, without ``check``, were rewritten from) their
        chapters.

    Raises:
        TwinError: if a chapter holds MyST that cannot be converted.
    """
    book = Book.load(root)
    stale = []
    for chapter in chapters(root):
        twin = chapter.with_suffix(".ipynb")
        text = make_twin(chapter, book)
        current = twin.read_text(encoding="utf-8") if twin.is_file() else None
        if current != text:
            stale.append(twin)
            if not check:
                twin.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    """``python -m dlcv._book.twins [--check] [--root DIR]``.

    Args:
        argv: the command-line arguments; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 1 if ``--check`` found a stale twin, else 0.
    """
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
