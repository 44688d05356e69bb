"""Sphinx extension that keeps the book's execution cache honest.

Jupyter Book (MyST-NB + jupyter-cache) keys a cached notebook only on its own code
cells (MyST-NB issue 299): change ``dlcv/knn.py`` and the kNN chapter would keep its old
outputs. So each executable chapter gets a *fingerprint*, a hash of what else its
outputs depend on: the ``dlcv`` modules it imports (followed through their imports, with
the data files of their package directories), the pinned requirements and the runtime
settings (device type, budget, seed). A chapter whose fingerprint changed runs again.

* Cells are read as Jupytext and IPython read them, magics included. An import that
  cannot be resolved statically (``from dlcv import *``, a computed module name, a cell
  that does not parse) counts as an import of the whole package.
* Fingerprints are recorded only after a build with no error and no warning; after any
  other, the saved Sphinx environment is deleted, so the next build checks every page.
  :mod:`dlcv._book.parallel`, which executes stale chapters before the build, records
  the fingerprint of each chapter it caches in a second manifest: a cache record is kept
  while either manifest holds the chapter's current fingerprint.
* Kernels started by the build inherit ``DLCV_PROGRESS=0`` (no progress bars in HTML)
  and ``DLCV_BOOK_BUILD=1`` (:func:`dlcv.runtime.glue` hands values to myst-nb).

Use: ``sphinx: extra_extensions: [dlcv._book.sphinxext]`` in ``_config.yml``. Config
values: ``dlcv_fingerprint_packages`` (default ``["dlcv"]``) and
``dlcv_fingerprint_files`` (default ``requirements.txt``, ``requirements-lock.txt`` and
``pyproject.toml``, relative to the configuration directory; a missing one counts too).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "chapter_fingerprints",
    "chapter_imports",
    "drop_records",
    "fingerprint",
    "module_dependencies",
    "read_manifest",
    "runtime_key",
    "setup",
    "write_manifest",
]

MANIFEST = "dlcv-fingerprints.json"  # chapters as the last clean build saw them
EXECUTED = "dlcv-executed.json"  # chapters that dlcv._book.parallel cached
DEFAULT_FILES = ["requirements.txt", "requirements-lock.txt", "pyproject.toml"]
# A MyST code cell: a fence of three or more backticks or tildes (as markdown-it reads).
_CODE_CELL = re.compile(r"^ {0,3}(?:`{3,}|~{3,})[ \t]*\{code-cell\}", re.M)
# Magics whose line (after options) and cell body are Python code run in the kernel.
_PYTHON_MAGICS = frozenset({"time", "timeit", "prun", "capture", "debug"})
_IMPORTERS = frozenset({"import_module", "__import__"})
_UNKNOWN = object()  # what _literal gives for a value known only at run time


def _whole(packages: Iterable[str]) -> set[str]:
    """``{"pkg.*"}`` for every package: "any module of the package may be imported"."""
    return {f"{p}.*" for p in packages}


def chapter_imports(text: str, packages: Iterable[str]) -> set[str]:
    """Names of the modules of ``packages`` that a MyST notebook's code cells import.

    The cells are read with Jupytext, and IPython syntax (magics, ``!`` lines) is turned
    into Python as IPython does before the cell is parsed. The code run by ``%time``,
    ``%timeit``, ``%prun``, ``%%capture`` and the like counts; other magics and shell
    commands that mention a package count as importing all of it.

    Args:
        text: the chapter's MyST Markdown source.
        packages: top-level package names to look for, e.g. ``["dlcv"]``.

    Returns:
        Dotted names such as ``{"dlcv", "dlcv.knn"}``: ``import dlcv.knn``,
        ``from dlcv import knn`` and ``importlib.import_module("dlcv.knn")`` all yield
        both. ``"dlcv.*"`` stands for the whole package, where an import cannot be
        resolved: ``from dlcv import *``, a computed module name, a cell that does not
        parse.
    """
    import jupytext

    packages = set(packages)
    found: set[str] = set()
    if not packages:
        return found
    for cell in jupytext.reads(text, fmt="md:myst").cells:
        if cell.cell_type == "code":
            found |= _cell_imports(cell.source, packages)
    return found


def _cell_imports(source: str, packages: set[str]) -> set[str]:
    """Modules of ``packages`` imported by a cell in IPython syntax."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return _whole(packages)
    return _imports_of(tree, packages, current=None)


