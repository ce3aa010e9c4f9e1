"""The ``dxf`` command: python-dxf 12.1.1's command-line tool, over our library.

``dxf <command> <repo> [args...]`` (also ``python -m dxf``). :func:`doit` takes the arguments and the
environment explicitly and returns the exit status; it writes to ``sys.stdout`` / ``sys.stderr`` as
they are when it is called, and reads only the environment keys it needs. :func:`main` is the console
entry point.

Failures never print a traceback (unless ``--debug`` or ``DXF_DEBUG=1``): each prints one line,
``dxf: <command> <repo> <args...>: <reason>``, and sets the exit status (see :data:`EPILOG`).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import ssl
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests

from . import exceptions as dxf_exceptions
from ._version import __version__
from .auth import basic_header
from .client import DXF, DXFBase
from .digest import hash_file

if TYPE_CHECKING:  # tqdm costs ~25 ms of start-up; it is imported only when bars are drawn
    from .progress import ProgressBars

#: Exit statuses (python-dxf's: ``errno.EACCES`` for refused credentials, ``errno.ENOENT`` for 404).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = errno.ENOENT
EXIT_UNAUTHORIZED = errno.EACCES
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Command:
    """One sub-command: its argument synopsis, a one-line summary and a longer description."""

    name: str
    synopsis: str
    summary: str
    description: str
    args_help: str = ""


COMMANDS: tuple[Command, ...] = (
    Command(
        "auth",
        "<repo> <action>...",
        "print a bearer token for actions (pull, push, ...) on <repo>",
        "Authenticate with DXF_USERNAME and DXF_PASSWORD (or DXF_AUTHORIZATION) and print the bearer "
        "token granting <action>s on <repo>. Prints nothing when the registry uses basic authentication "
        "or none. Put the token in DXF_TOKEN for later commands.",
        "the actions to ask for: pull, push, delete or *",
    ),
    Command(
        "push-blob",
        "<repo> <file>|- [@alias]",
        "upload a file (- for standard input) and print its digest",
        "Upload <file> (or, with -, everything on standard input, streamed in chunks) and print its "
        "digest. With @alias, also point the alias at the blob.",
        "<file> to upload (- for standard input), then an optional @alias to set",
    ),
    Command(
        "pull-blob",
        "<repo> [<digest>|@alias...]",
        "write blobs to standard output (or a file with -o)",
        "Download blobs by digest, or all blobs of an alias in order, to standard output; each blob's "
        "digest is verified. With no argument, the blobs of a manifest read from standard input. With "
        "-o FILE, exactly one blob is written to FILE (atomically, only once verified); --resume then "
        "continues a download that an earlier run did not finish.",
        "blob digests (sha256:...) or @aliases",
    ),
    Command(
        "blob-size",
        "<repo> [<digest>|@alias...]",
        "print the size of blobs (an alias: the sum of its blobs)",
        "Print one size per argument: a blob's size, or for an alias the sum of its blobs' sizes. With "
        "no argument, the sum for a manifest read from standard input.",
        "blob digests (sha256:...) or @aliases",
    ),
    Command(
        "mount-blob",
        "<repo> <from-repo> <digest> [@alias]",
        "mount a blob from another repository and print its digest",
        "Make a blob that exists in <from-repo> available in <repo> without uploading it, print its "
        "digest, and with @alias point the alias at it.",
        "<from-repo> holding the blob, its <digest>, then an optional @alias to set",
    ),
    Command(
        "del-blob",
        "<repo> [<digest>|@alias...]",
        "delete blobs (for an alias: its blobs; the alias is kept)",
        "Delete blobs by digest. For @alias, the blobs it points to are deleted, not the alias itself "
        "(use del-alias for that). With no argument, the blobs of a manifest read from standard input.",
        "blob digests (sha256:...) or @aliases",
    ),
    Command(
        "set-alias",
        "<repo> <alias> <digest>|<file>...",
        "point an alias at blobs and print the manifest",
        "Point <alias> at the given blobs and print the manifest stored (no trailing newline). An "
        "argument containing a path separator is a local file: it is hashed (not uploaded) and must "
        "already have been pushed.",
        "<alias> to set, then blob digests or local files (containing a path separator)",
    ),
    Command(
        "get-alias",
        "<repo> [<alias>...]",
        "print the digests of the blobs an alias points to",
        "For each alias, print the digests of the blobs it points to, one per line. With no argument, "
        "those of a manifest read from standard input.",
        "alias names (without @)",
    ),
    Command(
        "del-alias",
        "<repo> <alias>...",
        "delete aliases (not their blobs) and print their digests",
        "Delete each alias. The blobs it points to are not deleted; their digests are printed.",
        "alias names (without @)",
    ),
    Command(
        "get-digest",
        "<repo> [<alias>...]",
        "print the digest of an alias's configuration blob",
        "For each alias, print the digest of its configuration blob (for an alias made by dxf, its first "
        "blob). With no argument, that of a manifest read from standard input.",
        "alias names (without @)",
    ),
    Command(
        "get-manifest",
        "<repo> <alias>...",
        "print an alias's manifest as the registry stores it",
        "For each alias, print its manifest exactly as the registry returned it (no newline added).",
        "alias names (without @)",
    ),
    Command(
        "list-aliases",
        "<repo>",
        "list the aliases in a repository",
        "Print every alias in <repo>, one per line.",
    ),
    Command(
        "push-blobs",
        "<repo> [--jobs N] [@alias] <file>...",
        "upload many files in parallel and print their digests",
        "Upload the files with up to N transfers at once (default 4) and print their digests, one per "
        "line, in the order given. With @alias before the files, point the alias at all of them in that "
        "order once every upload has finished.",
        "an optional @alias, then the files to upload",
    ),
    Command(
        "pull-blobs",
        "<repo> --output-dir DIR [--jobs N] <digest>|@alias...",
        "download many blobs in parallel into a directory",
        "Download the blobs (an alias: all of its blobs) into DIR with up to N transfers at once. Each "
        "is verified and written atomically as DIR/<algorithm>-<hex>; the paths are printed one per "
        "line, in order. DIR is created if needed.",
        "blob digests (sha256:...) or @aliases",
    ),
    Command(
        "list-repos",
        "",
        "list the repositories in the registry",
        "Print every repository in the registry, one per line (not every registry allows this).",
    ),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}
#: Commands that show progress bars (when DXF_PROGRESS asks for them).
TRANSFER_COMMANDS = ("push-blob", "pull-blob", "push-blobs", "pull-blobs")
#: Commands that move many blobs at once and take ``--jobs``.
PARALLEL_COMMANDS = ("push-blobs", "pull-blobs")

ENVIRONMENT_HELP = """\
environment:
  DXF_HOST           registry host[:port] (required)
  DXF_INSECURE       1: use plain http instead of https
  DXF_USERNAME       user to authenticate as
  DXF_PASSWORD       that user's password
  DXF_AUTHORIZATION  an HTTP Authorization header value to authenticate with instead
  DXF_AUTH_HOST      send token requests to this host instead of the one the registry names
  DXF_TOKEN          a bearer token (from `dxf auth`) to use as is
  DXF_PROGRESS       1: progress bars on stderr for push-blob(s) and pull-blob(s); 0: none;
                     otherwise only when stderr is a terminal
  DXF_BLOB_INFO      1: pull-blob writes "<digest> <size>" and a newline before each blob
  DXF_CHUNK_SIZE     bytes pull-blob reads at a time
  DXF_SKIPTLSVERIFY  1: do not verify the registry's TLS certificate
  DXF_TLSVERIFY      path of a CA bundle to verify the registry's certificate with
  REQUESTS_CA_BUNDLE CA bundle used when DXF_TLSVERIFY is not set
  DXF_PLATFORM       platform (e.g. linux/amd64) to pick from multi-platform aliases; without it
                     their results are printed as one JSON object keyed by platform
  DXF_TIMEOUT        seconds to wait for the registry to connect or answer
  DXF_RETRIES        how many times a failed request is retried (0: never)
  DXF_DEBUG          1: print a traceback on failure (as --debug)"""

EXIT_HELP = """\
exit status:
  0   success
  1   any other failure (connection, TLS, digest mismatch, invalid name or digest, local file)
  2   usage error, or DXF_HOST (or another variable) missing or invalid;
      also: blob, alias, manifest or repository not found (errno ENOENT)
  13  the registry refused the credentials or token (errno EACCES)"""

EPILOG = ENVIRONMENT_HELP + "\n\n" + EXIT_HELP

#: Environment keys whose values must never be printed.
_SECRET_KEYS = ("DXF_PASSWORD", "DXF_AUTHORIZATION", "DXF_TOKEN")
_DIGEST_RE = re.compile(r"^(@?)([a-z0-9]+):([0-9a-f]{20,})$")


class UsageError(Exception):
    """A command-line mistake found after parsing; reported like argparse (usage, exit 2)."""


class ConfigError(Exception):
    """A missing or invalid environment variable; one line, exit 2."""


# -- argument parsing --------------------------------------------------------------------------------
def _new_parser(**kwargs: Any) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def build_parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser (for ``dxf --help``) and one parser per command."""
    top = _new_parser(
        prog="dxf",
        usage="dxf [--debug] <command> <repo> [args...]\n       dxf --help | --version | <command> --help",
        description="Store and fetch data in a Docker/OCI registry.",
        epilog=EPILOG,
    )
    top.add_argument("--debug", action="store_true", help="print a traceback on failure")
    top.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = top.add_subparsers(dest="command", metavar="<command>", title="commands")
    parsers: dict[str, argparse.ArgumentParser] = {}
    for command in COMMANDS:
        options = "[--debug] [-o FILE [--resume]] " if command.name == "pull-blob" else "[--debug] "
        if command.name in PARALLEL_COMMANDS:
            options = "[--debug] "
        parser = subparsers.add_parser(
            command.name,
            prog=f"dxf {command.name}",
            help=command.summary,
            description=textwrap.fill(command.description, 78),
            usage=f"dxf {command.name} {options}{command.synopsis}".rstrip(),
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("--debug", action="store_true", help="print a traceback on failure")
        if command.name == "pull-blob":
            parser.add_argument(
                "-o",
                "--output",
                metavar="FILE",
                help="write the one blob to FILE (atomically, only once verified) instead of stdout",
            )
            parser.add_argument(
                "--resume",
                action="store_true",
                help="with -o: keep what a broken or interrupted download got; continue from it next time",
            )
        if command.name in PARALLEL_COMMANDS:
            parser.add_argument(
                "-j", "--jobs", metavar="N", type=_jobs, default=None, help="transfers at once (default 4)"
            )
        if command.name == "pull-blobs":
            parser.add_argument(
                "--output-dir", metavar="DIR", required=True, help="directory to write the blobs into"
            )
        if command.name == "list-repos":
            parser.add_argument("args", nargs="*", default=[], help=argparse.SUPPRESS)
        else:
            parser.add_argument("repo", metavar="<repo>", help="repository name, e.g. fred/datalogger")
            if command.name == "list-aliases":
                parser.add_argument("args", nargs="*", default=[], help=argparse.SUPPRESS)
            else:
                parser.add_argument("args", nargs="*", default=[], metavar="<arg>", help=command.args_help)
        parsers[command.name] = parser
    return top, parsers


def _jobs(text: str) -> int:
    """``--jobs``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


@dataclass
class Invocation:
    """A parsed command line."""

    command: str
    repo: str | None
    args: list[str]
    debug: bool
    output: str | None
    parser: argparse.ArgumentParser
    jobs: int | None = None
    output_dir: str | None = None
    resume: bool = False


def check_counts(command: str, args: Sequence[str], parser: argparse.ArgumentParser) -> None:
    """python-dxf's argument-count rules; exits 2 (via ``parser.error``) when broken."""

    def alias_at(index: int) -> None:
        if len(args) > index and (not args[index].startswith("@") or len(args[index]) < 2):
            parser.error("invalid alias")

    if command == "push-blob":
        if len(args) < 1:
            parser.error("too few arguments")
        if len(args) > 2:
            parser.error("too many arguments")
        alias_at(1)
    elif command == "mount-blob":
        if len(args) < 2:
            parser.error("too few arguments")
        if len(args) > 3:
            parser.error("too many arguments")
        alias_at(2)
    elif command == "set-alias":
        if len(args) < 2:
            parser.error("too few arguments")
    elif command in ("list-aliases", "list-repos") and args:
        parser.error("too many arguments")
    elif command == "push-blobs":
        has_alias = bool(args) and args[0].startswith("@")
        if has_alias:
            alias_at(0)
        if len(args) <= int(has_alias):
            parser.error("too few arguments")
    elif command == "pull-blobs" and not args:
        parser.error("too few arguments")


def parse_argv(argv: Sequence[str]) -> Invocation | int:
    """Parse a command line. Returns an :class:`Invocation`, or an exit status when the parse itself
    finished the job (help, version) or failed (usage error, already reported on stderr)."""
    top, parsers = build_parsers()
    try:
        return _parse(list(argv), top, parsers)
    except SystemExit as e:  # argparse's --help and error()
        return e.code if isinstance(e.code, int) else EXIT_USAGE


def _parse(
    argv: list[str], top: argparse.ArgumentParser, parsers: dict[str, argparse.ArgumentParser]
) -> Invocation | int:
    debug = False
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "-":
        option = argv[index]
        index += 1
        if option == "--":
            break
        if option == "--debug":
            debug = True
        elif option == "--version":
            sys.stdout.write(f"dxf {__version__}\n")
            return EXIT_OK
        elif option in ("-h", "--help"):
            top.print_help(sys.stdout)
            return EXIT_OK
        else:
            top.error(f"unrecognized arguments: {option}")
    if index >= len(argv):
        top.print_help(sys.stderr)
        return EXIT_USAGE
    command = argv[index]
    parser = parsers.get(command)
    if parser is None:
        top.error(f"invalid command {command!r} (choose from {', '.join(c.name for c in COMMANDS)})")
    ns = parser.parse_intermixed_args(argv[index + 1 :])
    args: list[str] = list(ns.args)
    check_counts(command, args, parser)
    return Invocation(
        command=command,
        repo=getattr(ns, "repo", None),
        args=args,
        debug=debug or bool(ns.debug),
        output=getattr(ns, "output", None),
        parser=parser,
        jobs=getattr(ns, "jobs", None),
        output_dir=getattr(ns, "output_dir", None),
        resume=bool(getattr(ns, "resume", False)),
    )


# -- environment -------------------------------------------------------------------------------------
@dataclass
class Settings:
    """What the environment says, validated."""

    host: str
    insecure: bool
    username: str | None
    password: str | None
    authorization: str | None
    auth_host: str | None
    token: str | None
    tlsverify: bool | str
    timeout: float | None
    retries: int | None
    chunk_size: int | None
    platform: str | None
    blob_info: bool


def _positive_number(environ: Mapping[str, str], key: str, kind: Callable[[str], Any], minimum: float) -> Any:
    value = environ.get(key)
    if value is None or value.strip() == "":
        return None
    try:
        number = kind(value.strip())
    except ValueError:
        number = None
    if number is None or number != number or number < minimum:  # NaN != NaN
        bound = "positive" if minimum > 0 else "non-negative"
        what = "integer" if kind is int else "number"
        raise ConfigError(f"{key} must be a {bound} {what}, not {value!r}")
    return number


def read_settings(environ: Mapping[str, str]) -> Settings:
    """Read and check the variables the command uses; :class:`ConfigError` when one is wrong."""
    host = environ.get("DXF_HOST", "").strip()
    if not host:
        raise ConfigError("DXF_HOST is not set (it names the registry, e.g. localhost:5000)")
    tlsverify: bool | str
    if environ.get("DXF_SKIPTLSVERIFY") == "1":
        tlsverify = False
    else:
        tlsverify = (
            environ.get("DXF_TLSVERIFY")
            or environ.get("REQUESTS_CA_BUNDLE")
            or environ.get("CURL_CA_BUNDLE")
            or True
        )
    timeout = _positive_number(environ, "DXF_TIMEOUT", float, 1e-9)
    retries = _positive_number(environ, "DXF_RETRIES", int, 0)
    chunk_size = _positive_number(environ, "DXF_CHUNK_SIZE", int, 1)
    return Settings(
        host=host,
        insecure=environ.get("DXF_INSECURE") == "1",
        username=environ.get("DXF_USERNAME"),
        password=environ.get("DXF_PASSWORD"),
        authorization=environ.get("DXF_AUTHORIZATION"),
        auth_host=environ.get("DXF_AUTH_HOST") or None,
        token=environ.get("DXF_TOKEN") or None,
        tlsverify=tlsverify,
        timeout=timeout,
        retries=retries,
        chunk_size=chunk_size,
        platform=environ.get("DXF_PLATFORM") or None,
        blob_info=environ.get("DXF_BLOB_INFO") == "1",
    )


def _progress_wanted(environ: Mapping[str, str]) -> bool:
    setting = environ.get("DXF_PROGRESS")
    if setting == "1":
        return True
    if setting == "0":
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # closed stream
        return False


# -- output ------------------------------------------------------------------------------------------
def _line(text: str) -> None:
    sys.stdout.write(text + "\n")


def _emit(value: Any) -> None:
    """A per-alias result: JSON (sorted keys) for a multi-platform dict, else one item per line."""
    if isinstance(value, dict):
        _line(json.dumps(value, sort_keys=True))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _line(str(item))
    else:
        _line(str(value))


def _binary_stdout() -> IO[bytes]:
    """Where blob bytes go: ``sys.stdout.buffer``, or ``sys.stdout`` itself when it has none."""
    sys.stdout.flush()
    return cast(IO[bytes], getattr(sys.stdout, "buffer", sys.stdout))


def _read_stdin_manifest() -> str:
    stdin = sys.stdin
    if stdin is None:
        raise dxf_exceptions.DXFManifestError("no manifest: standard input is closed")
    data = stdin.read()
    if isinstance(data, bytes):
        return data.decode("utf-8")
    return data


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- the commands ------------------------------------------------------------------------------------
class Runner:
    """Runs one parsed command against a client."""

    def __init__(
        self,
        inv: Invocation,
        settings: Settings,
        client: DXFBase,
        progress: ProgressBars | None,
    ) -> None:
        self.inv = inv
        self.settings = settings
        self.base = client
        self.progress = progress

    @property
    def dxf(self) -> DXF:
        assert isinstance(self.base, DXF)
        return self.base

    def run(self) -> None:
        handler = getattr(self, "cmd_" + self.inv.command.replace("-", "_"))
        handler(self.inv.args)

    # each cmd_* takes the positional arguments after <repo>
    def cmd_auth(self, args: list[str]) -> None:
        s = self.settings
        token = self.base.authenticate(s.username, s.password, actions=args, authorization=s.authorization)
        if token:
            _line(token)

    def cmd_push_blob(self, args: list[str]) -> None:
        if args[0] == "-":
            stdin = sys.stdin
            if stdin is None:
                raise OSError(errno.EBADF, "standard input is closed", "-")
            digest = self.dxf.push_stream(cast(IO[bytes], getattr(stdin, "buffer", stdin)), self.progress)
        else:
            digest = self.dxf.push_blob(args[0], self.progress)
        if self.progress is not None:
            self.progress.close()
        if len(args) == 2:
            self.dxf.set_alias(args[1][1:], digest)
        _line(digest)

    def _blobs(self, args: list[str]) -> list[str | dict[str, Any]]:
        """Digests to pull: digests as given, aliases expanded; multi-platform results kept as dicts."""
        platform = self.settings.platform
        items: list[str | dict[str, Any]] = []

        def add(result: Any) -> None:
            if isinstance(result, dict):
                items.append(result)
            else:
                items.extend(result)

        if not args:
            add(self.dxf.get_alias(manifest=_read_stdin_manifest(), platform=platform))
        for name in args:
            if name.startswith("@"):
                add(self.dxf.get_alias(name[1:], platform=platform))
            else:
                items.append(name)
        return items

    def cmd_pull_blob(self, args: list[str]) -> None:
        if self.inv.resume and self.inv.output is None:
            raise UsageError("--resume needs -o/--output FILE")
        items = self._blobs(args)
        if self.inv.output is not None:
            self._pull_to_file(items, self.inv.output)
            return
        out = _binary_stdout()
        for item in items:
            if isinstance(item, dict):
                out.write((json.dumps(item, sort_keys=True) + "\n").encode("utf-8"))
                continue
            result = self.dxf.pull_blob(item, size=True, chunk_size=self.settings.chunk_size)
            assert isinstance(result, tuple)
            chunks, size = result
            if self.settings.blob_info:
                out.write(f"{item} {size}\n".encode())
            if self.progress is not None:
                self.progress(item, b"", size)
            for chunk in chunks:
                if self.progress is not None:
                    self.progress(item, chunk, size)
                out.write(chunk)
            out.flush()

    def _pull_to_file(self, items: list[str | dict[str, Any]], path: str) -> None:
        if any(isinstance(item, dict) for item in items):
            raise UsageError(
                "-o/--output needs exactly one blob, not a multi-platform alias (set DXF_PLATFORM)"
            )
        if len(items) != 1:
            raise UsageError(f"-o/--output needs exactly one blob, got {len(items)}")
        digest = cast(str, items[0])
        size = self.dxf.pull_blob_to_file(digest, path, self.progress, resume=self.inv.resume)
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
        for digest in digests:
            _line(digest)

    def cmd_pull_blobs(self, args: list[str]) -> None:
        items = self._blobs(args)
        if any(isinstance(item, dict) for item in items):
            raise UsageError("a multi-platform alias needs DXF_PLATFORM to choose its blobs")
        assert self.inv.output_dir is not None
        os.makedirs(self.inv.output_dir, exist_ok=True)
        if self.progress is not None:
            self.progress.add_total(None)
        digests = _dedupe([cast(str, item) for item in items])
        for path in self.dxf.pull_blobs(
            digests, self.inv.output_dir, jobs=self.inv.jobs, progress=self.progress
        ):
            _line(path)

    def cmd_blob_size(self, args: list[str]) -> None:
        platform = self.settings.platform

        def total(result: Any) -> Any:
            if isinstance(result, dict):
                return {key: sum(size for _, size in value) for key, value in result.items()}
            return sum(size for _, size in result)

        if not args:
            _emit(total(self.dxf.get_alias(manifest=_read_stdin_manifest(), sizes=True, platform=platform)))
        for name in args:
            if name.startswith("@"):
                _emit(total(self.dxf.get_alias(name[1:], sizes=True, platform=platform)))
            else:
                _emit(self.dxf.blob_size(name))

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
        sys.stdout.write(self.dxf.set_alias(args[0], *digests))

    def cmd_get_alias(self, args: list[str]) -> None:
        platform = self.settings.platform
        if not args:
            _emit(self.dxf.get_alias(manifest=_read_stdin_manifest(), platform=platform))
        for name in args:
            _emit(self.dxf.get_alias(name, platform=platform))

    def cmd_del_alias(self, args: list[str]) -> None:
        for name in args:
            _emit(self.dxf.del_alias(name))
            sys.stdout.flush()

    def cmd_get_digest(self, args: list[str]) -> None:
        platform = self.settings.platform
        if not args:
            _emit(self.dxf.get_digest(manifest=_read_stdin_manifest(), platform=platform))
        for name in args:
            _emit(self.dxf.get_digest(name, platform=platform))

    def cmd_get_manifest(self, args: list[str]) -> None:
        for name in args:
            manifest = self.dxf.get_manifest(name, platform=self.settings.platform)
            sys.stdout.write(json.dumps(manifest, sort_keys=True) if isinstance(manifest, dict) else manifest)

    def cmd_list_aliases(self, _args: list[str]) -> None:
        for name in self.dxf.list_aliases(iterate=True):
            _line(name)

    def cmd_list_repos(self, _args: list[str]) -> None:
        for name in self.base.list_repos(iterate=True):
            _line(name)


def make_client(inv: Invocation, settings: Settings, environ: Mapping[str, str]) -> DXFBase:
    """The client for the command, with python-dxf's auth callback and DXF_TOKEN applied."""

    def auth(dxf_obj: DXFBase, response: requests.Response) -> None:
        dxf_obj.authenticate(
            environ.get("DXF_USERNAME"),
            environ.get("DXF_PASSWORD"),
            response=response,
            authorization=environ.get("DXF_AUTHORIZATION"),
        )

    common: dict[str, Any] = {
        "tlsverify": settings.tlsverify,
        "timeout": settings.timeout,
        "retries": settings.retries,
    }
    client: DXFBase
    if inv.command == "list-repos":
        client = DXFBase(settings.host, auth, settings.insecure, settings.auth_host, **common)
    else:
        assert inv.repo is not None
        client = DXF(settings.host, inv.repo, auth, settings.insecure, settings.auth_host, **common)
    if settings.token and inv.command != "auth":
        client.token = settings.token
    return client


# -- failures ----------------------------------------------------------------------------------------
def _shorten_arg(arg: str) -> str:
    match = _DIGEST_RE.match(arg)
    if match:
        return f"{match.group(1)}{match.group(2)}:{match.group(3)[:12]}…"
    return arg


def describe(inv: Invocation) -> str:
    """``<command> <repo> <args...>``, digests shortened, for the start of an error line."""
    words = [inv.command]
    if inv.repo is not None:
        words.append(inv.repo)
    words.extend(_shorten_arg(a) for a in inv.args)
    return " ".join(words)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (``reason``, exception ``args``, cause, context), breadth first."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            queue.append(reason)
        queue.extend(a for a in current.args if isinstance(a, BaseException))
        if current.__cause__ is not None:
            queue.append(current.__cause__)
        if current.__context__ is not None:
            queue.append(current.__context__)


def _target(exc: requests.exceptions.RequestException, settings: Settings | None) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        if parts.hostname:
            return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return settings.host if settings is not None else "the registry"


def _os_reason(exc: BaseException) -> str | None:
    """The innermost socket-level explanation (``Connection refused``, a DNS failure...)."""
    found: str | None = None
    for e in _chain(exc):
        if isinstance(e, ssl.SSLError):
            message = getattr(e, "verify_message", None) or e.reason or e.strerror
            if isinstance(e, ssl.SSLCertVerificationError) and message:
                return f"certificate verify failed: {message}"
            return str(message) if message else str(e)
        if isinstance(e, OSError) and type(e).__module__ in ("builtins", "socket") and e.strerror:
            found = str(e.strerror)
    return found


def _connection_reason(exc: requests.exceptions.RequestException, settings: Settings | None) -> str:
    target = _target(exc, settings)
    if isinstance(exc, requests.exceptions.SSLError):
        tls_reason = _os_reason(exc) or "handshake failed"
        return f"TLS error talking to {target}: {tls_reason} (see DXF_TLSVERIFY and DXF_SKIPTLSVERIFY)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"cannot connect to {target}: timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"timed out waiting for {target}"
    reason = _os_reason(exc)
    if reason is None:
        for e in _chain(exc):
            if type(e).__name__ in ("RemoteDisconnected", "ProtocolError", "IncompleteRead"):
                reason = "connection closed by the server"
                break
    return f"cannot connect to {target}: {reason or type(exc).__name__}"


def classify(exc: BaseException, settings: Settings | None) -> tuple[int, str]:
    """The exit status and the one-line reason for a failure."""
    if isinstance(exc, dxf_exceptions.DXFUnauthorizedError):
        response = exc.response
        detail = "unauthorized"
        if response is not None:
            detail = f"{response.status_code} {response.reason or 'Unauthorized'}".strip()
            errors = dxf_exceptions._registry_errors(response)
            messages = [str(e.get("message") or e.get("code")) for e in errors]
            if messages:
                detail += f" ({'; '.join(messages)})"
        return EXIT_UNAUTHORIZED, f"{detail}: the registry refused the credentials or token"
    if isinstance(exc, requests.exceptions.HTTPError):
        response = exc.response
        status = response.status_code if response is not None else getattr(exc, "status_code", 0)
        if isinstance(exc, dxf_exceptions.DXFError):
            reason = str(exc)
        elif response is not None:
            reason = f"{response.status_code} {response.reason or ''}".strip()
        else:
            reason = "HTTP error"
        return (EXIT_NOT_FOUND if status == 404 else EXIT_FAILURE), reason
    if isinstance(exc, (dxf_exceptions.DXFDigestMismatchError, dxf_exceptions.DXFSizeMismatchError)):
        return EXIT_FAILURE, f"content does not match its digest: {exc}"
    if isinstance(exc, requests.exceptions.RequestException):
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return EXIT_FAILURE, _connection_reason(exc, settings)
        return EXIT_FAILURE, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, dxf_exceptions.DXFError):
        text = str(exc) or type(exc).__name__
        return EXIT_FAILURE, text
    if isinstance(exc, OSError):
        if exc.strerror:
            where = exc.filename if exc.filename is not None else None
            return EXIT_FAILURE, f"{where}: {exc.strerror}" if where is not None else exc.strerror
        return EXIT_FAILURE, str(exc) or type(exc).__name__
    if isinstance(exc, ValueError):
        return EXIT_FAILURE, str(exc) or type(exc).__name__
    return EXIT_FAILURE, f"internal error: {type(exc).__name__}: {exc}"


