"""honcho-server: a self-hostable memory server speaking the Honcho v3 HTTP API."""

__version__ = "0.1.0"
