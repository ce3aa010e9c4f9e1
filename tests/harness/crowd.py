"""Give a real (filesystem-backed) distribution registry thousands of tags or repositories in seconds.

Setting 10,000 tags through the API costs one manifest PUT each; distribution keeps a tag as two
one-line link files in its storage, so writing those files directly is two orders of magnitude
faster, and the registry reads them back on every request (the harness configures no cache):

* a tag ``T`` of repository ``R``: ``repositories/R/_manifests/tags/T/current/link`` and
  ``.../tags/T/index/sha256/<hex>/link``, each holding the manifest's digest (the manifest itself
  must already be in ``R``: push it once through the API);
* a repository ``R`` for the catalog: a ``repositories/R/_layers/`` directory (the catalog lists the
  directories that hold one); a layer link ``_layers/sha256/<hex>/link`` to a blob the registry
  already has makes the blob readable in ``R`` too.

These paths are facts about distribution 2.x's storage layout (its ``registry/storage/paths.go``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from harness.registry import RegistryProcess

__all__ = ["write_repositories", "write_tags"]


def _repositories(registry: RegistryProcess) -> str:
    return os.path.join(registry.storage_dir, "docker", "registry", "v2", "repositories")


def _write_link(directory: str, digest: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "link"), "w", encoding="ascii") as link:
        link.write(digest)


def write_tags(registry: RegistryProcess, repo: str, tags: Iterable[str], manifest_digest: str) -> None:
    """Point each of ``tags`` in ``repo`` at the manifest ``manifest_digest`` (already in ``repo``)."""
    algorithm, hex_digest = manifest_digest.split(":", 1)
    root = os.path.join(_repositories(registry), *repo.split("/"), "_manifests", "tags")
    for tag in tags:
        _write_link(os.path.join(root, tag, "current"), manifest_digest)
        _write_link(os.path.join(root, tag, "index", algorithm, hex_digest), manifest_digest)


def write_repositories(registry: RegistryProcess, repos: Iterable[str], blob_digest: str) -> None:
    """Create each of ``repos`` holding the blob ``blob_digest`` (already in the registry)."""
    algorithm, hex_digest = blob_digest.split(":", 1)
    root = _repositories(registry)
    for repo in repos:
        _write_link(os.path.join(root, *repo.split("/"), "_layers", algorithm, hex_digest), blob_digest)
