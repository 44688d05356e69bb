"""A Colab-like Python environment, built offline, to run the twins as a reader would.

Colab readers open the chapters' ``.ipynb`` twins (:mod:`dlcv._book.twins`) in a
runtime that already holds torch, NumPy, Jupyter and so on, but not the Sphinx stack
that builds the book. The test ``code/tests/test_colab.py`` rebuilds such a runtime
without downloading anything:

1. :func:`build_wheel` builds dlcv's wheel from a copy of the repository's sources;
2. :func:`dependency_closure` finds the distributions of :data:`COLAB_PREINSTALLED`
   and everything they require, in the project's own environment;
3. :func:`link_distributions` makes a folder of symlinks to exactly those
   distributions, :func:`create_env` a fresh virtual environment that sees the folder
   through a ``.pth`` file, and :func:`install_wheel` installs dlcv into it, offline;
4. :func:`write_kernelspec` gives the environment's Python a Jupyter kernel, and
   ``python -I colab_env.py execute IN OUT`` (:func:`execute_notebook`) runs a
   notebook in it as ``jupyter nbconvert --execute`` would (nbconvert's
   ``ExecutePreprocessor`` is a thin wrapper around the same ``nbclient`` client).

:func:`myst_markup` and :func:`code_imports` check what the twins contain. This is build
tooling: no chapter imports it, and the ``dlcv`` package does not import it either.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

__all__ = [
    "COLAB_PREINSTALLED",
    "NOT_ON_COLAB",
    "build_wheel",
    "code_imports",
    "create_env",
    "dependency_closure",
    "execute_notebook",
    "import_names",
    "install_wheel",
    "installed_distributions",
    "link_distributions",
    "myst_markup",
    "pip_install_names",
    "write_kernelspec",
]

# What a Colab runtime already holds, as distribution names. Their own requirements
# (pillow, contourpy, sympy, jedi, pyzmq, ...) come with them: dependency_closure.
COLAB_PREINSTALLED = (
    "torch",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-learn",
    "networkx",
    "tqdm",
    "pandas",
    "pyyaml",
    "requests",
    "pip",
    "ipython",
    "ipykernel",
    "ipywidgets",
    "jupyter-client",
    "jupyter-core",
    "nbconvert",
    "nbclient",
    "nbformat",
    "traitlets",
)
# What builds the book but is not on Colab: (distribution, import name).
NOT_ON_COLAB = (
    ("sphinx", "sphinx"),
    ("myst-nb", "myst_nb"),
    ("myst-parser", "myst_parser"),
    ("jupyter-book", "jupyter_book"),
    ("jupytext", "jupytext"),
    ("pybtex", "pybtex"),
    ("jupyter-cache", "jupyter_cache"),
    ("docutils", "docutils"),
)

# A MyST role (``{math}`x```) or the opening fence of a directive (```{note}, :::{tip}).
_ROLE = re.compile(r"\{[a-zA-Z:-]+\}`")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,}|:{3,})[ \t]*(.*?)[ \t]*$")
_MODULE_SUFFIXES = (".py", ".so", ".pyd")


def _canonical(name: str) -> str:
    """A distribution name as PEP 503 normalises it (``PyYAML`` -> ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(
    path: Iterable[str] | None = None,
) -> dict[str, metadata.Distribution]:
    """The distributions installed on ``path``, by normalised name.

    Args:
        path: the folders to search, like ``sys.path``; ``None`` means ``sys.path``.

    Returns:
        ``{normalised name: distribution}``; where a name is installed twice, the
        first on the path wins, as for ``import``.
    """
    found: dict[str, metadata.Distribution] = {}
    if path is None:
        dists = metadata.distributions()
    else:
        dists = metadata.distributions(path=list(path))
    for dist in dists:
        if dist.metadata["Name"]:  # a broken install may have no metadata
            found.setdefault(_canonical(dist.metadata["Name"]), dist)
    return found


def dependency_closure(
    names: Iterable[str], installed: Mapping[str, metadata.Distribution]
) -> tuple[dict[str, metadata.Distribution], list[str]]:
    """``names`` and everything they require, as installed on this machine.

    Requirements are those of the distributions' metadata whose environment markers
    hold here; a requirement that only an extra asks for counts only when a
    requirement asks for that extra.

    Args:
        names: distribution names, in any spelling (``PyYAML``, ``scikit_learn``).
        installed: the installed distributions by normalised name, as
            :func:`installed_distributions` returns them.

    Returns:
        ``(found, missing)``: the distributions of the closure by normalised name, and
        the sorted normalised names that are required but not installed.

    Raises:
        TypeError: if ``names`` is a single string rather than an iterable of them.
    """
    from packaging.requirements import Requirement

    if isinstance(names, str):
        raise TypeError(f"names must be an iterable of strings, got the str {names!r}")
    extras: dict[str, set[str]] = {}
    missing: set[str] = set()
    todo = [(_canonical(n), frozenset()) for n in names]
    while todo:
        name, wanted = todo.pop()
        if name not in installed:
            missing.add(name)
            continue
        if name in extras and wanted <= extras[name]:
            continue
        extras.setdefault(name, set()).update(wanted)
        envs = [{"extra": e} for e in ("", *sorted(extras[name]))]
        for line in installed[name].requires or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate(e) for e in envs):
                todo.append((_canonical(req.name), frozenset(req.extras)))
    return {n: installed[n] for n in sorted(extras)}, sorted(missing)


