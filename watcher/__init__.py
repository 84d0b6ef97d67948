"""watcher: read Chinese newspaper pages, split them into articles, watch topics."""

__version__ = "0.1.0"
