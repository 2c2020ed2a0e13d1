"""A low-code, metadata-driven CRM platform (the design card's ``platform/``; see the README)."""
from .app import create_app

__all__ = ["create_app"]
