"""Bridges between htdag and other agent frameworks, one module each, imported
by name (``from htdag.integrations.langgraph import htdag_tool``). Nothing here is
imported by ``import htdag``: each module imports its framework itself."""
