"""The ``dxf`` commands: each ``cmd_*`` method of :class:`Runner` runs one command of
:data:`~dxf.cli.table.COMMANDS` against a client; :func:`execute` checks the arguments and the
environment, builds the client and runs the command. Failures propagate to :mod:`dxf.main`."""

from __future__ import annotations

import contextlib
import errno
import getpass
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, cast

import requests

from .. import exceptions as dxf_exceptions
from ..client import DXF, DXFBase, authenticate_as
from ..copy import copy
from ..credentials import erase_login, store_login
from ..digest import hash_file
from ..download import BlobReader
from ..layout import OCILayout
from ..manifest import MAX_MANIFEST_SIZE
from ..ordered import OrderedBlobReader
from ..reference import TransportReference
from ..store import Store
from ..transfer import DEFAULT_DOWNLOAD_CHUNK
from .environment import Settings, progress_wanted, read_settings, resolve_credentials
from .grammar import Invocation, UsageError, check_arguments

if TYPE_CHECKING:  # tqdm costs ~25 ms of start-up; it is imported only when bars are drawn
    from .progress import ProgressBars


# -- output ------------------------------------------------------------------------------------------
def _stdout() -> IO[str]:
    """``sys.stdout``, or a one-line ``OSError`` when the command was started with it closed (``>&-``)."""
    if sys.stdout is None:
        raise OSError(errno.EBADF, "standard output is closed")
    return sys.stdout


def _line(text: str) -> None:
    _stdout().write(text + "\n")


def _emit(value: Any) -> None:
    """A per-alias result: JSON (sorted keys) for a multi-platform dict, else one item per line."""
    if isinstance(value, dict):
        _line(json.dumps(value, sort_keys=True))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _line(str(item))
    else:
        _line(str(value))


def _json_document(value: Any) -> None:
    """``--json``: the command's whole result as one JSON document (sorted keys) and a newline."""
    _line(json.dumps(value, sort_keys=True))


def _binary_stdout() -> IO[bytes]:
    """Where blob bytes go: ``sys.stdout.buffer``, or ``sys.stdout`` itself when it has none."""
    stdout = _stdout()
    stdout.flush()
    return cast(IO[bytes], getattr(stdout, "buffer", stdout))


def _chunks_for(chunks: Iterable[bytes], out: IO[bytes]) -> Iterable[bytes | memoryview]:
    """A blob's chunks for writing to ``out``: views into the reader's reused buffers when ``out`` is
    one of Python's own binary streams (they copy or write a chunk before returning, so the buffer
    may be refilled after), else ``bytes`` (a replaced ``sys.stdout`` may keep what it is given)."""
    if isinstance(chunks, BlobReader | OrderedBlobReader) and isinstance(
        out, (io.BufferedWriter, io.FileIO, io.BytesIO)
    ):
        return chunks.views()
    return chunks


def _read_stdin_manifest() -> str:
    """The manifest on standard input, read up to :data:`~dxf.manifest.MAX_MANIFEST_SIZE` bytes (one
    more to notice a larger one): memory stays bounded whatever is piped in."""
    stdin = sys.stdin
    if stdin is None:
        raise dxf_exceptions.DXFManifestError("no manifest: standard input is closed")
    data: bytes | str = getattr(stdin, "buffer", stdin).read(MAX_MANIFEST_SIZE + 1)
    if len(data) > MAX_MANIFEST_SIZE:
        raise dxf_exceptions.DXFManifestError(
            f"manifest on standard input is larger than {MAX_MANIFEST_SIZE // (1024 * 1024)} MiB"
        )
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise dxf_exceptions.DXFManifestError("manifest on standard input is not UTF-8 text") from None


@dataclass(frozen=True)
class Subject:
    """What one result of a command is about: an alias (``alias``), the manifest read from standard
    input (``manifest``), or, for commands that take blobs, a blob digest (``blob``). Exactly one is
    set; ``alias`` and ``manifest`` are passed as they are to ``get_alias``/``get_digest``."""

    alias: str | None = None
    manifest: str | None = None
    blob: str | None = None
    #: The argument as given (``-`` for the manifest on standard input): the key of ``--json`` output.
    given: str = field(default="-", compare=False)


