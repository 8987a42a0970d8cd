"""GraphiQL served by the gateway itself: the page (page.py) and the assets it loads
(assets.py), vendored from their npm releases, so that it works with no internet."""

from citizen_graph.graphiql.assets import GraphiQLAssets
from citizen_graph.graphiql.page import graphiql_page

__all__ = ["GraphiQLAssets", "graphiql_page"]
