"""The twins run as they do for a Colab reader: fresh runtime, no Sphinx, dlcv's wheel.

The slow tests build dlcv's wheel, a fresh virtual environment holding only what Colab
preinstalls (symlinked from this project's environment, nothing downloaded) plus that
wheel, and execute every ``book/*.ipynb`` twin in a Jupyter kernel of that environment.
``pytest -s`` prints each twin's wall time; they are also written to
``colab_twin_seconds.json`` in pytest's temporary folder. Those tests are marked
``slow`` and ``colab``: running every chapter takes minutes on two cores, so
``-m "not colab"`` leaves them out.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from dlcv._book import colab_env, twins
from dlcv._book.colab_env import (
    code_imports,
    dependency_closure,
    import_names,
    installed_distributions,
    link_distributions,
    myst_markup,
    pip_install_names,
)
from dlcv.data import FILES, find_file, search_dirs

ROOT = Path(__file__).resolve().parents[2]
TWINS = sorted((ROOT / "book").glob("*.ipynb"))
KERNEL = "colab-sim"
RUNNER = Path(colab_env.__file__).resolve()  # run as a script by the env's Python
CELL_TIMEOUT = 600  # seconds, as --ExecutePreprocessor.timeout=600
READER_ENV = {"MPLBACKEND": "Agg", "DLCV_DEVICE": "cpu", "DLCV_BUDGET": "quick"}


def _cells(twin: Path, kind: str) -> list[str]:
    """The sources of a twin's cells of one kind (``"code"`` or ``"markdown"``)."""
    cells = json.loads(twin.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == kind]


def test_there_are_twins():
    chapters = {p.stem for p in twins.chapters(ROOT)}
    assert chapters and {t.stem for t in TWINS} == chapters


# ---- what the twins contain (fast) ----------------------------------------------


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.stem)
def test_twin_markdown_has_no_myst_markup(twin):
    """Jupyter and Colab show MyST roles and directives as raw text."""
    found = [
        f"markdown cell {i}: {line}"
        for i, source in enumerate(_cells(twin, "markdown"))
        for line in myst_markup(source)
    ]
    assert found == [], f"{twin.name} shows raw MyST markup:\n" + "\n".join(found)


def _dist_import_names(names):
    """Import names of ``names`` and all they require, as installed here.

    A distribution not installed here (Colab's pandas, nbconvert) is assumed to be
    imported under its own name.
    """
    found, missing = dependency_closure(names, installed_distributions())
    out = {n.replace("-", "_") for n in missing}
    for dist in found.values():
        out |= import_names(dist)
    return out