def subjects(args: Sequence[str], *, blobs: bool = False) -> Iterator[Subject]:
    """The manifest on standard input when there are no arguments, else each argument in order: an
    alias name, or with ``blobs`` a blob digest unless written ``@alias``. Lazy, so that a command
    prints each result before the next argument can fail, as python-dxf does."""
    if not args:
        yield Subject(manifest=_read_stdin_manifest())
    for name in args:
        if not blobs:
            yield Subject(alias=name, given=name)
        elif name.startswith("@"):
            yield Subject(alias=name[1:], given=name)
        else:
            yield Subject(blob=name, given=name)


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _recorded(result: Any, sizes: dict[str, int]) -> Any:
    """``get_alias(..., sizes=True)``'s result as digests only (a list, or a dict of lists by
    platform), each digest's size recorded in ``sizes``."""
    if isinstance(result, dict):
        return {key: _recorded(value, sizes) for key, value in result.items()}
    digests = []
    for digest, size in result:
        sizes[digest] = size
        digests.append(digest)
    return digests


def _output_directory(path: str) -> None:
    """Create ``path`` for ``pull-blobs`` if needed; a file in the way is "not a directory"."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
    os.makedirs(path, exist_ok=True)


# -- the commands ------------------------------------------------------------------------------------
class Runner:
    """Runs one parsed command against a client. A command whose arguments name their own places
    (``copy``) has no DXF_HOST client or settings: it is given the environment instead."""

    def __init__(
        self,
        inv: Invocation,
        settings: Settings | None,
        client: DXFBase | None,
        progress: ProgressBars | None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.inv = inv
        self._settings = settings
        self._client = client
        self.progress = progress
        self.environ: Mapping[str, str] = environ or {}

    @property
    def settings(self) -> Settings:
        assert self._settings is not None
        return self._settings

    @property
    def base(self) -> DXFBase:
        assert self._client is not None
        return self._client

    @property
    def dxf(self) -> DXF:
        assert isinstance(self.base, DXF)
        return self.base

    def run(self) -> None:
        handler = getattr(self, "cmd_" + self.inv.command.replace("-", "_"))
        handler(self.inv.args)

    # each cmd_* takes the positional arguments after <repo>
    def cmd_auth(self, args: list[str]) -> None:
        found = resolve_credentials(self.settings)
        token = self.base.authenticate(
            found.username,
            found.password,
            actions=args,
            authorization=found.authorization,
            identity_token=found.identity_token,
        )
        if token:
            _line(token)

    def cmd_login(self, args: list[str]) -> None:
        """Check the credentials with a request that needs them, then store them (never before)."""
        host = args[0]
        username = self.inv.username or _prompt_username()
        password = _read_password(self.inv.password_stdin)
        if self.settings.insecure:
            raise dxf_exceptions.DXFAuthInsecureError()
        self.base.authenticate(username, password)
        self.base.api_version_check()
        assert self.settings.keychain is not None
        where = store_login(self.settings.keychain, host, username, password)
        _line(f"logged in to {host}: credentials stored in {where}")

    def cmd_logout(self, args: list[str]) -> None:
        host = args[0]
        assert self.settings.keychain is not None
        where = erase_login(self.settings.keychain, host)
        if where:
            _line(f"logged out of {host}: credentials removed from {', '.join(where)}")
        else:
            _line(f"not logged in to {host}: no stored credentials")

    def cmd_push_blob(self, args: list[str]) -> None:
        if self.inv.resume and args[0] == "-":
            raise UsageError("--resume needs a file: standard input cannot be read again")
        if args[0] == "-":
            stdin = sys.stdin
            if stdin is None:
                raise OSError(errno.EBADF, "standard input is closed", "-")
            digest = self.dxf.push_stream(cast(IO[bytes], getattr(stdin, "buffer", stdin)), self.progress)
        else:
            digest = self.dxf.push_blob(
                args[0], self.progress, resume=self.inv.resume, state_dir=self.settings.state_dir
            )
        if self.progress is not None:
            self.progress.close()
        if len(args) == 2:
            self.dxf.set_alias(args[1][1:], digest)
        if self.inv.json:
            _json_document({"digest": digest})
        else:
            _line(digest)

    def _blobs(self, args: list[str], sizes: dict[str, int] | None = None) -> list[str | dict[str, Any]]:
        """Digests to pull: digests as given, aliases expanded; multi-platform results kept as dicts.
        With ``sizes``, the sizes the manifests give are recorded there, to be enforced."""
        platform = self.settings.platform
        items: list[str | dict[str, Any]] = []

        def add(result: Any) -> None:
            if sizes is not None:
                result = _recorded(result, sizes)
            if isinstance(result, dict):
                items.append(result)
            else:
                items.extend(result)

        want = sizes is not None
        for subject in subjects(args, blobs=True):
            if subject.blob is not None:
                items.append(subject.blob)
            else:
                add(self.dxf.get_alias(subject.alias, subject.manifest, sizes=want, platform=platform))
        return items

    def cmd_pull_blob(self, args: list[str]) -> None:
        to_stdout = self.inv.output in (None, "-")  # -o - means standard output, as for curl
        if self.inv.resume and to_stdout:
            raise UsageError("--resume needs -o/--output FILE")
        sizes: dict[str, int] = {}
        items = self._blobs(args, sizes)
        if not to_stdout:
            assert self.inv.output is not None
            self._pull_to_file(items, self.inv.output, sizes)
            return
        out = _binary_stdout()
        for item in items:
            if isinstance(item, dict):
                out.write((json.dumps(item, sort_keys=True) + "\n").encode("utf-8"))
                continue
            result = self.dxf.pull_blob(
                item,
                size=True,
                chunk_size=self.settings.chunk_size or DEFAULT_DOWNLOAD_CHUNK,
                expected_size=sizes.get(item),
                connections=self.dxf.connections,
            )
            assert isinstance(result, tuple)
            chunks, size = result
            if self.settings.blob_info:
                out.write(f"{item} {size}\n".encode())
            if self.progress is not None:
                self.progress(item, b"", size)
            for chunk in _chunks_for(chunks, out):
                if self.progress is not None:
                    self.progress(item, chunk, size)  # our progress bar only counts the bytes
                out.write(chunk)
            out.flush()

    def _pull_to_file(self, items: list[str | dict[str, Any]], path: str, sizes: dict[str, int]) -> None:
        if any(isinstance(item, dict) for item in items):
            raise UsageError(
                "-o/--output needs exactly one blob, not a multi-platform alias (set DXF_PLATFORM)"
            )
        if len(items) != 1:
            raise UsageError(f"-o/--output needs exactly one blob, got {len(items)}")
        digest = cast(str, items[0])
        size = self.dxf.pull_blob_to_file(
            digest, path, self.progress, resume=self.inv.resume, expected_size=sizes.get(digest)
        )
        if self.settings.blob_info:
            _line(f"{digest} {size}")

    def cmd_push_blobs(self, args: list[str]) -> None:
        alias = args[0][1:] if args[0].startswith("@") else None
        files = args[1:] if alias is not None else args
        if self.progress is not None:
            self.progress.add_total(sum(os.path.getsize(f) for f in files))
        digests = self.dxf.push_blobs(files, jobs=self.inv.jobs, progress=self.progress)
        if alias is not None:
            self.dxf.set_alias(alias, *digests)
        if self.inv.json:
            _json_document([{"file": f, "digest": d} for f, d in zip(files, digests, strict=True)])
            return
        for digest in digests:
            _line(digest)

    def cmd_pull_blobs(self, args: list[str]) -> None:
        sizes: dict[str, int] = {}
        items = self._blobs(args, sizes)
        if any(isinstance(item, dict) for item in items):
            raise UsageError("a multi-platform alias needs DXF_PLATFORM to choose its blobs")
        assert self.inv.output_dir is not None
        _output_directory(self.inv.output_dir)
        if self.progress is not None:
            self.progress.add_total(None)
        digests = [cast(str, item) for item in items]
        unique = _dedupe(digests)  # each blob is downloaded once, and printed once per argument
        paths = self.dxf.pull_blobs(
            unique, self.inv.output_dir, jobs=self.inv.jobs, progress=self.progress, sizes=sizes
        )
        path_of = dict(zip(unique, paths, strict=True))
        for digest in digests:
            _line(path_of[digest])

    def cmd_blob_size(self, args: list[str]) -> None:
        platform = self.settings.platform

        def total(result: Any) -> Any:
            if isinstance(result, dict):
                return {key: sum(size for _, size in value) for key, value in result.items()}
            return sum(size for _, size in result)

        def size(subject: Subject) -> Any:
            if subject.blob is not None:
                return self.dxf.blob_size(subject.blob)
            return total(self.dxf.get_alias(subject.alias, subject.manifest, sizes=True, platform=platform))

        self._per_subject(subjects(args, blobs=True), size)

    def _per_subject(self, items: Iterator[Subject], result: Callable[[Subject], Any]) -> None:
        """Print each subject's result as it comes (python-dxf's lines), or with ``--json`` all of
        them as one object keyed by the arguments as given, once every one succeeded."""
        if not self.inv.json:
            for subject in items:
                _emit(result(subject))
            return
        _json_document({subject.given: result(subject) for subject in items})

    def cmd_mount_blob(self, args: list[str]) -> None:
        digest = self.dxf.mount_blob(args[0], args[1])
        if len(args) == 3:
            self.dxf.set_alias(args[2][1:], digest)
        _line(digest)

    def cmd_del_blob(self, args: list[str]) -> None:
        digests: list[str] = []
        for item in self._blobs(args):
            if isinstance(item, dict):
                for value in item.values():
                    digests.extend(value)
            else:
                digests.append(item)
        for digest in _dedupe(digests):
            self.dxf.del_blob(digest)

    def cmd_set_alias(self, args: list[str]) -> None:
        digests = [hash_file(arg) if os.sep in arg else arg for arg in args[1:]]
        _stdout().write(self.dxf.set_alias(args[0], *digests))

    def cmd_get_alias(self, args: list[str]) -> None:
        platform = self.settings.platform
        self._per_subject(
            subjects(args),
            lambda subject: self.dxf.get_alias(subject.alias, subject.manifest, platform=platform),
        )

    def cmd_del_alias(self, args: list[str]) -> None:
        for name in args:
            _emit(self.dxf.del_alias(name))
            _stdout().flush()

    def cmd_get_digest(self, args: list[str]) -> None:
        platform = self.settings.platform
        self._per_subject(
            subjects(args),
            lambda subject: self.dxf.get_digest(subject.alias, subject.manifest, platform=platform),
        )

    def cmd_get_manifest(self, args: list[str]) -> None:
        for name in args:
            manifest = self.dxf.get_manifest(name, platform=self.settings.platform)
            _stdout().write(json.dumps(manifest, sort_keys=True) if isinstance(manifest, dict) else manifest)

    def cmd_list_aliases(self, _args: list[str]) -> None:
        self._names(self.dxf.alias_pages())

    def cmd_list_repos(self, _args: list[str]) -> None:
        self._names(self.base.repo_pages())

    def _names(self, pages: Iterable[list[str]]) -> None:
        """One name per line, each page written and flushed as it arrives (before the next one is
        asked for), so a reader sees the first names while the registry still pages and memory
        holds one page however long the listing; with ``--json`` one array of them all, as a
        document is printed only once the whole result is known."""
        if self.inv.json:
            _json_document([name for page in pages for name in page])
            return
        stdout = _stdout()
        for page in pages:
            if page:
                stdout.write("".join(f"{name}\n" for name in page))
                stdout.flush()

    # -- OCI artifacts and referrers -------------------------------------------------------------
    def cmd_push_artifact(self, args: list[str]) -> None:
        from ..artifact import parse_annotations  # tarfile and gzip only for the artifact commands

        digest = self.dxf.push_artifact(
            args[0][1:],
            *args[1:],
            artifact_type=self.inv.artifact_type,
            annotations=parse_annotations(self.inv.annotations),
            config=self.inv.config,
            subject=_manifest_reference(self.inv.subject) if self.inv.subject else None,
            jobs=self.inv.jobs,
        )
        if self.inv.json:
            _json_document({"digest": digest})
        else:
            _line(digest)

    def cmd_pull_artifact(self, args: list[str]) -> None:
        assert self.inv.output_dir is not None
        _output_directory(self.inv.output_dir)
        for path in self.dxf.pull_artifact(
            _manifest_reference(args[0]), self.inv.output_dir, jobs=self.inv.jobs
        ):
            _line(path)

    def cmd_attach(self, args: list[str]) -> None:
        from ..artifact import parse_annotations

        assert self.inv.artifact_type is not None
        digest = self.dxf.attach(
            _manifest_reference(args[0]),
            self.inv.artifact_type,
            *args[1:],
            annotations=parse_annotations(self.inv.annotations),
        )
        _line(digest)

    def cmd_referrers(self, args: list[str]) -> None:
        found = self.dxf.referrers(_manifest_reference(args[0]), self.inv.artifact_type)
        if self.inv.json:
            _json_document(found)
            return
        for referrer in found:
            _line(f"{referrer['digest']} {referrer['artifactType'] or '-'}")
            for key, value in sorted(referrer["annotations"].items()):
                _line(f"  {key}={value}")

    def cmd_gc(self, _args: list[str]) -> None:
        freed = self.dxf.gc()
        for digest, size in freed:
            _line(f"{digest} {size}")
        _line(f"freed {sum(size for _, size in freed)} bytes")

    def cmd_copy(self, args: list[str]) -> None:
        """The graph moves with :func:`dxf.copy`; the root's digest is printed."""
        inv, environ, progress = self.inv, self.environ, self.progress
        src, dest = (TransportReference.parse(arg) for arg in args)
        with contextlib.ExitStack() as stack:
            src_store = open_place(src, environ, inv.src_insecure, stack)
            dest_store = open_place(dest, environ, inv.dest_insecure, stack)
            if dest.digest is not None and src_store.resolve(src.reference).digest != dest.digest:
                raise UsageError(f"{dest} names another manifest than {src}")
            if progress is not None:
                progress.add_total(None)
            root = copy(src_store, src.reference, dest_store, dest.tag, jobs=inv.jobs or 4, progress=progress)
        if progress is not None:
            progress.close()
        _line(str(root.digest))


