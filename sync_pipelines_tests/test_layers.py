"""The package's layers: every module imports on its own, and the store imports no domain.

Layers, bottom up: the clients (marketo/, salesforce/), the store (all SQL), the domains (people/,
activities/, tasks/, unsubscribes/...), then definitions.py. An import cycle only shows when a module of
the cycle is the first one imported, so each module is imported first, in a process where no module of
the package is loaded yet.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import sync_pipelines

PACKAGE_DIR = Path(sync_pipelines.__file__).parent
STORE_DIR = PACKAGE_DIR / "store"

# One interpreter per batch; it loads the third-party libraries once, then forks a child per module, so
# each module is imported first in a process where no sync_pipelines module is loaded (a cycle fails).
_IMPORT_EACH_ON_ITS_OWN = r"""
import importlib, json, os, sys, traceback
for library in json.loads(sys.argv[2]):  # loaded once here: the children then run only the package's code
    try:
        importlib.import_module(library)
    except ImportError:
        pass  # an optional library: the child that needs it reports the failure
assert not [name for name in sys.modules if name.startswith("sync_pipelines")]
failures = {}
for module in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failures[module] = output or f"exit status {status}"
print(json.dumps(failures))
"""


def package_modules() -> list[str]:
    """Every module of sync_pipelines, from the files (importing packages to list them would hide cycles)."""
    modules = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    modules = package_modules()
    assert "sync_pipelines.store.activities" in modules and "sync_pipelines.sandbox.marketo_app" in modules
    libraries = sorted({
        module
        for path in PACKAGE_DIR.rglob("*.py")
        for module in _imported_modules(path.read_text(), _package_of(path))
        if module and not module.startswith("sync_pipelines") and module.split(".")[0] not in {"__future__"}
    } - set(modules))
    batches = [modules[start::2] for start in range(2)]  # two interpreters at once
    processes = [
        subprocess.Popen([sys.executable, "-c", _IMPORT_EACH_ON_ITS_OWN, json.dumps(batch), json.dumps(libraries)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for batch in batches
    ]
    failures = {}
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
        failures.update(json.loads(stdout.strip().splitlines()[-1]))
    assert not failures, "\n\n".join(f"{module}:\n{trace}" for module, trace in failures.items())


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts[:-1])


def _imported_modules(source: str, package: str) -> set[str]:
    """Every module a file of `package` imports, at the top or inside functions (relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _above_the_store() -> list[str]:
    """The parts of the package the store may not import: every domain package (any subpackage but the
    store and the two clients), the sandbox, and the modules that assemble the code location."""
    packages = [p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").exists()]
    above = [name for name in packages if name not in {"store", "marketo", "salesforce"}]
    return [f"sync_pipelines.{name}" for name in [*above, "definitions", "resources", "demo", "dev", "local"]]


def test_no_store_module_imports_a_domain_package():
    forbidden = _above_the_store()
    assert "sync_pipelines.activities" in forbidden and "sync_pipelines.people" in forbidden
    offences = sorted(
        f"{path.relative_to(PACKAGE_DIR)} imports {module}"
        for path in STORE_DIR.rglob("*.py")
        for module in _imported_modules(path.read_text(), _package_of(path))
        if any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden)
    )
    assert not offences, "the store may not import the layers above it:\n" + "\n".join(offences)


def test_the_import_scan_sees_function_level_and_relative_imports():
    """The check above would pass vacuously if the scan missed imports; this proves it does not."""
    source = "def f():\n    from sync_pipelines.activities.types import X\nfrom ..people import fields\n"
    found = _imported_modules(source, "sync_pipelines.store")
    assert "sync_pipelines.activities.types" in found
    assert "sync_pipelines.people.fields" in found
