"""Command-line entry points (Qt-free): ``neuroreview-classify``."""