def _site_files(dist: metadata.Distribution) -> list[metadata.PackagePath]:
    """The files a distribution installed into its site folder (not scripts in bin)."""
    if dist.files is None:
        raise ValueError(
            f"{dist.metadata['Name']}: expected an installed file list (RECORD), got "
            "none; reinstall it with pip"
        )
    return [f for f in dist.files if f.parts and f.parts[0] != ".."]


def import_names(dist: metadata.Distribution) -> set[str]:
    """The top-level names a distribution makes importable.

    Read from its list of installed files: a top-level module (``six.py``, an
    extension ``_foo.cpython-311-x86_64-linux-gnu.so``) or a top-level folder that holds
    Python code.

    Args:
        dist: an installed distribution.

    Returns:
        The importable top-level names, e.g. ``{"sklearn"}`` for scikit-learn.

    Raises:
        ValueError: if the distribution has no list of installed files.
    """
    names = set()
    for f in _site_files(dist):
        top = f.parts[0]
        if len(f.parts) == 1:
            if f.name.endswith(_MODULE_SUFFIXES):
                names.add(top.split(".")[0])
        elif top.isidentifier() and f.name.endswith(_MODULE_SUFFIXES):
            names.add(top)
    names.discard("__pycache__")
    return names


def link_distributions(
    dists: Iterable[metadata.Distribution],
    dest: Path,
    installed: Mapping[str, metadata.Distribution],
) -> Path:
    """A folder of symlinks to exactly the files of ``dists``, to put on ``sys.path``.

    Each top-level entry (package folder, module, ``.dist-info`` folder, vendored
    ``.libs`` folder) becomes one symlink. A folder that another installed
    distribution also writes into (a namespace package such as ``sphinxcontrib``) is
    made a real folder instead, holding symlinks to only the listed files of ``dists``,
    so that nothing of the others shows through.

    Args:
        dists: the distributions to expose.
        dest: the folder to create; it must not exist yet.
        installed: every installed distribution by normalised name, to find the shared
            folders.

    Returns:
        ``dest``.

    Raises:
        FileExistsError: if ``dest`` exists.
        ValueError: if a distribution has no list of installed files.
    """
    owners: dict[str, set[str]] = {}
    for name, dist in installed.items():
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}:
            owners.setdefault(top, set()).add(name)
    dest.mkdir(parents=True)
    for dist in dists:
        for f in _site_files(dist):
            top = f.parts[0]
            if top == "__pycache__":  # bytecode, rebuilt where it is needed
                continue
            shared = len(owners.get(top, ())) > 1 and len(f.parts) > 1
            link, target = (dest / f, f) if shared else (dest / top, Path(top))
            if link.is_symlink() or link.exists():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(dist.locate_file(target)).absolute())
    return dest


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure raise an error that shows its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(cmd)} exited with {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def build_wheel(root: Path, dest: Path, *, python: str = sys.executable) -> Path:
    """Build the dlcv wheel from the sources under ``root``, offline.

    The build runs on a copy of ``pyproject.toml``, ``README.md`` and the packages
    under ``code/``, so that it writes nothing (``build/``, ``*.egg-info``) into the
    working tree.

    Args:
        root: the repository root, which holds ``pyproject.toml``.
        dest: the folder the wheel goes to (created if needed).
        python: the interpreter whose pip and setuptools build it
            (``--no-build-isolation``, ``--no-index``).

    Returns:
        The wheel's path.

    Raises:
        FileNotFoundError: if ``root`` has no ``pyproject.toml``.
        RuntimeError: if the build fails, with pip's output.
    """
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"expected {root}/pyproject.toml, found no such file")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlcv-src-") as tmp:
        src = Path(tmp)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, src / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "tests")
        shutil.copytree(root / "code", src / "code", ignore=ignore)
        flags = ["--quiet", "--no-deps", "--no-index", "--no-build-isolation"]
        flags += ["--disable-pip-version-check", "-w", str(dest)]
        _run([python, "-m", "pip", "wheel", *flags, str(src)])
    wheels = sorted(dest.glob("dlcv-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one dlcv wheel in {dest}, found {wheels}")
    return wheels[0]


def create_env(dest: Path, site_dir: Path, *, python: str = sys.executable) -> Path:
    """A fresh virtual environment that sees ``site_dir`` and nothing else installed.

    Args:
        dest: the environment's folder; it must not exist yet.
        site_dir: a folder of distributions (:func:`link_distributions`), put on the
            environment's ``sys.path`` by a ``.pth`` file in its site-packages.
        python: the interpreter whose base installation the environment uses.

    Returns:
        The environment's ``bin/python``.

    Raises:
        FileExistsError: if ``dest`` exists.
        RuntimeError: if ``venv`` fails.
    """
    if dest.exists():
        raise FileExistsError(f"expected a new folder for the environment, got {dest}")
    _run([python, "-m", "venv", "--without-pip", str(dest)])
    env_python = dest / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = _run([str(env_python), "-I", "-c", where]).stdout.strip()
    (Path(purelib) / "_colab_preinstalled.pth").write_text(f"{site_dir.absolute()}\n")
    return env_python


def install_wheel(env_python: Path, wheel: Path) -> None:
    """``pip install --no-deps --no-index`` a wheel into an environment.

    Args:
        env_python: the environment's Python; its pip (a Colab package) does the work.
        wheel: the wheel file.

    Raises:
        RuntimeError: if pip fails, with its output.
    """
    flags = ["--quiet", "--no-deps", "--no-index", "--no-cache-dir"]
    flags += ["--disable-pip-version-check"]
    _run([str(env_python), "-I", "-m", "pip", "install", *flags, str(wheel)])


def write_kernelspec(env_python: Path, name: str = "colab-sim") -> Path:
    """A Jupyter kernel spec, in the environment's own prefix, for its Python.

    Jupyter looks for kernels in ``sys.prefix/share/jupyter/kernels``, so a Jupyter
    client run by ``env_python`` finds it.

    Args:
        env_python: the environment's Python.
        name: the kernel's name, to pass as ``kernel_name``.

    Returns:
        The ``kernel.json`` written.

    Raises:
        ValueError: if ``name`` is not a valid kernel name (letters, digits, ``._-``).
    """
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ValueError(f"kernel name must match [A-Za-z0-9._-]+, got {name!r}")
    launch = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {
        "argv": [str(env_python), *launch],
        "display_name": "Python 3 (Colab simulation)",
        "language": "python",
    }
    path = env_python.parent.parent / "share" / "jupyter" / "kernels" / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "kernel.json").write_text(json.dumps(spec, indent=1))
    return path / "kernel.json"


