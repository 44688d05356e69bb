"""Screenshot a page of the built book in headless Chromium, as a reader sees it.

    .venv/bin/python tools/screenshot.py book/knn.html --section exercises

serves the built site (``_build/html`` or ``--site``) on 127.0.0.1, opens the page with
MathJax served from ``node_modules/mathjax`` (no network), waits for the formulas, and
writes PNG slices of at most ``--height`` pixels each (the whole page, or only the
section whose id is given) into ``--out`` (``/tmp/shots`` by default), so that an image
viewer can show them at full resolution. It prints the paths.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code" / "tests"))

from test_site import CHROMIUM, CHROMIUM_ARGS, open_page, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", help="page path inside the site, e.g. book/knn.html")
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--section", help="id of a section to shoot, e.g. exercises")
    parser.add_argument("--out", type=Path, default=Path("/tmp/shots"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1400, help="pixels per slice")
    args = parser.parse_args()

    from PIL import Image
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.page.replace("/", "_").removesuffix(".html")
    if args.section:
        stem += f"_{args.section}"
    full = args.out / f"{stem}_full.png"
    with serve(args.site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": args.width, "height": 900})
        visit = open_page(context, base, args.page)
        # Open every collapsed dropdown? No: a reader sees them closed.
        if args.section:
            visit.page.locator(f"section#{args.section}").screenshot(path=full)
        else:
            visit.page.screenshot(path=full, full_page=True)
        problems = visit.console_errors + visit.page_errors
        browser.close()
    image = Image.open(full)
    for i, top in enumerate(range(0, image.height, args.height)):
        piece = args.out / f"{stem}_{i:02d}.png"
        image.crop((0, top, image.width, min(top + args.height, image.height))).save(
            piece
        )
        print(piece)
    for problem in problems:
        print("console:", problem)


if __name__ == "__main__":
    main()