def test_install_cell_installs_exactly_what_colab_lacks():
    """Each twin imports only the stdlib, Colab's packages, dlcv and dlcv's deps.

    So the first cell's ``%pip install dlcv`` (with dlcv's dependencies) is all a Colab
    reader needs; anything else imported (myst_nb, jupytext, ...) would fail there.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dlcv_deps = [Requirement(r).name for r in project["dependencies"]]
    colab = _dist_import_names(colab_env.COLAB_PREINSTALLED)
    allowed = set(sys.stdlib_module_names) | colab | _dist_import_names(dlcv_deps)
    assert {"torch", "numpy", "sklearn", "scipy", "IPython"} <= colab
    beyond = {}
    for twin in TWINS:
        install, *code = _cells(twin, "code")
        assert pip_install_names(install) == {"dlcv"}, twin.name
        imported = set().union(*map(code_imports, code))
        assert "dlcv" in imported, twin.name
        if imported - allowed - {"dlcv"}:
            beyond[twin.name] = sorted(imported - allowed - {"dlcv"})
    assert beyond == {}, f"twins import what Colab lacks: {beyond}"


# ---- the simulated Colab runtime (slow) ----------------------------------------


@dataclass(frozen=True)
class ColabEnv:
    """A built Colab-like environment, ready to run notebooks."""

    python: Path  # the environment's bin/python
    purelib: Path  # its site-packages, where dlcv's wheel went
    wheel: Path  # the dlcv wheel installed into it
    site_dir: Path  # the symlinked Colab distributions
    linked: frozenset[str]  # their normalised names
    missing: tuple[str, ...]  # Colab packages not installed here, so not simulated
    env: dict[str, str]  # the environment variables of the notebook runs
    work: Path  # copies of the twins, executed here

    def execute(self, notebook: Path) -> tuple[subprocess.CompletedProcess, Path]:
        """Execute a notebook in this environment; return the run and its output."""
        out = notebook.with_name(f"{notebook.stem}.executed.ipynb")
        cmd = [str(self.python), "-I", str(RUNNER), "execute", str(notebook), str(out)]
        cmd += ["--kernel", KERNEL, "--timeout", str(CELL_TIMEOUT)]
        run = subprocess.run(
            cmd, cwd=notebook.parent, env=self.env, capture_output=True, text=True
        )
        return run, out


def _data_dir() -> Path:
    """The folder holding Fashion-MNIST, as dlcv.data finds it; skip if none."""
    found = [find_file(name, search_dirs()) for name in FILES]
    if None in found:
        pytest.skip(
            "Fashion-MNIST is not on this machine (tests never download): set "
            "DLCV_DATA or install Debian's dataset-fashion-mnist; searched "
            + ", ".join(map(str, search_dirs()))
        )
    return found[0].parent


def _reader_environ(data: Path, base: Path) -> dict[str, str]:
    """os.environ without Python, Jupyter and dlcv settings, plus a reader's own."""
    drop = ("PYTHON", "JUPYTER", "IPYTHON", "DLCV_", "VIRTUAL_ENV", "MPLBACKEND")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(READER_ENV, DLCV_DATA=str(data), JUPYTER_PATH="")
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
        env[var] = str(base / "jupyter" / var.split("_")[1].lower())
    env["IPYTHONDIR"] = str(base / "ipython")  # no profile or startup file of ours
    return env


@pytest.fixture(scope="module")
def colab(tmp_path_factory) -> ColabEnv:
    data = _data_dir()
    base = tmp_path_factory.mktemp("colab")
    assert not base.resolve().is_relative_to(ROOT), "temp dir must be outside the repo"
    start = time.perf_counter()
    wheel = colab_env.build_wheel(ROOT, base / "wheel")
    installed = installed_distributions()
    found, missing = dependency_closure(colab_env.COLAB_PREINSTALLED, installed)
    site_dir = link_distributions(found.values(), base / "colab-site", installed)
    python = colab_env.create_env(base / "env", site_dir)
    colab_env.install_wheel(python, wheel)
    colab_env.write_kernelspec(python, KERNEL)
    work = base / "twins"
    work.mkdir()
    for twin in TWINS:
        shutil.copy2(twin, work / twin.name)
    print(
        f"\nColab environment built in {time.perf_counter() - start:.1f} s: "
        f"{len(found)} distributions linked; not installed here, so not simulated: "
        f"{', '.join(missing) or 'none'}"
    )
    return ColabEnv(
        python=python,
        purelib=next((base / "env" / "lib").glob("python3*/site-packages")),
        wheel=wheel,
        site_dir=site_dir,
        linked=frozenset(found),
        missing=tuple(missing),
        env=_reader_environ(data, base),
        work=work,
    )


PROBE = """\
import importlib, importlib.metadata, json, sys
import dlcv, matplotlib.pyplot, numpy, torch
absent = {}
for name in %r:
    try:
        importlib.import_module(name)
        absent[name] = False
    except ModuleNotFoundError:
        absent[name] = True
print(json.dumps({
    "executable": sys.executable,
    "dlcv": dlcv.__file__,
    "direct_url": importlib.metadata.distribution("dlcv").read_text("direct_url.json"),
    "absent": absent,
    "sys_path": sys.path,
}))
"""


