"""Definitions as data: their documents and meta-schemas, the field-type registry, the kinds, change
planning and the metadata service. No HTTP here, and no record writes."""
