"""Industry templates: each folder holds ``bundle.json`` (configuration and sample data, no code) and a README.

``_build/`` holds the deterministic generator the bundles were written with (``python -m
templates_library._build``); the platform only ever reads the bundles.
"""
