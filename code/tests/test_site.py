"""Checks of the built book in a real headless browser (`make site` after `make build`).

Every page of ``_build/html`` is served on 127.0.0.1 and opened in headless Chromium
driven by Playwright. On each page: no console error and no uncaught exception, every
``<img>`` loads, every formula is typeset by MathJax without an error, every internal
link reaches an existing page and anchor, and chapter pages carry the Colab and Binder
launch links and the notebook download button.

The test machine needs no internet: requests that leave localhost are aborted, except
MathJax, which the pages load from the jsDelivr CDN and which is served from the copy
that ``make node`` installs in ``node_modules/mathjax``.

Each check is a small function ``check_*(...) -> list[str]`` that returns one message
per problem, naming the page and the element. The same functions run on the book and,
in ``test_checkers_catch_a_broken_page``, on a page broken on purpose, so the checks are
shown not to be vacuous.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import re
import struct
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest
import yaml

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/"
MATHJAX_DIR = ROOT / "node_modules" / "mathjax"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
TIMEOUT_MS = 30_000
CODE_CELL = re.compile(r"^```\{code-cell\}", re.M)
_META_REFRESH = re.compile(
    r"<meta[^>]+http-equiv=[\"']?refresh[^>]+url=([^\"'>]+)", re.I
)

# The header of a chapter page (sphinx-book-theme 1.3): a "launch" dropdown with one
# link per provider, and a "download" dropdown whose .ipynb entry exists only for
# notebooks. Each entry is (selector, label). The label is the entry's visible text: its
# `title` ("Launch on Colab") is in the HTML file, but Bootstrap's tooltips move it to
# `data-bs-original-title` once the page runs, so it cannot be matched in the page.
LAUNCH_BUTTONS = {
    "Colab launch link": (".dropdown-launch-buttons a.dropdown-item[href]", "Colab"),
    "Binder launch link": (".dropdown-launch-buttons a.dropdown-item[href]", "Binder"),
    "notebook download button": (
        ".dropdown-download-buttons a.btn-download-notebook-button[href]",
        ".ipynb",
    ),
}


# --------------------------------------------------------------------------- serving


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output clean
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (OS-chosen port) in a thread; yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --------------------------------------------------------------------------- browsing


@dataclass
class Visit:
    """One page opened in the browser, with what it logged while loading."""

    name: str  # the page's path in the site, e.g. "book/knn.html"
    page: object  # playwright.sync_api.Page
    status: int | None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # external requests aborted
    math_ready: str | None = None  # why MathJax did not finish, or None
    redirect: str | None = None  # the URL a <meta http-equiv="refresh"> sent it to


def _route(base: str, visit: Visit):
    """A request handler: pass the site, serve MathJax from disk, abort the rest."""

    def handle(route):
        url = route.request.url
        if url.startswith(base):
            route.continue_()
        elif url.startswith(MATHJAX_CDN):
            rel = urlsplit(url).path.split("/mathjax@3/", 1)[1]
            path = MATHJAX_DIR / unquote(rel)
            if path.is_file():
                route.fulfill(path=path)  # content type follows the file's suffix
            else:  # a real problem: the console reports the 404 and the check fails
                route.fulfill(status=404, body=f"not in {MATHJAX_DIR}: {rel}")
        else:
            visit.blocked.append(url)
            route.abort()

    return handle


def _is_blocked_request_error(msg, blocked: list[str]) -> bool:
    """Whether a console error is only Chromium's report of a request we aborted.

    When a route is aborted, Chromium logs "Failed to load resource: net::ERR_FAILED" as
    a console error whose location is the aborted URL. Only that exact message for a URL
    we blocked is ignored. Anything a missing resource causes afterwards (a script that
    throws because a library did not load, a failed local request, a 404) is still
    counted: the book must work offline except for fonts, analytics and the like.
    """
    return (
        msg.text.startswith("Failed to load resource: net::ERR_FAILED")
        and msg.location.get("url") in blocked
    )


def _fetch_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError:
        return ""


def open_page(context, base: str, name: str) -> Visit:
    """Open ``base + name`` in a new page; wait for load, and for MathJax if needed."""
    page = context.new_page()
    visit = Visit(name=name, page=page, status=None)
    page.route("**/*", _route(base, visit))

    def on_console(msg):
        if msg.type == "error" and not _is_blocked_request_error(msg, visit.blocked):
            where = msg.location.get("url", "")
            visit.console_errors.append(f"{msg.text} (at {where})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: visit.page_errors.append(str(exc)))
    # Every page is a reader's first visit: the theme keeps state (the colour mode) in
    # localStorage, which would otherwise hide a first-visit error after the first page.
    page.add_init_script(
        "try { localStorage.clear(); sessionStorage.clear(); } catch {}"
    )
    response = page.goto(base + name, wait_until="load")
    visit.status = response.status if response else None
    # A redirect page (Jupyter Book's root index.html): follow it before checking, so
    # the checks do not race the navigation; they then run on the page it leads to.
    # Its source is fetched apart: a page that navigated away has no response body
    # left.
    refresh = _META_REFRESH.search(_fetch_text(base + name))
    if refresh:
        visit.redirect = urljoin(base + name, html.unescape(refresh.group(1)))
        page.wait_for_url(visit.redirect)
        page.wait_for_load_state("load")
        visit.name = f"{name} (redirected to {visit.redirect.removeprefix(base)})"
    if page.locator(".math").count() or page.locator("mjx-container").count():
        try:
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=TIMEOUT_MS,
            )
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
        except Exception as exc:  # reported by check_math, with the page's name
            visit.math_ready = f"MathJax did not start or finish: {exc}".splitlines()[0]
    return visit


# --------------------------------------------------------------------------- checkers


def check_console(visit: Visit) -> list[str]:
    """Console errors and uncaught exceptions (blocked external requests excepted)."""
    out = []
    if visit.status != 200:
        out.append(f"{visit.name}: the page answered HTTP {visit.status}")
    out += [f"{visit.name}: console error: {e}" for e in visit.console_errors]
    out += [f"{visit.name}: uncaught error: {e}" for e in visit.page_errors]
    return out


_IMAGES_JS = """async () => {
  const imgs = [...document.images];
  for (const img of imgs) img.loading = "eager";
  const settled = img => img.complete ? null : new Promise(resolve => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
  const timeout = new Promise(resolve => setTimeout(resolve, 10000));
  await Promise.race([Promise.all(imgs.map(settled)), timeout]);
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0))
             .map(img => ({src: img.getAttribute("src"), alt: img.alt}));
}"""


def check_images(visit: Visit) -> list[str]:
    """Every ``<img>`` has loaded (``complete && naturalWidth > 0``)."""
    return [
        f"{visit.name}: image does not load: <img src={b['src']!r} alt={b['alt']!r}>"
        for b in visit.page.evaluate(_IMAGES_JS)
    ]


_FIGURES_JS = """() => [...document.querySelectorAll(".cell_output img")].map(img => {
  const figure = img.closest("figure");
  const text = selector => figure?.querySelector(selector)?.textContent.trim() || "";
  return {
    src: img.getAttribute("src"),
    alt: (img.getAttribute("alt") || "").trim(),
    number: text("figcaption .caption-number"),
    caption: text("figcaption .caption-text"),
    id: figure?.id || "",
  };
})"""


def check_figures(visit: Visit) -> list[str]:
    """Every output image is a numbered, labelled figure with a caption and alt text.

    An alt text that is a file name (myst-nb's default, ``../_images/f8e0....png``)
    counts as none: it tells a screen-reader user nothing.
    """
    out = []
    for f in visit.page.evaluate(_FIGURES_JS):
        where = f"{visit.name}: output image {f['src']!r}"
        if not (f["number"] and f["caption"] and f["id"]):
            out.append(f"{where} has no numbered, labelled figure caption")
        if not f["alt"] or re.search(r"\.(png|jpe?g|svg|gif)$", f["alt"], re.I):
            out.append(f"{where} has no alt text (alt={f['alt']!r})")
    return out


_MATH_JS = """() => {
  const short = s => s.replace(/\\s+/g, " ").trim().slice(0, 160);
  const sources = [...document.querySelectorAll(".math")];
  const items = window.MathJax?.startup?.document?.math;
  const errors = [], reported = new Set();
  for (const item of (items ? Array.from(items) : [])) {
    const merror = item.typesetRoot?.querySelector("mjx-merror");
    if (merror) {
      reported.add(merror);
      errors.push({
        tex: short(item.math),
        message: merror.getAttribute("data-mjx-error") || short(merror.textContent),
      });
    }
  }
  const merrors = [...document.querySelectorAll("mjx-merror")];
  return {
    nSources: sources.length,
    nContainers: document.querySelectorAll("mjx-container").length,
    untypeset: sources.filter(el => !el.querySelector("mjx-container"))
                      .map(el => short(el.textContent)),
    errors,
    // An mjx-merror that no MathItem accounts for: name its container's aria-label.
    stray: merrors.filter(m => !reported.has(m)).map(m => short(
      m.closest("mjx-container")?.getAttribute("aria-label") || m.textContent)),
  };
}"""


def check_math(visit: Visit) -> list[str]:
    """Every ``.math`` element Sphinx emits is typeset by MathJax, with no error."""
    name = visit.name
    if visit.math_ready:
        return [f"{name}: {visit.math_ready}"]
    r = visit.page.evaluate(_MATH_JS)
    out = [f"{name}: formula not typeset: {tex!r}" for tex in r["untypeset"]]
    if r["nSources"] != r["nContainers"]:
        out.append(
            f"{name}: {r['nSources']} math elements (.math) but "
            f"{r['nContainers']} typeset formulas (mjx-container)"
        )
    out += [
        f"{name}: MathJax error {e['message']!r} in formula {e['tex']!r}"
        for e in r["errors"]
    ]
    out += [f"{name}: MathJax error (mjx-merror) in {s!r}" for s in r["stray"]]
    return out


class _Ids(HTMLParser):
    """The anchors of a page: every ``id``, and ``name`` on ``<a>``."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value is not None and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


class SiteTargets:
    """Fetch pages from the local server once each; answer status and anchors."""

    def __init__(self):
        self._cache: dict[str, tuple[int, set[str]]] = {}

    def get(self, url: str) -> tuple[int, set[str]]:
        if url not in self._cache:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    status, body = resp.status, resp.read()
            except urllib.error.HTTPError as err:
                status, body = err.code, b""
            ids: set[str] = set()
            if status == 200 and b"<html" in body[:2000].lower():
                parser = _Ids()
                parser.feed(body.decode("utf-8", "replace"))
                ids = parser.ids
            self._cache[url] = (status, ids)
        return self._cache[url]


_LINKS_JS = """() => [...document.querySelectorAll("a[href]")].map(a => ({
  href: a.href,
  raw: a.getAttribute("href"),
  text: (a.textContent.replace(/\\s+/g, " ").trim()
         || a.getAttribute("title") || a.getAttribute("aria-label") || "").slice(0, 80),
}))"""


def check_links(visit: Visit, base: str, targets: SiteTargets) -> list[str]:
    """Every internal link reaches a file (HTTP 200) and, with a #fragment, an id."""
    out = []
    site = urlsplit(base).netloc
    if visit.redirect and (status := targets.get(visit.redirect)[0]) != 200:
        out.append(f"{visit.name}: redirect target answers HTTP {status}")
    for link in visit.page.evaluate(_LINKS_JS):
        parts = urlsplit(link["href"])
        if parts.scheme not in ("http", "https") or parts.netloc != site:
            continue  # external, mailto:, javascript:
        url, fragment = urldefrag(link["href"])
        status, ids = targets.get(url)
        where = f"{visit.name}: link {link['text']!r} (href={link['raw']!r})"
        if status != 200:
            out.append(f"{where}: target answers HTTP {status}")
        elif fragment and unquote(fragment) not in ids:
            target = url[len(base) :] or "/"
            out.append(f"{where}: no element with id {unquote(fragment)!r} in {target}")
    return out


_COUNT_BUTTONS_JS = """([selector, label]) => [...document.querySelectorAll(selector)]
  .filter(a => a.querySelector(".btn__text-container")?.textContent.trim() === label)
  .length"""


def check_launch_buttons(visit: Visit) -> list[str]:
    """A chapter page has the Colab and Binder launch links and the download button."""
    return [
        f"{visit.name}: missing {what} ({selector} labelled {label!r})"
        for what, (selector, label) in LAUNCH_BUTTONS.items()
        if visit.page.evaluate(_COUNT_BUTTONS_JS, [selector, label]) != 1
    ]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser_context():
    """One headless Chromium and one context for the whole module."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: set CHROMIUM=/path/to/chromium "
            "(or `make browser` as root on Debian/Ubuntu)"
        )
    if not (MATHJAX_DIR / "es5" / "tex-mml-chtml.js").is_file():
        pytest.fail(f"MathJax is missing from {MATHJAX_DIR}: run `make node` first")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()
        browser.close()


def _toc_chapters() -> list[str]:
    """Pages built from notebooks: ``_toc.yml`` entries whose source has code cells."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    return [
        f"{f}.html" for f in files if CODE_CELL.search((ROOT / f"{f}.md").read_text())
    ]


