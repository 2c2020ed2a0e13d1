"""A low-code, metadata-driven CRM platform (the design card's ``platform/``; see the README).

The application factory is ``crm_platform.app.create_app``. This package imports nothing itself, so
that importing a lower layer (``crm_platform.metadata``) does not load the web application.
"""