def _line_imports(line: str, packages: set[str]) -> set[str]:
    """Modules imported by the statement that ends a magic's line, after its options."""
    starts = [0] + [m.end() for m in re.finditer(r"\s+", line)]
    for start in starts:  # "-n1 -r3 import x": try "-n1 ...", "-r3 import x", ...
        try:
            tree = ast.parse(line[start:])
        except SyntaxError:
            continue
        return _imports_of(tree, packages, current=None)
    return _whole(packages)


def _literal(node: ast.AST | None, current: str | None) -> object:
    """The value of a constant (or ``__name__``, ``__package__``), else ``_UNKNOWN``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(e, current) for e in node.elts]
        return _UNKNOWN if _UNKNOWN in values else values
    dunders = ("__name__", "__package__")
    if isinstance(node, ast.Name) and current and node.id in dunders:
        if current.endswith(".__init__"):  # a package's __init__.py
            return current.removesuffix(".__init__")
        return current if node.id == "__name__" else current.rpartition(".")[0]
    return _UNKNOWN


def _argument(call: ast.Call, index: int, name: str) -> ast.AST | None:
    """Argument ``index`` (or keyword ``name``) of ``call``; ``None`` when absent."""
    if index < len(call.args):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == name), None)


def _dynamic_import(
    call: ast.Call, packages: set[str], current: str | None
) -> set[str]:
    """Modules imported by ``importlib.import_module(...)`` or ``__import__(...)``."""
    func = call.func
    kind = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return _whole(packages)
    name = _literal(_argument(call, 0, "name"), current)
    fromlist: object = []
    if kind == "__import__":
        level = _argument(call, 4, "level")
        if level is not None and _literal(level, current) != 0:
            return _whole(packages)  # relative __import__: resolved by its globals
        node = _argument(call, 3, "fromlist")
        fromlist = [] if node is None else _literal(node, current) or []
    elif isinstance(name, str) and name.startswith("."):
        anchor = _literal(_argument(call, 1, "package"), current)
        if not isinstance(anchor, str) or not anchor:
            return _whole(packages)
        try:
            name = importlib.util.resolve_name(name, anchor)
        except ImportError:  # more dots than the anchor has parents
            return _whole(packages)
    if not isinstance(name, str) or not isinstance(fromlist, (list, tuple)):
        return _whole(packages)
    if name.split(".")[0] not in packages:
        return set()
    return {name} | {f"{name}.{f}" for f in fromlist if isinstance(f, str)}


def _magic_imports(call: ast.Call, packages: set[str]) -> set[str]:
    """Modules imported by ``get_ipython().run_line_magic(...)`` and its kin."""
    kind = call.func.attr  # type: ignore[attr-defined]
    args = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
    if not args or not all(isinstance(a, str) for a in args):
        return _whole(packages)
    if kind == "run_line_magic" and len(args) == 2 and args[0] in _PYTHON_MAGICS:
        return _line_imports(args[1], packages)
    if kind == "run_cell_magic" and len(args) == 3 and args[0] in _PYTHON_MAGICS:
        return _line_imports(args[1], packages) | _cell_imports(args[2], packages)
    if kind.startswith("run_") and args[0] == "run":
        return _whole(packages)  # %run executes a file we do not read
    # Shell commands and other magics: only a mention can import a package.
    text = " ".join(args[1:] if kind.startswith("run_") else args)
    return {f"{p}.*" for p in packages if re.search(rf"\b{re.escape(p)}\b", text)}


def _is_magic(call: ast.Call) -> bool:
    """Whether ``call`` is ``get_ipython().<magic or shell method>(...)``."""
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("run_line_magic", "run_cell_magic", "system", "getoutput")
        and isinstance(func.value, ast.Call)
        and getattr(func.value.func, "id", None) == "get_ipython"
    )


def _imports_of(tree: ast.AST, packages: set[str], current: str | None) -> set[str]:
    """Modules of ``packages`` imported in ``tree``.

    Args:
        tree: a parsed module or cell.
        packages: top-level package names to look for.
        current: the dotted name of the module ``tree`` comes from, which resolves
            relative imports (``"pkg.__init__"`` for a package's ``__init__.py``), or
            ``None`` for a notebook cell.

    Returns:
        Dotted names as :func:`chapter_imports` returns them.
    """
    nodes = list(ast.walk(tree))
    importers = set(_IMPORTERS)  # `from importlib import import_module as im`
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module == "importlib":
            importers |= {
                a.asname or a.name for a in node.names if a.name in _IMPORTERS
            }
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and not current:
                continue  # a relative import in a notebook fails: it imports nothing
            if node.level:
                base = current.rsplit(".", node.level)[0]  # type: ignore[union-attr]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # `from pkg import mod` may import a submodule: keep both candidates;
            # `from pkg import *` gives "pkg.*".
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and _is_magic(node):
            found |= _magic_imports(node, packages)
            continue
        elif isinstance(node, ast.Call) and (
            getattr(node.func, "id", None) in importers
            or getattr(node.func, "attr", None) in _IMPORTERS
        ):
            names = list(_dynamic_import(node, packages, current))
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in packages}
    return found


def _module_file(name: str) -> Path | None:
    """The source file of module ``name``, found without importing anything."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)  # a top-level lookup imports nothing
    if spec is None or not spec.submodule_search_locations:
        return Path(spec.origin) if spec and spec.origin and not rest else None
    for base in spec.submodule_search_locations:
        stem = Path(base).joinpath(*rest)
        for candidate in (stem / "__init__.py", stem.with_suffix(".py")):
            if candidate.is_file():
                return candidate
    return None


def _package_modules(name: str) -> list[str]:
    """Every module of package ``name`` (just ``name`` for a plain module)."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return [name] if spec else []
    modules = []
    for base in spec.submodule_search_locations:
        folder = Path(base).joinpath(*rest)
        if not folder.is_dir():
            if folder.with_suffix(".py").is_file():
                modules.append(name)
            continue
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            modules.append(".".join((name, *parts)))
    return modules


def _defines(module: str, attribute: str) -> bool:
    """Whether module ``module`` binds ``attribute`` at its top level, read statically.

    A ``from ... import *`` in the module counts as binding anything: the modules it
    star-imports are dependencies in their own right.
    """
    path = _module_file(module)
    if path is None or path.suffix != ".py":
        return False
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, ValueError):
        return False
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound = [node.name]
        elif isinstance(node, ast.Lambda):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(a.name == "*" for a in node.names):
                return True
            bound = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound = [node.id]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound = [node.name]
        else:
            bound = []
        if attribute in bound:
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return False


def module_dependencies(modules: Iterable[str]) -> dict[str, Path]:
    """Source files of ``modules`` and of the modules of the same packages they import.

    A module's parent packages count too (importing ``dlcv.knn`` runs
    ``dlcv/__init__.py``). ``"dlcv.*"`` stands for every module of ``dlcv``. A name
    that is no module counts when its parent module binds it
    (``dlcv.knn.KNearestNeighbor``); otherwise (a typo, a module ``__getattr__``) it
    stands for the whole package, as does a module that does not parse.

    Args:
        modules: dotted module names, as :func:`chapter_imports` returns them.

    Returns:
        ``{module name: source file}``, sorted by name.
    """
    todo = list(modules)
    packages = {m.split(".")[0] for m in todo}
    files: dict[str, Path] = {}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.endswith(".*"):
            todo += _package_modules(name[:-2])
            continue
        path = _module_file(name)
        if path is None:
            parent, _, attribute = name.rpartition(".")
            if not (parent and _defines(parent, attribute)):
                todo.append(name.split(".")[0] + ".*")
            continue
        files[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        if path.suffix != ".py":
            continue  # an extension module: hashed, not read
        # Relative imports in a package's __init__ resolve against the package itself.
        current = f"{name}.__init__" if path.name == "__init__.py" else name
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError):
            todo.append(parts[0] + ".*")
            continue
        todo += sorted(_imports_of(tree, packages, current=current))
    return dict(sorted(files.items()))


def _data_files(modules: dict[str, Path]) -> dict[str, Path]:
    """The data files of the package directories that ``modules`` come from.

    Every file but Python sources and bytecode, in the directory of each package module
    and its subdirectories that are not packages themselves (no ``__init__.py``);
    ``__pycache__`` and hidden files are skipped. Keys are ``package/relative/path``.
    """
    folders: dict[Path, str] = {}
    for name, path in modules.items():
        if path.name == "__init__.py":
            folders[path.parent] = name
        elif "." in name:
            folders[path.parent] = name.rsplit(".", 1)[0]
    found: dict[str, Path] = {}
    for folder, package in folders.items():
        todo = [folder]
        while todo:
            current = todo.pop()
            for entry in current.iterdir():
                if entry.name.startswith(".") or entry.name == "__pycache__":
                    continue
                if entry.is_dir():
                    if not (entry / "__init__.py").exists():
                        todo.append(entry)
                elif entry.is_file() and entry.suffix not in (".py", ".pyc", ".pyo"):
                    key = f"{package}/{entry.relative_to(folder).as_posix()}"
                    found[key] = entry
    return dict(sorted(found.items()))


def fingerprint(
    chapter_text: str,
    *,
    packages: Iterable[str],
    files: Iterable[Path],
    extra: str = "",
) -> str:
    """Hash of what a chapter's outputs depend on, besides its own code cells.

    Args:
        chapter_text: the chapter's MyST source (only its imports matter here).
        packages: the packages whose imported modules count, e.g. ``["dlcv"]``, with
            the data files of their directories.
        files: other files that count, e.g. the pinned requirements; a missing file is
            hashed as missing.
        extra: any other text that counts, e.g. the runtime settings.

    Returns:
        A hex SHA-256 digest.
    """
    digest = hashlib.sha256(extra.encode())

    def add(kind: str, name: str, data: bytes) -> None:
        digest.update(f"\0{kind} {name} {len(data)}\0".encode() + data)

    deps = module_dependencies(chapter_imports(chapter_text, packages))
    for name, path in deps.items():
        add("module", name, path.read_bytes())
    for name, path in _data_files(deps).items():
        add("data", name, path.read_bytes())
    for path in map(Path, files):
        add("file", path.name, path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def runtime_key() -> str:
    """The runtime settings that shape a chapter's outputs: device, budget, seed."""
    from dlcv.runtime import get_runtime

    rt = get_runtime()
    return f"device={rt.device.type} budget={rt.budget} seed={rt.seed}"


