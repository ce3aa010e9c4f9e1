"""dxf: store and fetch arbitrary data in Docker/OCI registries.

A drop-in for python-dxf 12.1.1's module: :class:`DXFBase`, :class:`DXF`, :func:`hash_bytes`,
:func:`hash_file`, :func:`split_digest` and :mod:`dxf.exceptions` keep its names and behaviour.
"""

from . import exceptions
from ._version import __version__
from .client import DXF, DXFBase
from .digest import Digest, hash_bytes, hash_file, split_digest

__all__ = [
    "DXF",
    "DXFBase",
    "Digest",
    "__version__",
    "exceptions",
    "hash_bytes",
    "hash_file",
    "split_digest",
]