@dataclass
class PageResult:
    problems: dict[str, list[str]]  # check name -> messages
    is_chapter: bool


@pytest.fixture(scope="module")
def site(browser_context) -> dict[str, PageResult]:
    """Open every built page once and run every check on it."""
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} has no built book: run `make build` first")
    names = sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not p.relative_to(SITE).parts[0].startswith(("_static", "_sources"))
    )
    chapters = set(_toc_chapters())
    targets = SiteTargets()
    results = {}
    with serve(SITE) as base:
        for name in names:
            visit = open_page(browser_context, base, name)
            try:
                # A page with code cells is a chapter too, even if _toc.yml says not.
                is_chapter = name in chapters or visit.page.locator("div.cell").count()
                results[name] = PageResult(
                    problems={
                        "console": check_console(visit),
                        "images": check_images(visit),
                        "figures": check_figures(visit),
                        "math": check_math(visit),
                        "links": check_links(visit, base, targets),
                        "launch": check_launch_buttons(visit) if is_chapter else [],
                    },
                    is_chapter=bool(is_chapter),
                )
            finally:
                visit.page.close()
    return results


def _problems(site: dict[str, PageResult], check: str) -> str:
    return "\n".join(m for r in site.values() for m in r.problems[check])


# --------------------------------------------------------------------------- tests