def _cache_dir(app: Any) -> Path:
    return Path(
        app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache"
    )


def chapter_fingerprints(
    chapters: dict[str, Path], *, packages: Iterable[str], files: Iterable[Path]
) -> dict[str, str]:
    """:func:`fingerprint` of every executable chapter, under the current runtime.

    Args:
        chapters: ``{docname: source path}``; only MyST files with a code cell count.
        packages: as for :func:`fingerprint`.
        files: as for :func:`fingerprint`.

    Returns:
        ``{docname: fingerprint}`` of the chapters that have code cells.
    """
    files, packages, extra = list(files), list(packages), runtime_key()
    out = {}
    for docname, path in sorted(chapters.items()):
        if path.suffix != ".md" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if _CODE_CELL.search(text):
            out[docname] = fingerprint(
                text, packages=packages, files=files, extra=extra
            )
    return out


def read_manifest(cache_dir: Path, name: str = MANIFEST) -> dict[str, str]:
    """A manifest ``{docname: fingerprint}`` of the cache; empty if absent or broken."""
    try:
        data = json.loads((Path(cache_dir) / name).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_manifest(cache_dir: Path, data: dict[str, str], name: str = MANIFEST) -> None:
    """Write a manifest atomically: readers see the old file or the new, never half."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / (name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, cache_dir / name)


def drop_records(cache_dir: Path, paths: Iterable[Path]) -> int:
    """Remove the jupyter-cache records of the chapters at ``paths``; say how many."""
    cache_dir = Path(cache_dir)
    wanted = {str(Path(p).resolve()) for p in paths}
    if not wanted or not cache_dir.exists():
        return 0
    from jupyter_cache import get_cache

    cache = get_cache(cache_dir)
    dropped = 0
    for record in cache.list_cache_records():
        if str(Path(record.uri).resolve()) in wanted:
            cache.remove_cache(record.pk)
            dropped += 1
    return dropped


def _outdated(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """``env-get-outdated``: chapters whose dependencies changed since a clean build.

    Their pages are read again; their cache records are dropped unless
    :mod:`dlcv._book.parallel` cached them under the current fingerprint.
    """
    chapters = {doc: Path(env.doc2path(doc)) for doc in env.found_docs}
    current = chapter_fingerprints(
        chapters,
        packages=app.config.dlcv_fingerprint_packages,
        files=[Path(app.confdir) / f for f in app.config.dlcv_fingerprint_files],
    )
    app.env.dlcv_fingerprints = current
    cache_dir = _cache_dir(app)
    built, executed = read_manifest(cache_dir), read_manifest(cache_dir, EXECUTED)
    stale = [doc for doc, fp in current.items() if built.get(doc) != fp]
    drop_records(
        cache_dir, [chapters[d] for d in stale if executed.get(d) != current[d]]
    )
    return [doc for doc in stale if doc not in added]


def _finished(app: Any, exception: Exception | None) -> None:
    """``build-finished``: record fingerprints if the build was clean, else re-read."""
    clean = exception is None and getattr(app, "_warncount", 0) == 0
    if not clean:
        (Path(app.doctreedir) / "environment.pickle").unlink(missing_ok=True)
        return
    current = getattr(app.env, "dlcv_fingerprints", None)
    if current is None:
        return
    write_manifest(_cache_dir(app), current)


def _dedupe_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """``html-page-context``: drop repeated ``<script>`` entries from a page.

    Sphinx 7.4 writes inline scripts added by extensions (sphinx-thebe, togglebutton)
    twice, so every page logs "Identifier 'THEBE_JS_URL' has already been declared"
    (Sphinx issue 13402, fixed in Sphinx 8.2.2; Jupyter Book 1.x pins Sphinx 7).
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # Same file (or inline body) and attributes: a repeat, whatever its priority.
        attributes = tuple(sorted(getattr(js, "attributes", {}).items()))
        key = (
            str(getattr(js, "filename", js) or ""),
            attributes,
        )  # None and "": inline
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app: Any) -> dict[str, Any]:
    """Register the config values and event handlers with Sphinx.

    Args:
        app: the Sphinx application.

    Returns:
        The extension's metadata: its version, safe for parallel reading and writing.
    """
    # inherited by the kernels that run the chapters: no progress bars, and
    # dlcv.runtime.glue hands its values to myst-nb
    os.environ["DLCV_PROGRESS"] = "0"
    os.environ["DLCV_BOOK_BUILD"] = "1"
    # idle OpenMP threads yield the core instead of spinning: on a shared 2-core machine
    # spinning threads slowed a chapter from 35 s to minutes
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    app.add_config_value("dlcv_fingerprint_packages", ["dlcv"], "env")
    app.add_config_value("dlcv_fingerprint_files", list(DEFAULT_FILES), "env")
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _finished)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
