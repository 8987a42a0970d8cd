"""`python -m citizen_graph` runs the console script."""

from citizen_graph.cli import main

main()
