"""The code a job runs: the modules its script imports, followed through the library, each with a
digest that changes when the module's code changes and not when only its comments, docstrings or
layout do. A job is given one digest of them all (its `code` param: what Snakemake compares to
rerun it) and records each module's (what the audit compares to name the modules that changed).

A digest is the sha256 of the module as Python parses it (`ast`), docstrings removed, written back
out by `ast.unparse`: comments, blank lines, line breaks, quoting and docstrings leave it as it is;
any change to a statement, name or value changes it. Only imports that the source spells out are
followed (`import a.b`, `from a.b import c`, relative imports, at any depth of the file, so imports
inside functions count too); modules imported by name at run time (`importlib`) are not seen.

Every Snakemake start (a dry run, a local run, both starts of every SLURM job) and every job that
records its code needs the digests of some hundred modules, and parsing them all is a sizeable
part of a start's CPU time (bench/snakemake_start.py). What one parse gives is kept on disk,
under the sha256 of the module's source and the Python version whose `ast` made it
(`ast.unparse` may write another text in another one), in $XDG_CACHE_HOME/gmnrep (default
~/.cache/gmnrep): an edited module has another key, so an entry is never out of date. An entry
that cannot be read is parsed again and written anew; where the folder cannot be written, every
start parses.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from gmnrep.core.atomic import atomic_path
from gmnrep.core.hashing import config_hash


@dataclass(frozen=True)
class _Module:
    digest: str
    # (level, module, names) of each import statement: `from ..a import b, c` is (2, "a", ("b", "c"))
    imports: tuple[tuple[int, str, tuple[str, ...]], ...]


# Changed whenever what an entry holds or how a digest is made changes: entries of another version are not read.
CACHE_VERSION = 1


def cache_folder() -> Path:
    """Where parsed modules are kept (see the module's docstring)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return root / "gmnrep" / f"code-v{CACHE_VERSION}-python{python}"


@cache
def _read_module(source: bytes) -> _Module:
    """The digest and the import statements of a module's source: kept on disk, else parsed."""
    entry = cache_folder() / f"{hashlib.sha256(source).hexdigest()}.json"
    try:
        kept = json.loads(entry.read_text())
        return _Module(kept["digest"], tuple((level, module, tuple(names)) for level, module, names in kept["imports"]))
    except (OSError, ValueError, KeyError, TypeError):
        module = _parse_module(source)
    _keep(entry, {"digest": module.digest, "imports": module.imports})
    return module


def _keep(entry: Path, content: dict) -> None:
    """`content` written to `entry` whole (jobs that start together read a complete entry or none);
    nothing where the folder cannot be written."""
    try:
        with atomic_path(entry) as written:
            written.write_text(json.dumps(content))
    except OSError:
        pass


def _parse_module(source: bytes) -> _Module:
    """The digest and the import statements of a module's source, from one parse and one walk."""
    tree = ast.parse(source)
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [(0, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append((node.level, node.module or "", tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    # a body cannot be empty: a function that held only its docstring keeps `pass`
                    node.body = body[1:] or [ast.Pass()]
    return _Module(hashlib.sha256(ast.unparse(tree).encode()).hexdigest(), tuple(imports))


def module_digest(path: Path) -> str:
    """sha256 of the module's code at `path`, blind to comments, docstrings and layout."""
    return _read_module(Path(path).read_bytes()).digest


def _module_file(name: str, roots: tuple[Path, ...]) -> Path | None:
    """The source of module `name` (dotted) under one of `roots`: a .py file or a package's __init__.py."""
    relative = Path(*name.split("."))
    for root in roots:
        for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _package_of(path: Path, roots: tuple[Path, ...]) -> str:
    """The dotted package that holds the module at `path` (what a relative import starts from)."""
    for root in roots:
        if path.is_relative_to(root):
            parts = path.relative_to(root).with_suffix("").parts
            return ".".join(parts[:-1])
    raise ValueError(f"{path} is under none of {roots}")


@cache
def _imported_files(path: Path, source: bytes, roots: tuple[Path, ...]) -> tuple[Path, ...]:
    """The files under `roots` that the module at `path` (whose text is `source`) may import: each
    imported name and its parent packages (importing a.b.c runs a/__init__.py and a/b/__init__.py
    first), and for `from m import x` also m.x, which is a module when x is one."""
    names = set()
    for level, module, members in _read_module(source).imports:
        if level:
            package = _package_of(path, roots).split(".")
            module = ".".join(part for part in [*package[: len(package) - level + 1], module] if part)
        for target in [module, *(f"{module}.{member}" if module else member for member in members)]:
            parts = target.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return tuple(source for source in map(partial(_module_file, roots=roots), sorted(names)) if source)


def imported_files(script: Path, roots: list[Path]) -> list[Path]:
    """The source files under `roots` that `script` imports, directly or through each other, sorted;
    modules from elsewhere (the standard library, installed packages) are left out."""
    roots_ = tuple(Path(root).resolve() for root in roots)
    found: set[Path] = set()
    pending = [Path(script).resolve()]
    while pending:
        path = pending.pop()
        for source in _imported_files(path, path.read_bytes(), roots_):
            if source not in found:
                found.add(source)
                pending.append(source)
    return sorted(found)


def code_digests(script: Path, roots: list[Path]) -> dict[str, str]:
    """Each module `script` imports from `roots` (by its path relative to its root, so the same for any
    checkout) -> its digest (see `module_digest`), in path order."""
    roots_ = [Path(root).resolve() for root in roots]
    digests = {}
    for source in imported_files(script, roots_):
        root = next(root for root in roots_ if source.is_relative_to(root))
        digests[str(source.relative_to(root))] = module_digest(source)
    return dict(sorted(digests.items()))


def script_code(script: Path, library: Path) -> dict[str, str]:
    """code_digests of a rule's script: the modules it imports from the library (`library`: the
    folder that holds the gmnrep package) and from its own folder (the scripts' helpers)."""
    return code_digests(script, [library, Path(script).parent])


def code_digest(digests: dict[str, str]) -> str:
    """One digest of a script's code_digests (module names and digests): it changes when any of
    the modules does, or when the script comes to import another one or no longer imports one."""
    return config_hash(digests)


def changed_modules(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """The modules whose digests differ between two `code_digests`, or that one of them lacks."""
    return sorted(name for name in recorded.keys() | now.keys() if recorded.get(name) != now.get(name))
