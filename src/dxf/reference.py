"""Repository names, tags, registry hosts and Docker Hub's naming rules.

Names and tags end up in URL paths (``/v2/<name>/manifests/<tag>``), so they are validated against
the OCI distribution spec before anything is sent: a name that passes cannot carry ``..``, ``%2f``,
``//``, spaces or other characters that would change which URL we hit.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .digest import ALGORITHM_HEX_LENGTHS, Digest
from .exceptions import DXFInvalidReferenceError

#: Registry used when a reference names none, as ``docker pull`` does.
DEFAULT_REGISTRY = "docker.io"
#: Where Docker Hub's registry API actually lives; ``docker.io`` itself only redirects to the website.
DOCKER_HUB_API_HOST = "registry-1.docker.io"
#: Maximum repository name length (distribution spec; longer names are rejected by many registries).
MAX_REPOSITORY_LENGTH = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# Any syntactically possible digest (OCI image spec grammar), whether or not we support its algorithm.
_DIGEST_SHAPE_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_REGISTRY_RE = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
)
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io"})
_ECHO_LIMIT = 80


def validate_repository(name: str) -> str:
    """Return ``name`` if it is a valid repository name; raise :class:`DXFInvalidReferenceError`."""
    if not isinstance(name, str):
        raise DXFInvalidReferenceError(f"invalid repository name: {type(name).__name__} is not a string")
    if len(name) > MAX_REPOSITORY_LENGTH:
        raise DXFInvalidReferenceError(
            f"invalid repository name {_echo(name)}: {len(name)} characters, "
            f"at most {MAX_REPOSITORY_LENGTH} allowed"
        )
    if not _REPOSITORY_RE.fullmatch(name):
        raise DXFInvalidReferenceError(
            f"invalid repository name {_echo(name)}: expected lowercase letters and digits, "
            "separated by '.', '_', '__' or '-' and grouped into '/'-separated path components"
        )
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag (alias); raise :class:`DXFInvalidReferenceError`."""
    if not isinstance(tag, str):
        raise DXFInvalidReferenceError(f"invalid tag: {type(tag).__name__} is not a string")
    if not _TAG_RE.fullmatch(tag):
        raise DXFInvalidReferenceError(
            f"invalid tag {_echo(tag)}: expected 1 to 128 characters from [A-Za-z0-9._-], "
            "not starting with '.' or '-'"
        )
    return tag


#: Why a host string is not ``host[:port]``, checked in order: the first match names the problem.
_HOST_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://"), "it has a scheme"),
    (re.compile(r"@"), "it has a user name or password"),
    (re.compile(r"[/?#]"), "it has a path or query"),
    (re.compile(r"^[^\[]*:.*:"), "an IPv6 address needs brackets"),
)
_HOST_PORT_RE = re.compile(r"(?P<name>\[[^\]]*\]|[^:]*)(?::(?P<port>[0-9]+))?")
_MAX_PORT = 65535


def host_problem(host: str) -> str | None:
    """Why ``host`` is not ``host[:port]`` (``"it has a scheme"``...), or None when it is."""
    if not isinstance(host, str):
        return "it is not a string"
    for pattern, problem in _HOST_PROBLEMS:
        if pattern.search(host):
            return problem
    if not _REGISTRY_RE.fullmatch(host):
        return "it is not a valid host name"
    parts = _HOST_PORT_RE.fullmatch(host)
    assert parts is not None  # _REGISTRY_RE matched, so this split does
    name, port = parts.group("name"), parts.group("port")
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return "the bracketed address is not an IPv6 address"
    if port and not 1 <= int(port) <= _MAX_PORT:
        return f"the port must be 1 to {_MAX_PORT}"
    return None


def is_digest_reference(s: str) -> bool:
    """Whether ``s`` has the shape of a digest (``algorithm:encoded``) rather than of a tag.

    Only the shape is checked, so callers can route the string to :meth:`Digest.parse`, which then
    reports an unsupported algorithm or bad hex precisely instead of calling it an invalid tag.
    """
    return isinstance(s, str) and _DIGEST_SHAPE_RE.fullmatch(s) is not None


def normalize_host(host: str) -> str:
    """The host to send registry API requests to.

    ``docker.io`` and ``index.docker.io`` (any case, any port) become ``registry-1.docker.io`` with
    the port kept; every other host is returned unchanged.
    """
    name, sep, port = host.partition(":")
    if name.lower() in _DOCKER_HUB_ALIASES:
        return DOCKER_HUB_API_HOST + sep + port
    return host


def repository_path(host: str, repo: str) -> str:
    """The repository path to use in API URLs on ``host``.

    Docker Hub keeps official images under ``library/``, so a one-component name on a host whose
    name ends with ``docker.io`` gets that prefix. The suffix test (not an exact host match) is what
    python-dxf does; we also ignore the port and case, which python-dxf does not. ``repo`` is not
    validated here: call :func:`validate_repository` first.
    """
    name = host.partition(":")[0].lower()
    if name.endswith("docker.io") and "/" not in repo:
        return "library/" + repo
    return repo


