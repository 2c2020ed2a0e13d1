"""Writes the template bundles deterministically: ``python -m templates_library._build``."""
