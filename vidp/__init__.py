"""vidp: one video in, every analysis out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vidp")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
