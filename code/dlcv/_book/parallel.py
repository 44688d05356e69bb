"""Execute the book's stale chapters in parallel, into the cache that the build reads.

Jupyter Book 1 executes chapters one after another, inside Sphinx. ``make book`` runs
this module first, then the build, which finds every chapter cached::

    python -m dlcv._book.parallel [--jobs N]          # stale chapters, N at a time
    python -m dlcv._book.parallel --shard K/N --export DIR   # one GPU job's share
    python -m dlcv._book.parallel --merge DIR [DIR ...]      # the final GPU job

* The chapters are the executable MyST files of ``_toc.yml``. Which of them are stale
  is decided as the build's guard (:mod:`dlcv._book.sphinxext`) decides: a record whose
  chapter's fingerprint changed is dropped, and a chapter with no record matching its
  code cells runs. Each is read, executed and cached exactly as MyST-NB would do it
  (its reader, ``single_nb_execution``, the timeout of ``_config.yml``, the chapter's
  folder as working directory), so the outputs are those of the serial build.
* ``N`` kernels run at once (default: one per core), each with torch's (OpenMP's and
  MKL's) threads set to cores ÷ N, so that they do not oversubscribe the CPU. The
  longest chapters start first (by their last time in the cache, else by
  ``_chapter_times.yml``).
* Progress lines say which chapters start, finish or fail, with their times; a chapter
  that fails is reported with its cell and source line, and the others still finish.
  The end prints every chapter's time, slowest first, against the budget.
* ``--shard K/N`` takes the K-th of N shares of the chapters, balanced by the
  full-budget times of ``_chapter_times.yml``; ``--export DIR`` writes that share's
  cached chapters to a cache of their own. ``--merge`` puts such caches into the
  book's cache and fails unless every chapter is then cached and fresh (the GPU
  workflow, ``book.yml``).

Chapters are executed in worker processes; only this process writes the cache, each
record whole, so an interrupted run leaves no half-written record.
"""

from __future__ import annotations

import argparse
import heapq
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from dlcv._book import sphinxext

__all__ = [
    "Book",
    "Outcome",
    "execute",
    "export",
    "load_book",
    "main",
    "merge",
    "missing",
    "plan",
    "shard",
    "times_table",
]

TIMES_FILE = "_chapter_times.yml"
DEFAULT_ESTIMATE = 600.0  # seconds: a chapter missing from the times file, as long as
# one cell's timeout, so that it starts first and gets a share of its own
LIMITS = {"quick": 60.0}  # each chapter's execution limit at a budget, on 2 CPU cores
HEARTBEAT = 30.0  # seconds between "still running" lines


@dataclass
class Book:
    """What the executor needs to know of a Jupyter Book.

    Attributes:
        root: the folder of ``_config.yml`` and ``_toc.yml``.
        chapters: ``{docname: source path}`` of the executable chapters, in toc order.
        cache_dir: the jupyter-cache folder the build reads.
        timeout: seconds a cell may run (``execute.timeout``).
        allow_errors: whether a cell error is allowed (``execute.allow_errors``).
        packages: the fingerprinted packages (``dlcv_fingerprint_packages``).
        files: the fingerprinted files (``dlcv_fingerprint_files``).
        extensions: the MyST extensions (``parse.myst_enable_extensions``).
        estimates: ``{docname: {"quick": s, "full": s}}`` from ``_chapter_times.yml``.
    """

    root: Path
    chapters: dict[str, Path]
    cache_dir: Path
    timeout: int | None = None
    allow_errors: bool = False
    packages: list[str] = field(default_factory=lambda: ["dlcv"])
    files: list[Path] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    estimates: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Outcome:
    """How one chapter went.

    Attributes:
        docname: the chapter, e.g. ``"book/knn"``.
        status: ``"executed"``, ``"cached"`` or ``"failed"``.
        seconds: its execution time (for a cached chapter, that of the cached run).
        error: for a failed chapter, what failed: cell, source line and exception.
    """

    docname: str
    status: str
    seconds: float | None = None
    error: str | None = None


