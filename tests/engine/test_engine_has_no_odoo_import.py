"""The plain-Python layers (``<addon>/engine``, ``<addon>/lib``) never import Odoo.

They run under pytest without Odoo and inside Odoo as ``odoo.addons.<addon>.engine``, so
they must not import ``odoo`` and must reach their siblings by relative imports only: an
absolute ``maildesk_mail_client.engine.x`` breaks inside Odoo, a bare ``import x`` works
nowhere.
"""
import ast
import re
import sys
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
PLAIN_LAYERS = ("engine", "lib")
ODOO_IMPORT = re.compile(r"^\s*(from|import)\s+odoo\b")


def addons():
    return sorted(path for path in REPO_DIR.iterdir() if (path / "__manifest__.py").is_file())


def plain_files():
    return sorted(file for addon in addons() for layer in PLAIN_LAYERS for file in (addon / layer).rglob("*.py"))


def module_names(package_dir):
    """Names a bare ``import x`` inside ``package_dir`` would mean to reach as a sibling."""
    return {path.stem for path in package_dir.glob("*.py")} | {
        path.name for path in package_dir.iterdir() if (path / "__init__.py").is_file()}


def absolute_imports(tree):
    """``(line, top-level module)`` of every absolute import in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def rel(path):
    return str(path.relative_to(REPO_DIR))


def test_plain_layers_exist():
    """The walk finds the engine, so the checks below are not vacuous."""
    assert any("/engine/" in rel(path) for path in plain_files())


@pytest.mark.parametrize("path", plain_files(), ids=rel)
def test_no_odoo_import(path):
    """No line of an engine or lib module imports odoo, not even lazily."""
    offending = [f"{rel(path)}:{number}: {line.strip()}"
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if ODOO_IMPORT.match(line)]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offending += [f"{rel(path)}:{number}: import of {top}" for number, top in absolute_imports(tree) if top == "odoo"]
    assert not offending, "\n".join(offending)


@pytest.mark.parametrize("path", plain_files(), ids=rel)
def test_sibling_imports_are_relative(path):
    """Addon and sibling modules are imported relatively (``from .x import y``)."""
    addon_names = {addon.name for addon in addons()}
    # A sibling named like a stdlib module (engine/secrets.py) cannot be told apart from
    # the stdlib one by name: an absolute ``import secrets`` means the stdlib, correctly.
    siblings = module_names(path.parent) - set(sys.stdlib_module_names)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offending = [f"{rel(path)}:{number}: absolute import of {top}" for number, top in absolute_imports(tree)
                 if top in addon_names or top in siblings]
    assert not offending, "\n".join(offending)