def _manifest_reference(arg: str) -> str:
    """``@alias`` as the alias, a digest as it is."""
    return arg[1:] if arg.startswith("@") else arg


def _prompt_username() -> str:
    """Ask on the terminal (the prompt goes to stderr, keeping stdout for results)."""
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise UsageError("--username is needed when standard input is not a terminal")
    sys.stderr.write("Username: ")
    sys.stderr.flush()
    name = stdin.readline().strip()
    if not name:
        raise UsageError("no user name given")
    return name


def _read_password(from_stdin: bool) -> str:
    """The password: all of standard input (one trailing newline dropped) with --password-stdin,
    else asked without echo on a terminal; never from the command line."""
    stdin = sys.stdin
    if from_stdin:
        if stdin is None:
            raise UsageError("--password-stdin: standard input is closed")
        password = stdin.read().removesuffix("\n").removesuffix("\r")
    elif stdin is not None and stdin.isatty():
        password = getpass.getpass("Password: ", stream=sys.stderr)
    else:
        raise UsageError("no password: use --password-stdin or run on a terminal")
    if not password:
        raise UsageError("the password is empty")
    return password


def _auth_callback(settings: Settings) -> Any:
    """python-dxf's auth callback: authenticate with what :func:`resolve_credentials` finds."""

    def auth(dxf_obj: DXFBase, response: requests.Response) -> None:
        authenticate_as(dxf_obj, resolve_credentials(settings), response)

    return auth