def load_book(root: Path | str = ".") -> Book:
    """Read a book's ``_config.yml``, ``_toc.yml`` and ``_chapter_times.yml``.

    Args:
        root: the book's folder.

    Returns:
        The :class:`Book`; its chapters are the files of the toc that are MyST
        notebooks with at least one code cell.

    Raises:
        FileNotFoundError: if ``root`` has no ``_config.yml`` or ``_toc.yml``.
    """
    from sphinx_external_toc.parsing import parse_toc_yaml

    root = Path(root).resolve()
    for name in ("_config.yml", "_toc.yml"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"expected a book folder with {name}, got {root}")
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    execute_cfg = config.get("execute") or {}
    sphinx_cfg = (config.get("sphinx") or {}).get("config") or {}
    chapters = {}
    for docname in parse_toc_yaml(root / "_toc.yml"):
        path = root / f"{docname}.md"
        if path.is_file() and sphinxext._CODE_CELL.search(path.read_text("utf-8")):
            chapters[docname] = path
    times = root / TIMES_FILE
    estimates = (yaml.safe_load(times.read_text()) or {}) if times.is_file() else {}
    return Book(
        root=root,
        chapters=chapters,
        cache_dir=root / "_build" / ".jupyter_cache",
        timeout=execute_cfg.get("timeout", 30),
        allow_errors=bool(execute_cfg.get("allow_errors", False)),
        packages=list(sphinx_cfg.get("dlcv_fingerprint_packages", ["dlcv"])),
        files=[
            root / f
            for f in sphinx_cfg.get("dlcv_fingerprint_files", sphinxext.DEFAULT_FILES)
        ],
        extensions=list((config.get("parse") or {}).get("myst_enable_extensions", [])),
        estimates=dict(estimates.get("chapters") or {}),
    )


def _read(book: Book, docname: str) -> Any:
    """The chapter as the notebook that MyST-NB builds from it (outputs empty)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    path = book.chapters[docname]
    config = MdParserConfig(enable_extensions=set(book.extensions))
    text = path.read_text(encoding="utf-8")
    return read_myst_markdown_notebook(
        text, config=config, add_source_map=True, path=str(path)
    )


def _cache(book: Book) -> Any:
    from jupyter_cache import get_cache

    book.cache_dir.mkdir(parents=True, exist_ok=True)
    return get_cache(book.cache_dir)


def _match(cache: Any, nb: Any) -> Any:
    """The cache record whose code cells are the notebook's, or ``None``."""
    try:
        return cache.match_cache_notebook(nb)
    except KeyError:
        return None


def estimate(book: Book, docname: str, budget: str) -> float:
    """A chapter's expected seconds at ``budget`` from ``_chapter_times.yml``."""
    entry = book.estimates.get(docname) or {}
    return float(entry.get(budget, DEFAULT_ESTIMATE))


def shard(book: Book, k: int, n: int, budget: str = "full") -> list[str]:
    """The chapters of share ``k`` of ``n`` (1-based), balanced by expected time.

    Longest-processing-time-first: the chapters, longest first, each go to the share
    with the least time so far (ties by index), so no share exceeds the best possible
    by more than a third. The split depends only on the toc and the times file.

    Args:
        book: the book.
        k: which share, 1 to ``n``.
        n: how many shares.
        budget: which column of the times file balances them.

    Returns:
        The share's docnames, in toc order.

    Raises:
        ValueError: if ``k`` is not in ``1..n``.
    """
    if not (isinstance(n, int) and isinstance(k, int) and 1 <= k <= n):
        raise ValueError(f"expected a shard K/N with 1 <= K <= N, got {k}/{n}")
    order = sorted(book.chapters, key=lambda d: (-estimate(book, d, budget), d))
    loads = [(0.0, i) for i in range(n)]
    owner = {}
    for docname in order:
        load, i = heapq.heappop(loads)
        owner[docname] = i
        heapq.heappush(loads, (load + estimate(book, docname, budget), i))
    return [d for d in book.chapters if owner[d] == k - 1]


def plan(book: Book, docnames: Iterable[str] | None = None) -> tuple[list, dict, dict]:
    """Drop stale records; say which chapters must run and which are cached.

    A record is stale when its chapter's fingerprint is in neither manifest (the last
    clean build's, and this executor's): then it is removed, as the build would.

    Args:
        book: the book.
        docnames: the chapters to consider (default: all).

    Returns:
        ``(to_run, cached, fingerprints)``: the docnames to execute, longest expected
        first; ``{docname: seconds}`` of those cached; every chapter's fingerprint.
    """
    wanted = list(book.chapters if docnames is None else docnames)
    fingerprints = sphinxext.chapter_fingerprints(
        book.chapters, packages=book.packages, files=book.files
    )
    built = sphinxext.read_manifest(book.cache_dir)
    executed = sphinxext.read_manifest(book.cache_dir, sphinxext.EXECUTED)
    cache = _cache(book)
    last = {}  # the last execution time of every chapter with a record, stale or not
    for record in cache.list_cache_records():
        last[str(Path(record.uri).resolve())] = record.data.get("execution_seconds")
    stale = [
        d for d, fp in fingerprints.items() if fp not in (built.get(d), executed.get(d))
    ]
    sphinxext.drop_records(book.cache_dir, [book.chapters[d] for d in stale])
    from dlcv.runtime import get_runtime

    budget = get_runtime().budget
    to_run, cached = [], {}
    for docname in wanted:
        record = _match(cache, _read(book, docname))
        if record is None:
            to_run.append(docname)
        else:
            cached[docname] = record.data.get("execution_seconds")

    def expected(docname: str) -> float:
        seconds = last.get(str(book.chapters[docname].resolve()))
        return seconds if seconds else estimate(book, docname, budget)

    to_run.sort(key=lambda d: (-expected(d), d))
    return to_run, cached, fingerprints