@pytest.mark.slow
@pytest.mark.colab
def test_colab_environment_is_honest(colab):
    """The kernel is the fresh env's Python: dlcv from the wheel, no Sphinx stack."""
    import nbformat

    not_on_colab = dict(colab_env.NOT_ON_COLAB)
    assert colab.linked.isdisjoint(not_on_colab), "a Colab package requires Sphinx?"
    assert {"torch", "numpy", "matplotlib", "ipykernel", "pip"} <= colab.linked
    probe = colab.work.parent / "probe" / "probe.ipynb"
    probe.parent.mkdir()
    cell = nbformat.v4.new_code_cell(PROBE % (sorted(not_on_colab.values()),))
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), probe)
    run, out = colab.execute(probe)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = nbformat.read(out, as_version=4).cells[0].outputs
    facts = json.loads("".join(o.get("text", "") for o in outputs))
    assert facts["absent"] == dict.fromkeys(not_on_colab.values(), True)
    assert facts["executable"] == str(colab.python)
    dlcv_file = Path(facts["dlcv"])
    assert dlcv_file.is_relative_to(colab.purelib), dlcv_file
    assert not dlcv_file.resolve().is_relative_to(ROOT), dlcv_file
    assert colab.wheel.name in facts["direct_url"]
    assert not any(
        Path(p).resolve().is_relative_to(ROOT) for p in facts["sys_path"] if p
    ), facts["sys_path"]


@pytest.fixture(scope="module")
def timings(tmp_path_factory):
    """Each twin's wall seconds; printed and written to JSON as the tests go."""
    seconds: dict[str, float] = {}
    path = tmp_path_factory.getbasetemp() / "colab_twin_seconds.json"
    yield seconds, path
    if seconds:
        print(f"\nTwins executed in the Colab environment (wall seconds, {path}):")
        for name, s in seconds.items():
            print(f"  {name:20} {s:7.1f}")
        print(f"  {'total':20} {sum(seconds.values()):7.1f}")