def _client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "tlsverify": settings.tlsverify,
        "timeout": settings.timeout,
        "retries": settings.retries,
        "cert": settings.cert,
    }
    if settings.host_requests is not None:  # DXF_HOST_REQUESTS; else the module's default
        options["host_requests"] = settings.host_requests
    return options


def make_client(inv: Invocation, settings: Settings, environ: Mapping[str, str]) -> DXFBase:
    """The client for the command, with python-dxf's auth callback and DXF_TOKEN applied."""
    auth = _auth_callback(settings)
    common = _client_options(settings)
    connections = inv.connections or settings.connections
    if connections is not None:
        common["connections"] = connections
    client: DXFBase
    target = inv.facts.target
    if target == "host":  # login checks the credentials it is given, nothing else
        client = DXFBase(settings.host, None, settings.insecure, settings.auth_host, **common)
    elif target == "registry":
        client = DXFBase(settings.host, auth, settings.insecure, settings.auth_host, **common)
    else:
        assert inv.repo is not None
        client = DXF(settings.host, inv.repo, auth, settings.insecure, settings.auth_host, **common)
    if settings.token and inv.facts.uses_token:
        client.token = settings.token
    return client


#: The variables that hold credentials for DXF_HOST's registry, and for no other.
_CREDENTIAL_VARIABLES = ("DXF_USERNAME", "DXF_PASSWORD", "DXF_AUTHORIZATION", "DXF_TOKEN")


