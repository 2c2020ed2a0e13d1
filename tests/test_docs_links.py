"""The documents can be followed from a clone: every relative link names a file or folder of the
repository, and no command runs Python from one machine's absolute virtualenv path."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md"),
               *(ROOT / "templates_library").glob("*/README.md")])
#: [text](target) and [text](target "title"); images too.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
#: An absolute path into a virtualenv, e.g. /work/venv/bin/python or /home/x/.venv/bin/crm.
ABSOLUTE_VENV = re.compile(r"(?:^|[\s`'\"(=])(/(?:[^\s/`'\"()]+/)*\.?venv[^\s`'\"()]*)", re.M)


def relative_links(text: str) -> list[str]:
    out = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # http:, mailto:, an anchor in the same page
        out.append(target.split("#", 1)[0])
    return out


def test_the_documents_are_there():
    assert ROOT / "docs" / "architecture.md" in DOCS
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_in_the_repository(doc):
    broken = []
    for target in relative_links(doc.read_text(encoding="utf-8")):
        path = (doc.parent / target).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_names_an_absolute_virtualenv_path(doc):
    assert ABSOLUTE_VENV.findall(doc.read_text(encoding="utf-8")) == []


def test_the_checks_catch_what_they_are_for():
    assert relative_links("see [design](../shared/DESIGN.md), [x](https://x.org) and [top](#set-up)") == [
        "../shared/DESIGN.md"]
    assert ABSOLUTE_VENV.findall("/work/venv/bin/python bench/x.py\nrun `/home/a/.venv/bin/crm init`") == [
        "/work/venv/bin/python", "/home/a/.venv/bin/crm"]
    assert ABSOLUTE_VENV.findall(".venv/bin/python bench/x.py and `.venv/bin/crm`") == []