def test_every_toc_page_was_built_and_opened(site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    missing = [f"{f}.html" for f in files if f"{f}.html" not in site]
    assert not missing, f"pages of _toc.yml not in {SITE}: {missing}"
    assert {"index.html", "search.html", "genindex.html"} <= set(site)
    assert {n for n, r in site.items() if r.is_chapter} >= set(_toc_chapters())


def test_no_console_errors_and_no_uncaught_exceptions(site):
    assert not _problems(site, "console"), "\n" + _problems(site, "console")


def test_every_image_loads(site):
    assert not _problems(site, "images"), "\n" + _problems(site, "images")


def test_every_output_image_is_a_captioned_figure_with_alt_text(site):
    assert not _problems(site, "figures"), "\n" + _problems(site, "figures")


def test_every_formula_is_typeset_by_mathjax(site):
    assert not _problems(site, "math"), "\n" + _problems(site, "math")


def test_no_broken_internal_links(site):
    assert not _problems(site, "links"), "\n" + _problems(site, "links")


def test_chapters_have_launch_and_download_buttons(site):
    assert not _problems(site, "launch"), "\n" + _problems(site, "launch")


# A page broken in every way the checks look for, beside a clean page that uses the
# same features correctly (so the checks are also shown not to cry wolf). Both load
# MathJax from the book's CDN URL, and a stylesheet from an external host that the route
# must abort without a counted console error. The clean page carries the chapter header
# buttons in the markup sphinx-book-theme writes; the broken page has none.
_HEAD = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script>window.MathJax = {{"options": {{"processHtmlClass": "math"}}}}</script>
<script defer src="{MATHJAX_CDN}es5/tex-mml-chtml.js"></script>
<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Blocked">
</head><body class="mathjax_ignore">"""


def _button(label: str, title: str, href: str, cls: str = "") -> str:
    """One header dropdown entry, as sphinx-book-theme 1.3 writes it."""
    return (
        f'<li><a href="{href}" class="btn btn-sm {cls} dropdown-item" title="{title}" '
        f'data-bs-toggle="tooltip"><span class="btn__text-container">{label}</span>'
        "</a></li>"
    )


_HEADER_BUTTONS = (
    '<div class="dropdown dropdown-launch-buttons"><ul class="dropdown-menu">'
    + _button("Binder", "Launch on Binder", "https://mybinder.org/x")
    + _button("Colab", "Launch on Colab", "https://colab.research.google.com/x")
    + "</ul></div>"
    + '<div class="dropdown dropdown-download-buttons"><ul class="dropdown-menu">'
    + _button(
        ".ipynb", "Download notebook file", "good.ipynb", "btn-download-notebook-button"
    )
    + "</ul></div>"
)
GOOD_PAGE = f"""{_HEAD}{_HEADER_BUTTONS}
<h1 id="top">Good</h1>
<span class="math notranslate nohighlight">\\(\\frac{{a}}{{b}}\\)</span>
<div class="math notranslate nohighlight">\\[\\sum_i x_i^2\\]</div>
<img src="pixel.png" alt="a pixel">
<div class="cell_output"><figure id="fig-pixel">
<img src="pixel.png" alt="One black pixel.">
<figcaption><p><span class="caption-number">Fig. 1 </span>
<span class="caption-text">A pixel.</span></p></figcaption></figure></div>
<a href="broken.html#present">to the other page</a> <a href="#top">top</a>
<a href="https://example.org/">external, not checked</a>
</body></html>"""
BROKEN_PAGE = f"""{_HEAD}
<h1 id="present">Broken</h1>
<span class="math notranslate nohighlight">\\(\\frac{{1}}{{\\)</span>
<span class="math notranslate nohighlight">\\(\\frac{{1}}\\)</span>
<img src="missing.png" alt="gone">
<div class="cell_output"><img src="pixel.png" alt="pixel.png"></div>
<a href="nowhere.html">dead link</a>
<a href="good.html#absent">dead anchor</a>
<script>console.error("boom from the page");</script>
<script>
window.addEventListener("load", () => {{ throw new Error("kaboom"); }});
</script>
</body></html>"""

# A redirect page like Jupyter Book's root index.html, to a page that does not exist.
MOVED_PAGE = '<meta http-equiv="Refresh" content="0; url=gone.html" />'


def _pixel_png() -> bytes:
    """The smallest valid PNG: one black pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))  # filter byte, one pixel
        + chunk(b"IEND", b"")
    )