def _secrets(environ: Mapping[str, str]) -> list[str]:
    values = [environ.get(key) or "" for key in _SECRET_KEYS]
    username, password = environ.get("DXF_USERNAME"), environ.get("DXF_PASSWORD")
    if username is not None and password:
        header = basic_header(username, password)
        values += [header, header.split(" ", 1)[1]]
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with every credential from the environment replaced by ``<hidden>``."""
    for secret in _secrets(environ):
        text = text.replace(secret, "<hidden>")
    return text


def _report(prefix: str, reason: str, environ: Mapping[str, str]) -> None:
    reason = " ".join(reason.split())  # exactly one line
    sys.stderr.write(redact(f"dxf: {prefix}: {reason}\n", environ))
    sys.stderr.flush()


# -- entry points ------------------------------------------------------------------------------------
def doit(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run ``dxf`` with ``argv`` (without the program name) and ``environ``; return the exit status."""
    parsed = parse_argv(argv)
    if isinstance(parsed, int):
        return parsed
    inv = parsed
    debug = inv.debug or environ.get("DXF_DEBUG") == "1"
    prefix = describe(inv)
    settings: Settings | None = None
    progress: ProgressBars | None = None
    try:
        settings = read_settings(environ)
        if inv.command in TRANSFER_COMMANDS and _progress_wanted(environ):
            from .progress import ProgressBars

            progress = ProgressBars(sys.stderr)
        with make_client(inv, settings, environ) as client:
            Runner(inv, settings, client, progress).run()
        if progress is not None:
            progress.close()
        sys.stdout.flush()
        return EXIT_OK
    except UsageError as e:
        if progress is not None:
            progress.close()
        inv.parser.print_usage(sys.stderr)
        sys.stderr.write(f"{inv.parser.prog}: error: {e}\n")
        return EXIT_USAGE
    except ConfigError as e:
        _report(prefix, str(e), environ)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        _report(prefix, "interrupted", environ)
        return EXIT_INTERRUPTED
    except Exception as e:
        if progress is not None:
            progress.close()
        code, reason = classify(e, settings)
        if debug:
            sys.stderr.write(redact(traceback.format_exc(), environ))
        _report(prefix, reason, environ)
        return code


def main() -> None:
    """Console entry point: ``sys.exit(doit(sys.argv[1:], os.environ))``."""
    try:
        code = doit(sys.argv[1:], os.environ)
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_FAILURE
    if code != EXIT_OK:
        # A reader that went away (dxf pull-blob ... | head) must not make the exit flush complain.
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    sys.exit(code)
