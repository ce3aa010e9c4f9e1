"""dxf: store and fetch arbitrary data in Docker/OCI registries.

A drop-in for python-dxf 12.1.1's module: :class:`DXFBase`, :class:`DXF`, :func:`hash_bytes`,
:func:`hash_file`, :func:`split_digest` and :mod:`dxf.exceptions` keep its names and behaviour.
New: :func:`copy` (a manifest and all it reaches, between any two stores) and :class:`OCILayout`
(an OCI image layout directory as a store).
"""

from . import exceptions
from ._version import __version__
from .client import DXF, DXFBase
from .copy import copy
from .digest import Digest, hash_bytes, hash_file, split_digest
from .layout import OCILayout

__all__ = [
    "DXF",
    "DXFBase",
    "Digest",
    "OCILayout",
    "__version__",
    "copy",
    "exceptions",
    "hash_bytes",
    "hash_file",
    "split_digest",
]
