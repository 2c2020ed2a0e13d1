"""Write ``templates_library/<name>/bundle.json`` for every template (deterministic: same bytes each run)."""
from __future__ import annotations

import sys
from pathlib import Path

from crm_platform.bundles.format import FORMAT, FORMAT_VERSION, seal, serialise

from . import b2b, ecommerce, education

TEMPLATES = {"ecommerce": ecommerce, "education": education, "b2b": b2b}
LIBRARY = Path(__file__).resolve().parent.parent


def build(module) -> dict:
    return seal({"format": FORMAT, "format_version": FORMAT_VERSION, **module.BUNDLE,
                 "definitions": module.definitions(), "sample_data": module.sample()})


def main(argv: list[str]) -> int:
    check_only = "--check" in argv
    stale = []
    for name, module in TEMPLATES.items():
        text = serialise(build(module))
        path = LIBRARY / name / "bundle.json"
        if check_only:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path.relative_to(LIBRARY.parent)}: {len(text):,} bytes")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python -m templates_library._build)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
