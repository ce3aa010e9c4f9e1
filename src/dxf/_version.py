"""The package version, kept in one place for hatch and ``dxf --version``."""

__version__ = "0.1.0"
