"""livetally: exact livestream audience analytics across partner platforms."""

__version__ = "0.1.0"