def myst_markup(text: str) -> list[str]:
    """The MyST roles and directive fences in Markdown text, which Jupyter cannot show.

    A role is ``{name}`` followed by a backtick; a directive, a line opening a fence
    (```` ``` ````, ``~~~`` or ``:::``) with ``{name}``. The contents of fenced code
    blocks (```` ```python ````) are shown literally, so they are not searched.

    Args:
        text: a Markdown cell's source.

    Returns:
        Each offending line, stripped, once per line, in order.

    Raises:
        TypeError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    found: list[str] = []
    blocks: list[tuple[str, bool]] = []  # (fence, is code) of the open blocks
    for line in text.splitlines():
        fence = _FENCE.match(line)
        closes = (
            fence is not None
            and blocks
            and not fence[2]
            and fence[1][0] == blocks[-1][0][0]
            and len(fence[1]) >= len(blocks[-1][0])
        )
        if closes:
            blocks.pop()
        elif blocks and blocks[-1][1]:
            continue  # inside a code block
        elif fence is not None and fence[2].startswith("{"):
            found.append(line.strip())
            blocks.append((fence[1], False))
        elif fence is not None and fence[1][0] != ":":
            blocks.append((fence[1], True))
        elif _ROLE.search(line):
            found.append(line.strip())
    return found


def code_imports(source: str) -> set[str]:
    """The top-level modules a code cell imports, anywhere in the cell.

    IPython syntax (``%pip``, ``!ls``) is translated as IPython would before parsing;
    relative imports are left out.

    Args:
        source: a code cell's source.

    Returns:
        The first component of every imported module (``torch`` for
        ``import torch.nn.functional as F``).

    Raises:
        SyntaxError: if the cell is not valid IPython code.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def pip_install_names(source: str) -> set[str]:
    """The distributions that the ``%pip install`` lines of a cell install.

    Args:
        source: a code cell's source.

    Returns:
        The normalised names of the requirements passed to ``%pip install``
        (``dlcv`` for ``%pip install --quiet "dlcv @ git+https://..."``).
    """
    from packaging.requirements import Requirement

    names = set()
    for line in source.splitlines():
        if not re.match(r"\s*[%!]pip\s+install\b", line):
            continue
        words = shlex.split(line)[2:]
        names.update(
            _canonical(Requirement(w).name) for w in words if not w.startswith("-")
        )
    return names


