"""Configuration bundles: one deterministic JSON document carrying definitions and sample data.

``format``: the document, its meta-schema (``bundle.schema.json``), serialisation and checksum;
``exporter``: the instance as a bundle; ``importer``: plan and apply a bundle through the metadata
choke point, all or nothing; ``merge``: the three-way merge that keeps local customisations;
``installs``: what each installed bundle put here; ``sample``: sample records; ``templates``: the
industry template library; ``api``: ``/api/bundle``.
"""
