"""livetally: exact livestream audience analytics across partner platforms."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("livetally")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
