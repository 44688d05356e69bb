"""The parallel executor gives the serial build's outputs, reports failures, splits."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from dlcv._book import parallel, sphinxext

ROOT = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")

HEADER = """\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# Chapter {name}

"""


def cell(source: str) -> str:
    return f"```{{code-cell}} ipython3\n{source}\n```\n\n"


# Seeded numbers, a figure and an import of the fake package: what a chapter prints.
DETERMINISTIC = """\
%matplotlib inline
import matplotlib.pyplot as plt
import torch
from fakepkg import used
torch.manual_seed({seed})
x = torch.randn(40, 30)
print("{name}", used.VALUE, round((x @ x.T).sum().item(), 4))
fig, ax = plt.subplots(figsize=(2, 2))
ax.plot(x[:, 0].tolist());"""


def chapter(name: str, *cells: str) -> str:
    return HEADER.format(name=name) + "".join(cell(c) for c in cells)


def make_book(root: Path, chapters: dict[str, str]) -> Path:
    """A tiny book whose chapters are ``chapters`` (docname: MyST text)."""
    root.mkdir(parents=True)
    (root / "_config.yml").write_text(
        textwrap.dedent("""\
        title: tiny
        execute: {execute_notebooks: cache, raise_on_error: true, timeout: 120}
        sphinx:
          extra_extensions: [dlcv._book.sphinxext]
          config:
            dlcv_fingerprint_packages: [fakepkg]
            dlcv_fingerprint_files: []
        """)
    )
    toc = {"format": "jb-book", "root": "intro"}
    toc["chapters"] = [{"file": name} for name in chapters]
    (root / "_toc.yml").write_text(yaml.safe_dump(toc))
    (root / "intro.md").write_text("# Intro\n\nA tiny book.\n")
    for name, text in chapters.items():
        (root / f"{name}.md").write_text(text)
    return root


@pytest.fixture
def fakepkg(tmp_path, monkeypatch):
    """A package the chapters import, on the path of this process and its kernels."""
    pkg = tmp_path / "lib" / "fakepkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""fake"""\n')
    (pkg / "used.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(pkg.parent))
    path = os.pathsep.join([str(pkg.parent), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv("DLCV_DEVICE", "cpu")
    monkeypatch.setenv("DLCV_BUDGET", "quick")
    for name in [m for m in sys.modules if m.startswith("fakepkg")]:
        monkeypatch.delitem(sys.modules, name)
    return pkg


def three_chapters() -> dict[str, str]:
    """ch0 and ch1 import fakepkg.used; ch2 does not."""
    out = {}
    for i in range(3):
        source = DETERMINISTIC.format(name=f"ch{i}", seed=i)
        if i == 2:
            source = source.replace("from fakepkg import used\n", "")
            source = source.replace("used.VALUE", "1")
        out[f"ch{i}"] = chapter(f"ch{i}", source)
    return out


def jb_build(book: Path) -> str:
    """Build strictly, as `make build` does; return the log."""
    cmd = [JUPYTER_BOOK, "build", str(book), "--warningiserror", "--nitpick"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def cached_outputs(book: Path) -> dict[str, list]:
    """Every chapter's cell outputs as its cache record holds them."""
    b = parallel.load_book(book)
    cache = parallel._cache(b)
    out = {}
    for docname in b.chapters:
        record = parallel._match(cache, parallel._read(b, docname))
        assert record is not None, f"{docname} is not cached"
        nb = cache.get_cache_bundle(record.pk).nb
        out[docname] = [c.get("outputs") for c in nb.cells if c.cell_type == "code"]
    return out


@pytest.mark.slow
def test_parallel_outputs_are_the_serial_builds(fakepkg, tmp_path, capsys):
    serial = make_book(tmp_path / "serial", three_chapters())
    shutil.copytree(serial, tmp_path / "parallel")
    par = tmp_path / "parallel"

    log = jb_build(serial)  # Jupyter Book alone: one chapter after another
    assert log.count("Executed notebook") == 3

    assert parallel.main(["--book", str(par), "--jobs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "2 at a time" in printed and printed.count("  done   ch") == 3
    log = jb_build(par)
    assert "Executed notebook" not in log, "the build must find every chapter cached"
    assert log.count("Using cached notebook") == 3

    serial_out, parallel_out = cached_outputs(serial), cached_outputs(par)
    assert serial_out == parallel_out
    texts = json.dumps(parallel_out)
    assert "image/png" in texts and '"ch2 1 ' in texts.replace("\\n", " ")
    html = (par / "_build" / "html" / "ch1.html").read_text()
    assert re.search(r"ch1 1 -?\d+\.\d+", html)

    # The chapters whose imported code changed run again; the other stays cached.
    (fakepkg / "used.py").write_text("VALUE = 2\n")
    to_run, cached, _ = parallel.plan(parallel.load_book(par))
    assert sorted(to_run) == ["ch0", "ch1"] and list(cached) == ["ch2"]
    assert parallel.main(["--book", str(par)]) == 0
    assert "ch0 2 " in json.dumps(cached_outputs(par)).replace("\\n", " ")


@pytest.mark.slow
def test_a_failing_chapter_is_named_with_its_cell_and_the_others_finish(
    fakepkg, tmp_path, capsys
):
    chapters = three_chapters()
    chapters["broken"] = chapter(
        "broken", "x = 1", "y = 2\nraise ValueError(f'boom {x + y}')", "print('never')"
    )
    book = make_book(tmp_path / "book", chapters)
    assert parallel.main(["--book", str(book), "--jobs", "2"]) == 1
    captured = capsys.readouterr()
    assert "FAILED broken" in captured.out
    line = chapters["broken"].splitlines().index("y = 2") + 1  # 1-based
    message = f"code cell 2 (line {line}: 'y = 2'): ValueError: boom 3"
    assert message in captured.out and message in captured.err
    assert "broken.md" in captured.err
    to_run, cached, _ = parallel.plan(parallel.load_book(book))
    assert to_run == ["broken"] and set(cached) == {"ch0", "ch1", "ch2"}


@pytest.mark.slow
def test_kernels_get_cores_divided_by_jobs_threads(fakepkg, tmp_path):
    source = (
        "import os, torch\n"
        "print('threads', os.environ['OMP_NUM_THREADS'], torch.get_num_threads(),"
        " os.environ['DLCV_BOOK_BUILD'])"
    )
    book = parallel.load_book(make_book(tmp_path / "b", {"t": chapter("t", source)}))
    _, _, fingerprints = parallel.plan(book)
    outcomes = parallel.execute(book, ["t"], fingerprints, jobs=2, cores=4)
    assert [o.status for o in outcomes] == ["executed"]
    assert "threads 2 2 1" in json.dumps(cached_outputs(book.root))


@pytest.mark.slow
def test_shards_export_and_merge_into_a_cache_the_build_only_reads(
    fakepkg, tmp_path, capsys
):
    first = make_book(tmp_path / "runner1", three_chapters())
    second, final = tmp_path / "runner2", tmp_path / "final"
    shutil.copytree(first, second)
    shutil.copytree(first, final)
    book = parallel.load_book(first)
    shares = [parallel.shard(book, k, 2) for k in (1, 2)]
    assert sorted(shares[0] + shares[1]) == ["ch0", "ch1", "ch2"]
    for k, runner in ((1, first), (2, second)):
        argv = ["--book", str(runner), "--shard", f"{k}/2", "--export"]
        assert parallel.main([*argv, str(tmp_path / f"cache{k}")]) == 0
    one = str(tmp_path / "cache1")
    assert parallel.main(["--book", str(final), "--merge", one]) == 1
    assert "Not cached after the merge" in capsys.readouterr().err
    caches = [str(tmp_path / "cache1"), str(tmp_path / "cache2")]
    assert parallel.main(["--book", str(final), "--merge", *caches]) == 0
    log = jb_build(final)
    assert "Executed notebook" not in log and log.count("Using cached notebook") == 3


def test_shards_balance_the_expected_times(tmp_path):
    times = {"a": 100, "b": 60, "c": 50, "d": 40, "e": 10}
    book = parallel.Book(
        root=tmp_path,
        chapters={d: tmp_path / f"{d}.md" for d in [*times, "new"]},
        cache_dir=tmp_path / "cache",
        estimates={d: {"full": t} for d, t in times.items()},
    )
    shares = [parallel.shard(book, k, 3) for k in (1, 2, 3)]
    # "new" has no estimate: it counts as DEFAULT_ESTIMATE and takes a share alone
    assert shares == [["new"], ["a", "d"], ["b", "c", "e"]]
    assert parallel.shard(book, 1, 1) == [*times, "new"]
    for k, n in [(0, 2), (3, 2), (1, 0)]:
        with pytest.raises(ValueError, match=f"1 <= K <= N, got {k}/{n}"):
            parallel.shard(book, k, n)


def test_execute_rejects_bad_counts(tmp_path):
    book = parallel.Book(root=tmp_path, chapters={}, cache_dir=tmp_path / "c")
    for kwargs in [{"jobs": 0}, {"cores": -1}, {"threads": 0}, {"jobs": True}]:
        [name] = kwargs
        with pytest.raises(ValueError, match=f"{name} to be a positive integer"):
            parallel.execute(book, ["x"], {}, **kwargs)
    with pytest.raises(FileNotFoundError, match="_config.yml"):
        parallel.load_book(tmp_path)


def test_times_table_is_slowest_first_against_the_limit():
    outcomes = [
        parallel.Outcome("book/a", "executed", 12.0),
        parallel.Outcome("book/b", "cached", 75.5),
        parallel.Outcome("book/c", "failed", 3.0, "cell 1 (...)"),
    ]
    lines = parallel.times_table(outcomes, "quick").splitlines()
    assert "limit 60 s" in lines[0]
    assert [ln.split()[0] for ln in lines[1:4]] == ["book/b", "book/a", "book/c"]
    assert lines[1].endswith("over the limit") and "over" not in lines[2]
    assert lines[-1].split()[-1] == "90.5"


def test_every_chapter_has_times_and_the_workflow_splits_them_all():
    book = parallel.load_book(ROOT)
    assert len(book.chapters) >= 16
    for docname in book.chapters:
        entry = book.estimates.get(docname)
        assert entry and entry["quick"] > 0 and entry["full"] > 0, docname
        assert entry["basis"].startswith(("measured", "estimate")), docname
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    job = workflow["jobs"]["execute"]
    shards = job["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)), "shards are numbered 1..N"
    run = " ".join(str(step.get("run", "")) for step in job["steps"])
    assert "--shard" in run and "--export" in run
    covered = [d for k in shards for d in parallel.shard(book, k, len(shards))]
    assert sorted(covered) == sorted(book.chapters), "each chapter in exactly one job"
    runs = " ".join(str(s.get("run", "")) for s in workflow["jobs"]["publish"]["steps"])
    assert "--merge" in runs and "make build" in runs


def test_the_build_guard_keeps_what_the_executor_cached(tmp_path):
    cache = tmp_path / "cache"
    sphinxext.write_manifest(cache, {"a": "1"}, sphinxext.EXECUTED)
    assert sphinxext.read_manifest(cache, sphinxext.EXECUTED) == {"a": "1"}
    assert sphinxext.read_manifest(cache) == {}
    assert not list(cache.glob("*.tmp")), "no half-written manifest is left"