def execute_notebook(
    src: Path, dest: Path, *, kernel_name: str, timeout: int = 600
) -> list[str]:
    """Run a notebook as ``jupyter nbconvert --to notebook --execute`` does.

    Runs in the notebook's folder, stops at the first failing cell, and writes the
    executed notebook (outputs included) to ``dest`` whatever happens.

    Args:
        src: the notebook.
        dest: where the executed notebook goes.
        kernel_name: the Jupyter kernel to run it in.
        timeout: seconds a single cell may run.

    Returns:
        One line per failed cell, ``"cell N: Error: message"``; empty if none failed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(src.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        pass  # the failing cell's error output is read below
    finally:
        nbformat.write(nb, dest)
    return [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -I colab_env.py execute SRC DEST --kernel NAME [--timeout S]``.

    Run with the simulated environment's Python, so that the Jupyter client too is
    Colab's; ``-I`` keeps the repository off ``sys.path``.

    Args:
        argv: the command-line arguments; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 1 if a cell failed, else 0.
    """
    parser = argparse.ArgumentParser(description="Run a notebook in a Jupyter kernel.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="execute a notebook, stop at the first error")
    run.add_argument("src", type=Path)
    run.add_argument("dest", type=Path)
    run.add_argument("--kernel", required=True, help="the Jupyter kernel's name")
    run.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    errors = execute_notebook(
        args.src, args.dest, kernel_name=args.kernel, timeout=args.timeout
    )
    for line in errors:
        print(f"{args.src.name}: {line}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