@pytest.mark.slow
@pytest.mark.colab
@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.stem)
def test_twin_runs_in_colab_environment(colab, timings, twin):
    """Every cell of the twin runs without error, as "Run all" on Colab would."""
    import nbformat

    seconds, path = timings
    start = time.perf_counter()
    run, out = colab.execute(colab.work / twin.name)
    seconds[twin.stem] = round(time.perf_counter() - start, 1)
    path.write_text(json.dumps(seconds, indent=1) + "\n")
    print(f"\n{twin.name}: {seconds[twin.stem]:.1f} s")
    assert out.is_file(), run.stderr[-3000:]
    failed = [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(nbformat.read(out, as_version=4).cells)
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert failed == [], f"{twin.name}: {failed}\n{run.stderr[-3000:]}"
    assert run.returncode == 0, run.stderr[-3000:]


# ---- the helpers (fast) ---------------------------------------------------------


def _fake_dist(site: Path, name: str, files: list[str], requires=()) -> None:
    """An installed distribution in ``site``: METADATA, RECORD and its files."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    (info / "METADATA").write_text(
        "\n".join(meta + [f"Requires-Dist: {r}" for r in requires]) + "\n"
    )
    record = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in record))
    for f in files:
        if not f.startswith(".."):
            (site / f).parent.mkdir(parents=True, exist_ok=True)
            (site / f).write_text("")


def test_dependency_closure_follows_markers_and_extras(tmp_path):
    _fake_dist(
        tmp_path,
        "top",
        ["top.py"],
        requires=[
            "Mid_Dep>=1",  # any spelling of the name
            'only-extra; extra == "plot"',  # nobody asks for [plot]
            'never; python_version < "3"',
            "wants[fast]",
            "absent",
        ],
    )
    _fake_dist(tmp_path, "mid-dep", ["mid_dep.py"])
    _fake_dist(tmp_path, "only-extra", ["only_extra.py"])
    _fake_dist(tmp_path, "never", ["never.py"])
    _fake_dist(tmp_path, "wants", ["wants.py"], requires=['fastlib; extra == "fast"'])
    _fake_dist(tmp_path, "fastlib", ["fastlib.py"])
    installed = installed_distributions([str(tmp_path)])
    found, missing = dependency_closure(["Top"], installed)
    assert set(found) == {"top", "mid-dep", "wants", "fastlib"}
    assert missing == ["absent"]
    with pytest.raises(TypeError, match="got the str 'top'"):
        dependency_closure("top", installed)


def test_link_distributions_exposes_exactly_the_chosen_files(tmp_path):
    site = tmp_path / "site"
    files = [
        "pkg/__init__.py",
        "pkg/sub/core.py",
        "pkg.libs/libblas.so",
        "mod.py",
        "_ext.cpython-311-x86_64-linux-gnu.so",
        "ns/one/__init__.py",
        "__pycache__/mod.cpython-311.pyc",
        "../../bin/tool",
    ]
    _fake_dist(site, "chosen", files)
    _fake_dist(site, "other", ["ns/two/__init__.py", "other.py"])
    installed = installed_distributions([str(site)])
    assert import_names(installed["chosen"]) == {"pkg", "mod", "_ext", "ns"}
    dest = link_distributions([installed["chosen"]], tmp_path / "linked", installed)
    top = ["pkg", "pkg.libs", "mod.py", "_ext.cpython-311-x86_64-linux-gnu.so", "ns"]
    top.append("chosen-1.0.dist-info")  # but no __pycache__, nothing from ../../bin
    assert sorted(p.name for p in dest.iterdir()) == sorted(top)
    assert (dest / "pkg").is_symlink() and (dest / "pkg/sub/core.py").is_file()
    assert not (dest / "ns").is_symlink(), "a shared folder must be a real one"
    assert (dest / "ns/one/__init__.py").is_symlink() and not (dest / "ns/two").exists()
    assert set(installed_distributions([str(dest)])) == {"chosen"}
    with pytest.raises(FileExistsError):
        link_distributions([installed["chosen"]], dest, installed)


def test_myst_markup_finds_roles_and_directives_outside_code():
    page = "\n".join(
        [
            "Plain text with `code` and $x^2$ and a dict `{'a': 1}`.",
            "The {math}`x` role and {cite:p}`lecun` citation.",
            "```{note}",
            "A note with a {term}`glossary` role.",
            "```",
            "````{admonition} Four backticks",
            "```{tip}",
            "```",
            "````",
            ":::{tip}",
            ":::",
            "```python",
            "# a listing shows :math:`e^{-m}` and {math}`x` literally",
            "```{note} is no fence inside code",
            "```",
            "  ~~~{code-cell} ipython3",
            "~~~",
            "After the blocks: {ref}`sec`",
        ]
    )
    assert myst_markup(page) == [
        "The {math}`x` role and {cite:p}`lecun` citation.",
        "```{note}",
        "A note with a {term}`glossary` role.",
        "````{admonition} Four backticks",
        "```{tip}",
        ":::{tip}",
        "~~~{code-cell} ipython3",
        "After the blocks: {ref}`sec`",
    ]
    assert myst_markup("") == []
    with pytest.raises(TypeError, match="must be a str, got list"):
        myst_markup(["```{note}"])


def test_code_imports_and_pip_install_names():
    source = "\n".join(
        [
            "%pip install --quiet numpy",
            "import os, torch.nn as nn",
            "from dlcv.data import CLASSES",
            "from . import sibling",
            "def f():",
            "    import scipy.ndimage",
        ]
    )
    assert code_imports(source) == {"os", "torch", "dlcv", "scipy"}
    install = twins.install_cell_source("https://github.com/o/r", "main")
    assert pip_install_names(install) == {"dlcv"}  # its comment's quote is no shell
    assert pip_install_names("!pip install -q 'PyYAML>=6' Foo_Bar\nimport x") == {
        "pyyaml",
        "foo-bar",
    }


def test_kernelspec_and_wheel_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match="got 'a b'"):
        colab_env.write_kernelspec(tmp_path / "bin" / "python", "a b")
    spec = colab_env.write_kernelspec(tmp_path / "bin" / "python", "k")
    assert spec == tmp_path / "share/jupyter/kernels/k/kernel.json"
    assert json.loads(spec.read_text())["argv"][0] == str(tmp_path / "bin" / "python")
    with pytest.raises(FileNotFoundError, match="pyproject.toml"):
        colab_env.build_wheel(tmp_path, tmp_path / "wheel")
    (tmp_path / "env").mkdir()
    with pytest.raises(FileExistsError, match="got .*env"):
        colab_env.create_env(tmp_path / "env", tmp_path)