def side_environment(environ: Mapping[str, str], host: str, insecure: bool) -> dict[str, str]:
    """The environment one side of a copy is read with: ``DXF_HOST`` is that side's host, the
    ``DXF_*`` credentials stay only when it is DXF_HOST's registry (so they are never sent
    elsewhere), and the side's ``--*-insecure`` flag adds to ``DXF_INSECURE``."""
    side = dict(environ)
    if host != environ.get("DXF_HOST", "").strip():
        for key in _CREDENTIAL_VARIABLES:
            side.pop(key, None)
    side["DXF_HOST"] = host
    if insecure:
        side["DXF_INSECURE"] = "1"
    return side


def open_place(
    place: TransportReference, environ: Mapping[str, str], insecure: bool, stack: contextlib.ExitStack
) -> Store:
    """The store ``place`` names: an OCI layout directory, or a registry repository reached with the
    settings :func:`side_environment` gives (closed with ``stack``)."""
    if place.layout is not None:
        return OCILayout(place.layout)
    assert place.registry is not None
    settings = read_settings(side_environment(environ, place.registry.host, insecure))
    client = DXF(
        settings.host,
        place.registry.path,
        _auth_callback(settings),
        settings.insecure,
        settings.auth_host,
        **_client_options(settings),
    )
    if settings.token:
        client.token = settings.token
    return stack.enter_context(client).store


