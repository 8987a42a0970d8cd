"""Resolvers and per-request loaders: they turn the schema's fields into connector calls."""