def test_checkers_catch_a_broken_page(browser_context, tmp_path):
    (tmp_path / "good.html").write_text(GOOD_PAGE)
    (tmp_path / "broken.html").write_text(BROKEN_PAGE)
    (tmp_path / "pixel.png").write_bytes(_pixel_png())
    (tmp_path / "good.ipynb").write_text("{}")  # the download button's target
    (tmp_path / "moved.html").write_text(MOVED_PAGE)
    targets = SiteTargets()
    found = {}
    with serve(tmp_path) as base:
        for name in ("good.html", "broken.html", "moved.html"):
            visit = open_page(browser_context, base, name)
            try:
                found[f"{name} blocked"] = visit.blocked
                found[name] = {
                    "console": check_console(visit),
                    "images": check_images(visit),
                    "figures": check_figures(visit),
                    "math": check_math(visit),
                    "links": check_links(visit, base, targets),
                    "launch": check_launch_buttons(visit),
                }
            finally:
                visit.page.close()

    for name in ("good.html", "broken.html"):
        # The external stylesheet was requested, and aborted.
        assert any("fonts.googleapis.com" in u for u in found[f"{name} blocked"]), name
    assert found["good.html"] == {
        "console": [],
        "images": [],
        "figures": [],
        "math": [],
        "links": [],
        "launch": [],
    }
    broken = found["broken.html"]
    console = "\n".join(broken["console"])
    # console.error, the uncaught exception and the 404 of the missing image; the
    # aborted external stylesheet is not among them.
    assert len(broken["console"]) == 3, console
    assert "broken.html: console error: boom from the page" in console
    assert "broken.html: uncaught error: kaboom" in console
    assert "404" in console and "missing.png" in console
    assert "fonts.googleapis.com" not in console
    assert broken["images"] == [
        "broken.html: image does not load: <img src='missing.png' alt='gone'>"
    ]
    assert broken["figures"] == [
        "broken.html: output image 'pixel.png' "
        "has no numbered, labelled figure caption",
        "broken.html: output image 'pixel.png' has no alt text (alt='pixel.png')",
    ]
    # An unclosed brace hides the formula from MathJax (it is left as text); a missing
    # argument is typeset as an error.
    assert broken["math"] == [
        "broken.html: formula not typeset: '\\\\(\\\\frac{1}{\\\\)'",
        "broken.html: 2 math elements (.math) but 1 typeset formulas (mjx-container)",
        "broken.html: MathJax error 'Missing argument for \\\\frac' in formula "
        "'\\\\frac{1}'",
    ]
    assert broken["links"] == [
        "broken.html: link 'dead link' (href='nowhere.html'): target answers HTTP 404",
        "broken.html: link 'dead anchor' (href='good.html#absent'): "
        "no element with id 'absent' in good.html",
    ]
    assert [m.split(" (")[0] for m in broken["launch"]] == [
        f"broken.html: missing {what}" for what in LAUNCH_BUTTONS
    ]
    # The redirect is followed, and its dead target reported by the link check.
    moved = found["moved.html"]
    assert moved["links"] == [
        "moved.html (redirected to gone.html): redirect target answers HTTP 404"
    ]
    assert "404" in "\n".join(moved["console"])
