"""citizen-graph: one GraphQL schema over the French State APIs that hold citizens' data."""

__version__ = "0.1.0"