def _init_worker(threads: int, log: str) -> None:
    """Settings that every kernel started by this worker inherits.

    The kernels' own stderr (start-up notices, crash messages) goes to ``log``, not
    between the progress lines; a cell's stderr is part of its outputs as usual.
    """
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ["DLCV_PROGRESS"] = "0"
    os.environ["DLCV_BOOK_BUILD"] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)


def _run(nb_json: str, cwd: str, timeout: int | None, allow_errors: bool) -> dict:
    """Execute one notebook in this worker (as MyST-NB's cache client does)."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.reads(nb_json, as_version=4)
    try:
        result = single_nb_execution(
            nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors, meta_override=True
        )
    except Exception as err:  # a dead kernel, a kernel that would not start
        return {"nb": None, "seconds": None, "error": f"{type(err).__name__}: {err}"}
    error = None
    if result.err is not None:
        error = _where(nb, result.err)
    return {"nb": nbformat.writes(nb), "seconds": result.time, "error": error}


def _where(nb: Any, err: BaseException) -> str:
    """Which code cell failed (counted from 1), at which line of the chapter's source
    (the cell's first), and with what exception."""
    source_map = nb.metadata.get("source_map") or []
    index = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            index = i
            break
        if cell.get("execution_count") is not None:
            index = i  # the last cell that started: where a timeout struck
    if index is None:
        return f"{type(err).__name__}: {str(err).strip().splitlines()[-1]}"
    cell = nb.cells[index]
    line = source_map[index] + 1 if index < len(source_map) else "?"
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    what = (
        f"{errors[0]['ename']}: {errors[0]['evalue']}"
        if errors
        else f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
    )
    first = next((s for s in cell.source.splitlines() if s.strip()), "")
    number = sum(c.cell_type == "code" for c in nb.cells[: index + 1])
    return f"code cell {number} (line {line}: {first.strip()[:60]!r}): {what}"


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def execute(
    book: Book,
    docnames: Sequence[str],
    fingerprints: dict[str, str],
    *,
    jobs: int | None = None,
    cores: int | None = None,
    threads: int | None = None,
    out: IO[str] | None = None,
) -> list[Outcome]:
    """Execute chapters, ``jobs`` at a time, and cache each one that succeeds.

    Args:
        book: the book.
        docnames: the chapters to execute, in the order they should start.
        fingerprints: every chapter's fingerprint, recorded with its record.
        jobs: how many chapters run at once (default: ``cores``).
        cores: the cores to share (default: those this process may use).
        threads: torch's threads in each kernel (default: ``cores // jobs``, at least
            1). torch's CPU results can depend on it (the order of a sum's terms), so
            builds that compare outputs must give the kernels the same number.
        out: where the progress lines go (default: standard output).

    Returns:
        An :class:`Outcome` per chapter, in the order they finished.

    Raises:
        ValueError: if ``jobs`` or ``cores`` is not a positive integer.
    """
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    out = sys.stdout if out is None else out
    cores = _cores() if cores is None else cores
    jobs = cores if jobs is None else jobs
    for name, value in (("cores", cores), ("jobs", jobs), ("threads", threads)):
        if value is None and name == "threads":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected {name} to be a positive integer, got {value!r}")
    # from the jobs asked for, not the chapters left: a chapter's numbers must not
    # depend on how many others happen to be stale
    threads = max(1, cores // jobs) if threads is None else threads
    todo = list(docnames)
    if not todo:
        return []
    jobs = min(jobs, len(todo))
    print(
        f"Executing {len(todo)} chapter(s), {jobs} at a time, "
        f"{threads} thread(s) each ({cores} cores); kernels' stderr: "
        f"{book.cache_dir.parent / 'kernels.log'}",
        file=out,
        flush=True,
    )
    cache = _cache(book)
    outcomes: list[Outcome] = []
    started: dict[Future, tuple[str, float]] = {}
    context = multiprocessing.get_context("spawn")
    log = str(book.cache_dir.parent / "kernels.log")
    pool = ProcessPoolExecutor(jobs, context, _init_worker, (threads, log))
    last_beat = time.monotonic()

    def status() -> str:
        running = ", ".join(d for d, _ in started.values()) or "none"
        failed = sum(o.status == "failed" for o in outcomes)
        return (
            f"[{len(outcomes)}/{len(docnames)} finished, {failed} failed; "
            f"running: {running}]"
        )

    try:
        while todo or started:
            while todo and len(started) < jobs:
                docname = todo.pop(0)
                nb = _read(book, docname)
                cwd = str(book.chapters[docname].parent)
                args = (nbformat.writes(nb), cwd, book.timeout, book.allow_errors)
                started[pool.submit(_run, *args)] = (docname, time.monotonic())
                print(f"  start  {docname}", file=out, flush=True)
            done, _ = wait(started, timeout=HEARTBEAT, return_when=FIRST_COMPLETED)
            if not done and time.monotonic() - last_beat >= HEARTBEAT:
                now = time.monotonic()
                ages = ", ".join(f"{d} {now - t:.0f} s" for d, t in started.values())
                print(f"  ...    still running: {ages}", file=out, flush=True)
                last_beat = now
            for future in done:
                if future not in started:
                    continue  # requeued when its pool broke
                docname, t0 = started.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as err:  # a worker died: not a kernel error
                    result = {"nb": None, "seconds": None, "error": f"worker: {err}"}
                    pool.shutdown(cancel_futures=True)
                    pool = ProcessPoolExecutor(
                        jobs, context, _init_worker, (threads, log)
                    )
                    todo = [d for d, _ in started.values()] + todo
                    started.clear()
                seconds = result["seconds"] or time.monotonic() - t0
                if result["error"] is None:
                    nb = nbformat.reads(result["nb"], as_version=4)
                    bundle = CacheBundleIn(
                        nb,
                        str(book.chapters[docname]),
                        data={"execution_seconds": seconds},
                    )
                    cache.cache_notebook_bundle(
                        bundle, check_validity=False, overwrite=True
                    )
                    executed = sphinxext.read_manifest(
                        book.cache_dir, sphinxext.EXECUTED
                    )
                    executed[docname] = fingerprints[docname]
                    sphinxext.write_manifest(
                        book.cache_dir, executed, sphinxext.EXECUTED
                    )
                    outcomes.append(Outcome(docname, "executed", seconds))
                    print(
                        f"  done   {docname} {seconds:.1f} s  {status()}",
                        file=out,
                        flush=True,
                    )
                else:
                    outcomes.append(
                        Outcome(docname, "failed", seconds, result["error"])
                    )
                    print(
                        f"  FAILED {docname} after {seconds:.1f} s: {result['error']}  "
                        f"{status()}",
                        file=out,
                        flush=True,
                    )
    finally:
        pool.shutdown(cancel_futures=True)
    return outcomes


def times_table(outcomes: Iterable[Outcome], budget: str, note: str = "") -> str:
    """Every chapter's time, slowest first, against the budget's per-chapter limit.

    Args:
        outcomes: the chapters and their times.
        budget: the runtime budget, e.g. ``"quick"``; its limit is ``LIMITS[budget]``.
        note: how the chapters ran, e.g. ``"2 at a time"``, for the heading.

    Returns:
        A plain-text table.
    """
    limit = LIMITS.get(budget)
    head = f"budget {budget}" + (f", limit {limit:.0f} s a chapter" if limit else "")
    head += f" ({note})" if note else ""
    rows = [f"{'chapter':28s} {'seconds':>8s}  {'how':8s}  {head}"]
    known = [o for o in outcomes if o.seconds is not None]
    total = 0.0
    for o in sorted(known, key=lambda o: -o.seconds):  # type: ignore[operator]
        over = "over the limit" if limit and o.seconds > limit else ""  # type: ignore[operator]
        rows.append(f"{o.docname:28s} {o.seconds:8.1f}  {o.status:8s}  {over}")
        total += o.seconds  # type: ignore[operator]
    rows += [
        f"{o.docname:28s} {'?':>8s}  {o.status}" for o in outcomes if o not in known
    ]
    rows.append(f"{'sum of chapter times':28s} {total:8.1f}")
    return "\n".join(rows)


def export(book: Book, docnames: Iterable[str], dest: Path) -> None:
    """Copy the cached, fresh records of ``docnames`` into a new cache at ``dest``.

    Raises:
        ValueError: if a chapter has no fresh record (run :func:`execute` first).
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    to_run, _, fingerprints = plan(book, docnames)
    if to_run:
        raise ValueError(f"expected every chapter cached, but not: {', '.join(to_run)}")
    target = get_cache(Path(dest))
    cache = _cache(book)
    for docname in docnames:
        record = _match(cache, _read(book, docname))
        bundle = cache.get_cache_bundle(record.pk)
        target.cache_notebook_bundle(
            CacheBundleIn(bundle.nb, record.uri, data=dict(record.data)),
            check_validity=False,
            overwrite=True,
        )
    manifest = {d: fingerprints[d] for d in docnames}
    sphinxext.write_manifest(Path(dest), manifest, sphinxext.EXECUTED)


def merge(book: Book, sources: Iterable[Path]) -> list[str]:
    """Put exported caches into the book's cache; return the chapters still missing.

    Each source's records are added under this checkout's chapter paths, and its
    fingerprints join the executor's manifest.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = _cache(book)
    executed = sphinxext.read_manifest(book.cache_dir, sphinxext.EXECUTED)
    for source in map(Path, sources):
        if not (source / "global.db").is_file():
            raise FileNotFoundError(f"expected a jupyter-cache folder, got {source}")
        theirs = get_cache(source)
        for record in theirs.list_cache_records():
            bundle = theirs.get_cache_bundle(record.pk)
            uri = Path(record.uri).as_posix()
            docname = next((d for d in book.chapters if uri.endswith(f"/{d}.md")), None)
            uri = str(book.chapters[docname]) if docname else record.uri
            cache.cache_notebook_bundle(
                CacheBundleIn(bundle.nb, uri, data=dict(record.data)),
                check_validity=False,
                overwrite=True,
            )
        executed.update(sphinxext.read_manifest(source, sphinxext.EXECUTED))
    sphinxext.write_manifest(book.cache_dir, executed, sphinxext.EXECUTED)
    return missing(book)


def missing(book: Book) -> list[str]:
    """The chapters that the build would execute: stale or without a record."""
    return plan(book)[0]


def _shard_arg(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected K/N, e.g. 2/4, got {text!r}"
        ) from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected 1 <= K <= N, got {text!r}")
    return k, n


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (1 if a chapter failed)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--book", default=".", help="the book's folder (default: .)")
    p.add_argument("--jobs", type=int, help="chapters at once (default: cores)")
    p.add_argument("--threads", type=int, help="threads a kernel (default: cores/jobs)")
    p.add_argument("--shard", type=_shard_arg, help="only share K of N, e.g. 2/4")
    p.add_argument("--export", type=Path, help="write the share's cache to DIR")
    p.add_argument("--merge", type=Path, nargs="+", help="merge exported caches")
    p.add_argument("--list", action="store_true", help="print the share's chapters")
    args = p.parse_args(argv)
    for name in ("jobs", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"expected --{name} to be a positive integer, got {value}")
    book = load_book(args.book)
    from dlcv.runtime import get_runtime

    rt = get_runtime()
    if args.merge:
        left = merge(book, args.merge)
        if left:
            print(f"Not cached after the merge: {', '.join(left)}", file=sys.stderr)
            return 1
        print(f"Merged {len(args.merge)} cache(s): all {len(book.chapters)} chapters")
        return 0
    docnames = list(book.chapters)
    if args.shard:
        docnames = shard(book, *args.shard)
    if args.list:
        print("\n".join(docnames))
        return 0
    print(f"Device {rt.device}, budget {rt.budget}, seed {rt.seed}", flush=True)
    start = time.monotonic()
    to_run, cached, fingerprints = plan(book, docnames)
    print(f"{len(cached)} chapter(s) cached, {len(to_run)} to execute", flush=True)
    outcomes = execute(book, to_run, fingerprints, jobs=args.jobs, threads=args.threads)
    outcomes += [Outcome(d, "cached", s) for d, s in cached.items()]
    jobs = min(args.jobs or _cores(), max(1, len(to_run)))
    threads = args.threads or max(1, _cores() // (args.jobs or _cores()))
    note = f"{jobs} at a time, {threads} thread(s) each" if to_run else "all cached"
    print(f"\n{times_table(outcomes, rt.budget, note)}")
    print(f"wall time {time.monotonic() - start:.1f} s")
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        print(f"FAILED {book.chapters[o.docname]}: {o.error}", file=sys.stderr)
    if failed:
        return 1
    if args.export:
        export(book, docnames, args.export)
        print(f"Exported {len(docnames)} chapter(s) to {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
