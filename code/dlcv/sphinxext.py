"""Sphinx extension that keeps the book's execution cache honest.

Jupyter Book (MyST-NB + jupyter-cache) keys a cached notebook only on the notebook's own code
cells (MyST-NB issue 299). Change ``dlcv/knn.py`` and the kNN chapter would keep showing the
outputs of the old code. This extension closes that gap:

* For every executable chapter it computes a *fingerprint*: a hash of the ``dlcv`` modules the
  chapter imports (followed through the imports between ``dlcv`` modules), of the pinned
  requirements and of the runtime settings (device type, budget, seed) that shape the outputs.
* When a chapter's fingerprint differs from the one recorded at the last successful build, its
  jupyter-cache record is removed and Sphinx is told to re-read it, so it executes again.
* Fingerprints are recorded only after a build that finished with no error and no warning.
  After a failed or warning build the saved Sphinx environment is deleted, so a rebuild can
  never turn green without re-checking every page.
* Kernels started by the build inherit ``DLCV_PROGRESS=0``: progress bars show when a person
  runs a chapter, and stay out of the built HTML.

Use: ``sphinx: extra_extensions: [dlcv.sphinxext]`` in ``_config.yml``.
Config values: ``dlcv_fingerprint_packages`` (default ``["dlcv"]``) and
``dlcv_fingerprint_files`` (default ``["requirements.txt", "pyproject.toml"]``, relative to the
configuration directory).
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

__all__ = ["chapter_imports", "fingerprint", "module_dependencies", "setup"]

MANIFEST = "dlcv-fingerprints.json"
_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.M | re.S)


def chapter_imports(text: str, packages: Iterable[str]) -> set[str]:
    """Names of the modules of ``packages`` that a MyST notebook's code cells import.

    Args:
        text: the chapter's MyST Markdown source.
        packages: top-level package names to look for, e.g. ``["dlcv"]``.

    Returns:
        Dotted module names such as ``{"dlcv.knn", "dlcv.runtime"}``. ``import dlcv`` or
        ``from dlcv import knn`` yield ``"dlcv"`` and, for the latter, ``"dlcv.knn"``.
    """
    found: set[str] = set()
    for cell in _CODE_CELL.findall(text):
        lines = cell.splitlines()
        # Drop a YAML options block ("---" / "tags: [...]" / "---") at the top of the cell.
        if (
            lines
            and lines[0].strip() == "---"
            and "---" in (s.strip() for s in lines[1:])
        ):
            lines = lines[[s.strip() for s in lines].index("---", 1) + 1 :]
        # Drop short options (":tags: [...]") and IPython magics, which are not Python.
        lines = [ln for ln in lines if not ln.lstrip().startswith((":", "%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        found |= _imports_of(tree, set(packages), current=None)
    return found


def _imports_of(tree: ast.AST, packages: set[str], current: str | None) -> set[str]:
    """Modules of ``packages`` imported in ``tree``; ``current`` resolves relative imports."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and current:
                base = current.rsplit(".", node.level)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # `from pkg import mod` may import a submodule: keep both candidates.
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
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


def module_dependencies(modules: Iterable[str]) -> dict[str, Path]:
    """The source files of ``modules`` and of every module of the same packages they import.

    A module's parent packages count too (importing ``dlcv.knn`` runs ``dlcv/__init__.py``).
    Names that are not modules (``dlcv.knn.KNearestNeighbor``) are ignored.
    """
    todo = list(modules)
    packages = {m.split(".")[0] for m in todo}
    files: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in files:
            continue
        path = _module_file(name)
        if path is None or path.suffix != ".py":
            continue
        files[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        # Relative imports in a package's __init__ resolve against the package itself.
        current = f"{name}.__init__" if path.name == "__init__.py" else name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        todo += sorted(_imports_of(tree, packages, current=current))
    return dict(sorted(files.items()))


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
        packages: the packages whose imported modules count, e.g. ``["dlcv"]``.
        files: other files that count, e.g. the pinned requirements.
        extra: any other text that counts, e.g. the runtime settings.

    Returns:
        A hex SHA-256 digest.
    """
    digest = hashlib.sha256(extra.encode())
    deps = module_dependencies(chapter_imports(chapter_text, packages))
    for name, path in deps.items():
        digest.update(f"\0module {name}\0".encode() + path.read_bytes())
    for path in files:
        digest.update(f"\0file {Path(path).name}\0".encode())
        digest.update(Path(path).read_bytes() if Path(path).is_file() else b"<missing>")
    return digest.hexdigest()


def _runtime_key() -> str:
    """The runtime settings that shape a chapter's outputs: device type, budget, seed."""
    from dlcv.runtime import get_runtime

    rt = get_runtime()
    return f"device={rt.device.type} budget={rt.budget} seed={rt.seed}"


def _cache_dir(app: Any) -> Path:
    return Path(
        app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache"
    )


def _chapter_fingerprints(app: Any, env: Any) -> dict[str, str]:
    files = [Path(app.confdir) / f for f in app.config.dlcv_fingerprint_files]
    extra = _runtime_key()
    out = {}
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if path.suffix != ".md" or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if not _CODE_CELL.search(text):
            continue
        out[docname] = fingerprint(
            text,
            packages=app.config.dlcv_fingerprint_packages,
            files=files,
            extra=extra,
        )
    return out


def _read_manifest(app: Any) -> dict[str, str]:
    path = _cache_dir(app) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _outdated(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """``env-get-outdated``: chapters whose dependencies changed since the last good build."""
    current = _chapter_fingerprints(app, env)
    app.env.dlcv_fingerprints = current
    recorded = _read_manifest(app)
    stale = [doc for doc, fp in current.items() if recorded.get(doc) != fp]
    if not stale:
        return []
    cache_dir = _cache_dir(app)
    if cache_dir.exists():
        from jupyter_cache import get_cache

        cache = get_cache(cache_dir)
        stale_paths = {str(Path(env.doc2path(doc)).resolve()) for doc in stale}
        for record in cache.list_cache_records():
            if str(Path(record.uri).resolve()) in stale_paths:
                cache.remove_cache(record.pk)
    return [doc for doc in stale if doc not in added]


def _finished(app: Any, exception: Exception | None) -> None:
    """``build-finished``: record fingerprints after a clean build, else force a full re-read."""
    clean = exception is None and getattr(app, "_warncount", 0) == 0
    if not clean:
        (Path(app.doctreedir) / "environment.pickle").unlink(missing_ok=True)
        return
    current = getattr(app.env, "dlcv_fingerprints", None)
    if current is None:
        return
    cache_dir = _cache_dir(app)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(current, indent=1, sort_keys=True))
    os.replace(tmp, cache_dir / MANIFEST)


def _dedupe_scripts(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """``html-page-context``: drop repeated ``<script>`` entries from a page.

    Sphinx 7.4 writes inline scripts added by extensions (sphinx-thebe, togglebutton) twice,
    so every page logs "Identifier 'THEBE_JS_URL' has already been declared" (Sphinx issue
    13402, fixed in Sphinx 8.2.2; Jupyter Book 1.x pins Sphinx 7).
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
    """Register the config values and event handlers with Sphinx."""
    os.environ["DLCV_PROGRESS"] = (
        "0"  # inherited by the kernels that execute the chapters
    )
    app.add_config_value("dlcv_fingerprint_packages", ["dlcv"], "env")
    app.add_config_value(
        "dlcv_fingerprint_files", ["requirements.txt", "pyproject.toml"], "env"
    )
    app.connect("env-get-outdated", _outdated)
    app.connect("build-finished", _finished)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
