"""Shipped declarative mappings (YAML) for the mapped-JSON source; see ``mapped_json``."""
