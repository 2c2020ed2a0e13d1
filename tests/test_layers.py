"""The layers of docs/architecture.md hold: `lint-imports` checks the contracts in pyproject.toml.

Core helpers < metadata < runtime < http < api, web, admin, bundles, auth < app and cli; metadata
and runtime never import Flask. Running it here puts it in the README's test command and in CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (pip install -e '.[test]')")
    # The packages are found through PYTHONPATH first, so a copy of the tree is checked as itself.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_every_import_follows_the_layers():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_domain_module_importing_flask_or_a_higher_layer_breaks_the_contracts(tmp_path):
    """The contracts are not vacuous: a copy of the tree with two forbidden imports fails, naming both."""
    for name in ("crm_platform", "admin"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "crm_platform" / "runtime" / "leak.py").write_text(
        "from flask import request  # HTTP in the domain\n"
        "from ..api import register_api  # a lower layer reaching up\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "crm_platform.runtime.leak -> flask" in result.stdout
    assert "crm_platform.runtime.leak -> crm_platform.api" in result.stdout
