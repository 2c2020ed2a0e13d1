"""The industry template library: bundles under ``templates_library/<name>/bundle.json``."""
from __future__ import annotations

from pathlib import Path

from ..errors import NotFound, error
from .format import check, parse


def library() -> Path:
    import templates_library
    return Path(templates_library.__file__).parent


def names() -> list[str]:
    return sorted(p.parent.name for p in library().glob("*/bundle.json"))


def path_of(name: str) -> Path:
    if name not in names():
        raise NotFound([error("name", "not_found", f"no template '{name}'; templates: {', '.join(names())}")])
    return library() / name / "bundle.json"


def load(name: str) -> dict:
    return check(parse(path_of(name).read_bytes()))


def readme(name: str) -> str:
    path = path_of(name).with_name("README.md")
    return path.read_text(encoding="utf-8") if path.exists() else ""