def execute(inv: Invocation, environ: Mapping[str, str]) -> None:
    """Check the arguments and the environment, then run the command; failures propagate. A
    :class:`UsageError` found on the way is reported as argparse reports one (``SystemExit(2)``)."""
    try:
        check_arguments(inv.command, inv.args)
        if inv.facts.target == "places":
            _run_places(inv, environ)
            return
        settings = read_settings(environ, host=inv.args[0] if inv.facts.target == "host" else None)
        _run(inv, settings, environ)
    except UsageError as e:
        inv.parser.error(str(e))


def _progress_bars(inv: Invocation, environ: Mapping[str, str]) -> ProgressBars | None:
    """Bars on stderr when the command draws them and DXF_PROGRESS (or a terminal) asks for them."""
    if not (inv.facts.progress and progress_wanted(environ)):
        return None
    from .progress import ProgressBars

    return ProgressBars(sys.stderr)


def _run_places(inv: Invocation, environ: Mapping[str, str]) -> None:
    """A command whose arguments name their own places (``copy``): no DXF_HOST client is made."""
    progress = _progress_bars(inv, environ)
    try:
        Runner(inv, None, None, progress, environ).run()
        _stdout().flush()
    finally:
        if progress is not None:
            progress.close()


def _run(inv: Invocation, settings: Settings, environ: Mapping[str, str]) -> None:
    progress = _progress_bars(inv, environ)
    try:
        with make_client(inv, settings, environ) as client:
            Runner(inv, settings, client, progress).run()
        _stdout().flush()
    finally:
        if progress is not None:
            progress.close()