@dataclass(frozen=True)
class Reference:
    """A validated ``[registry/]repository[:tag][@digest]`` reference.

    ``repository`` is kept as written (no ``library/``): :attr:`path` gives the form used in URLs.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.registry, str) or host_problem(self.registry) is not None:
            raise DXFInvalidReferenceError(
                f"invalid registry {_echo(self.registry)}: expected host or host:port"
            )
        validate_repository(self.repository)
        if self.tag is not None:
            validate_tag(self.tag)
        if self.digest is not None and not isinstance(self.digest, Digest):
            raise DXFInvalidReferenceError(f"invalid digest {_echo(self.digest)}: expected a Digest")

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse ``[registry/]repository[:tag][@digest]``.

        The first path component is the registry when it contains ``.`` or ``:`` or is
        ``localhost`` (Docker's rule); otherwise the registry is ``docker.io``. Raises
        :class:`DXFInvalidReferenceError` for a malformed reference (or
        :class:`~dxf.exceptions.DXFUnexpectedDigestMethodError` for an unsupported digest algorithm).
        """
        if not isinstance(text, str):
            raise DXFInvalidReferenceError(f"invalid reference: {type(text).__name__} is not a string")
        rest, at, digest_text = text.partition("@")
        digest = Digest.parse(digest_text) if at else None
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = DEFAULT_REGISTRY, rest
        tag = None
        colon = path.rfind(":")
        if colon > path.rfind("/"):
            path, tag = path[:colon], path[colon + 1 :]
        return cls(registry, path, tag, digest)

    @property
    def host(self) -> str:
        """The host serving the registry API (see :func:`normalize_host`)."""
        return normalize_host(self.registry)

    @property
    def path(self) -> str:
        """The repository path used in API URLs (see :func:`repository_path`)."""
        return repository_path(self.registry, self.repository)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def _echo(value: object) -> str:
    """``repr`` of a rejected value, cut short so a huge input cannot flood logs or messages."""
    text = repr(value)
    return text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 3] + "..."


#: The transports ``dxf copy`` understands, named as skopeo names them.
DOCKER_TRANSPORT = "docker://"
OCI_TRANSPORT = "oci:"
#: ``oci:PATH@DIGEST``: only an ``@`` followed by an algorithm we know starts a digest, so a layout path
#: may itself hold ``@`` (``oci:/data/v1@2:alias`` is the path ``/data/v1@2``).
_OCI_DIGEST_RE = re.compile(
    r"(?P<path>.+)@(?P<digest>(?:" + "|".join(sorted(ALGORITHM_HEX_LENGTHS)) + r"):[a-zA-Z0-9=_-]+)"
)


@dataclass(frozen=True)
class TransportReference:
    """A place and a manifest in skopeo's transport syntax, validated.

    ``docker://HOST/REPO:ALIAS`` or ``docker://HOST/REPO@sha256:...`` (``registry`` set, a one-part
    host-less name means Docker Hub as for :meth:`Reference.parse`); ``oci:PATH:ALIAS`` or
    ``oci:PATH@sha256:...`` (``layout`` set: one OCI image layout directory; as in skopeo, PATH ends
    at its first ``:``). Exactly one of ``tag`` and ``digest`` is set: a copy always says what it
    copies.
    """

    tag: str | None
    digest: Digest | None
    registry: Reference | None = None
    layout: str | None = None

    @property
    def reference(self) -> str:
        """The tag, or the digest as a string: what a store's ``resolve`` takes."""
        return self.tag if self.tag is not None else str(self.digest)

    @classmethod
    def parse(cls, text: str) -> TransportReference:
        """Parse ``docker://...`` or ``oci:...``; :class:`DXFInvalidReferenceError` otherwise."""
        if not isinstance(text, str):
            raise DXFInvalidReferenceError(f"invalid reference: {type(text).__name__} is not a string")
        if text.startswith(DOCKER_TRANSPORT):
            return cls._docker(text[len(DOCKER_TRANSPORT) :])
        if text.startswith(OCI_TRANSPORT):
            return cls._oci(text[len(OCI_TRANSPORT) :])
        raise DXFInvalidReferenceError(
            f"invalid reference {_echo(text)}: expected docker://HOST/REPO:ALIAS or oci:PATH:ALIAS "
            "(or @sha256:... instead of :ALIAS)"
        )

    @classmethod
    def _docker(cls, rest: str) -> TransportReference:
        parsed = Reference.parse(rest)
        if (parsed.tag is None) == (parsed.digest is None):
            raise DXFInvalidReferenceError(
                f"invalid reference docker://{_echo(rest)[1:-1]}: give either :ALIAS or @DIGEST, not "
                f"{'both' if parsed.tag else 'neither'}"
            )
        return cls(parsed.tag, parsed.digest, registry=parsed)

    @classmethod
    def _oci(cls, rest: str) -> TransportReference:
        by_digest = _OCI_DIGEST_RE.fullmatch(rest)
        if by_digest is not None and ":" not in by_digest.group("path"):
            return cls(None, Digest.parse(by_digest.group("digest")), layout=by_digest.group("path"))
        path, colon, tag = rest.partition(":")
        if not path or not colon:
            raise DXFInvalidReferenceError(
                f"invalid reference oci:{_echo(rest)[1:-1]}: expected oci:PATH:ALIAS or oci:PATH@DIGEST"
            )
        return cls(validate_tag(tag), None, layout=path)

    def __str__(self) -> str:
        if self.registry is not None:
            return DOCKER_TRANSPORT + str(self.registry)
        suffix = f":{self.tag}" if self.tag is not None else f"@{self.digest}"
        return f"{OCI_TRANSPORT}{self.layout}{suffix}"
