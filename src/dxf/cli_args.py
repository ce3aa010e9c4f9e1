"""The ``dxf`` command line's grammar: commands, their help, argument parsing and count rules.

python-dxf's rules are kept exactly (argument counts, ``too few arguments``, ``too many arguments``,
``invalid alias``, exit 2 with the usage on stderr); options may appear anywhere, while ``-``,
``@alias`` and ``sha256:...`` stay positional.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._version import __version__
from .digest import parse_digest
from .reference import validate_repository
from .registry import reference_part

#: Exit statuses (python-dxf's: ``errno.EACCES`` for refused credentials, ``errno.ENOENT`` for 404).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = errno.ENOENT
EXIT_UNAUTHORIZED = errno.EACCES
#: After Ctrl-C: 128 + SIGINT, as a shell reports a command a signal ended.
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: After SIGTERM or SIGHUP: 128 + the signal's number (143, 129), once temporary files are removed.
EXIT_SIGNAL_BASE = 128
#: When standard output's reader went away (``| head``): 128 + SIGPIPE, quietly.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


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
        "digest. With @alias, also point the alias at the blob. With --resume, an upload of <file> "
        "that an earlier run left unfinished is continued from what the registry holds.",
        "<file> to upload (- for standard input), then an optional @alias to set",
    ),
    Command(
        "pull-blob",
        "<repo> [<digest>|@alias...]",
        "write blobs to standard output (or a file with -o)",
        "Download blobs by digest, or all blobs of an alias in order, to standard output; each blob's "
        "digest is verified. With no argument, the blobs of a manifest read from standard input. With "
        "-o FILE, exactly one blob is written to FILE (atomically, only once verified; a symlink is "
        "followed, an existing file keeps its mode, a fifo or device is written into directly and "
        "checked at the end; -o - is standard output); --resume then continues a download that an "
        "earlier run did not finish.",
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
        "Delete each alias. The blobs it points to are not deleted; their digests are printed. Where the "
        "registry deletes tags (OCI distribution spec v1.1) only the alias goes. Elsewhere, e.g. the "
        "distribution registry 2.8, the alias's manifest is deleted, as python-dxf does, and with it "
        "every other alias that points at the same manifest.",
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
    Command(
        "login",
        "<host> [--username USER] [--password-stdin]",
        "check and store credentials for a registry",
        "Ask for a user (unless --username) and a password (without echo; or read it from standard "
        "input with --password-stdin; never from the command line), check them against the registry "
        "<host>, and store them: through the credential helper Docker's config names for <host> "
        "(credHelpers, credsStore), else in $DOCKER_CONFIG/config.json (default ~/.docker/config.json, "
        "written atomically, mode 0600, other entries kept). Nothing is stored when the registry "
        "refuses them (exit 13).",
        "the registry host[:port] (DXF_HOST is not used)",
    ),
    Command(
        "logout",
        "<host>",
        "forget the stored credentials for a registry",
        "Remove the credentials for <host> from the credential helper Docker's config names for it "
        "and from $DOCKER_CONFIG/config.json (default ~/.docker/config.json).",
        "the registry host[:port] (DXF_HOST is not used)",
    ),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}
#: Commands that show progress bars (when DXF_PROGRESS asks for them).
TRANSFER_COMMANDS = ("push-blob", "pull-blob", "push-blobs", "pull-blobs")
#: Commands that move many blobs at once and take ``--jobs``.
PARALLEL_COMMANDS = ("push-blobs", "pull-blobs")
#: Commands that name a registry host instead of a repository (and do not need DXF_HOST).
HOST_COMMANDS = ("login", "logout")

ENVIRONMENT_HELP = """\
environment:
  DXF_HOST           registry host[:port] (required), e.g. localhost:5000 or [::1]:5000;
                     no scheme, user, password, path or query
  DXF_INSECURE       yes: use plain http instead of https
  DXF_USERNAME       user to authenticate as
  DXF_PASSWORD       that user's password
  DXF_AUTHORIZATION  an HTTP Authorization header value to authenticate with instead
  DXF_AUTH_HOST      send token requests to this host[:port] instead of the one the registry names
  DXF_TOKEN          a bearer token (from `dxf auth`) to use as is
  DXF_PROGRESS       yes: progress bars on stderr for push-blob(s) and pull-blob(s); no: none;
                     any other value: only when stderr is a terminal
  DXF_BLOB_INFO      yes: pull-blob writes "<digest> <size>" and a newline before each blob
  DXF_CHUNK_SIZE     bytes pull-blob reads at a time
  DXF_SKIPTLSVERIFY  yes: do not verify the registry's TLS certificate
  DXF_TLSVERIFY      path of a CA bundle to verify the registry's certificate with
  REQUESTS_CA_BUNDLE CA bundle used when DXF_TLSVERIFY is not set
  DXF_PLATFORM       platform (e.g. linux/amd64) to pick from multi-platform aliases; without it
                     their results are printed as one JSON object keyed by platform
  DXF_TIMEOUT        seconds to wait for the registry to connect or answer (at most a year)
  DXF_RETRIES        how many times a failed request is retried (0: never)
  DXF_DEBUG          yes: print a traceback on failure (as --debug)
  DXF_CERT           TLS client certificate (PEM; with its key unless DXF_KEY is set)
  DXF_KEY            the client certificate's key
  DXF_CERTS_D        Docker's certs.d root (default /etc/docker/certs.d): HOST/ca.crt and
                     HOST/<name>.cert + <name>.key are used when present
  DXF_HELPER_TIMEOUT seconds a docker-credential-* helper may take (default 30)
  DOCKER_CONFIG      directory of Docker's config.json (default ~/.docker)
  REGISTRY_AUTH_FILE podman's auth.json to read credentials from (also read:
                     $XDG_RUNTIME_DIR/containers/auth.json)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   proxies, as usual
  yes/no variables take 1/0, true/false, yes/no or on/off (any case); unset or empty is no,
  anything else is an error (exit 2), except for DXF_PROGRESS as said above.
  A manifest read from standard input may be at most 4 MiB.

credentials, first found wins: DXF_USERNAME/DXF_PASSWORD, DXF_AUTHORIZATION or DXF_TOKEN;
then per registry host: REGISTRY_AUTH_FILE, Docker's config.json (its credHelpers, credsStore
and auths), podman's auth.json; else none."""

EXIT_HELP = """\
exit status:
  0   success
  1   any other failure (connection, TLS, digest mismatch, invalid name or digest, local file)
  2   usage error, or DXF_HOST (or another variable) missing or invalid;
      also: blob, alias, manifest or repository not found (errno ENOENT)
  13  the registry refused the credentials or token (errno EACCES)
  130 interrupted (Ctrl-C); 143 SIGTERM, 129 SIGHUP (128 + the signal): temporary files are
      removed first (pull-blob -o FILE --resume keeps its resumable part)
  141 standard output's reader went away (e.g. | head); nothing is printed"""

EPILOG = ENVIRONMENT_HELP + "\n\n" + EXIT_HELP


class UsageError(Exception):
    """A command-line mistake found after parsing; reported like argparse (usage, exit 2)."""


def _new_parser(**kwargs: Any) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def build_parsers(
    only: str | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser (for ``dxf --help``) and one parser per command (only ``only``'s when it
    is given: building all of them costs a few ms of every command's start-up)."""
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
        if only is not None and command.name != only:
            continue
        options = {
            "pull-blob": "[--debug] [-o FILE [--resume]] ",
            "push-blob": "[--debug] [--resume] ",
        }.get(command.name, "[--debug] ")
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
                help="write the one blob to FILE (atomically, only once verified) instead of stdout; "
                "- is stdout",
            )
            parser.add_argument(
                "--resume",
                action="store_true",
                help="with -o: keep what a broken or interrupted download got; continue from it next time",
            )
        if command.name == "push-blob":
            parser.add_argument(
                "--resume",
                action="store_true",
                help="continue an upload of this file that an earlier run did not finish (and if this "
                "one fails, leave it for the next run to continue)",
            )
        if command.name in PARALLEL_COMMANDS:
            parser.add_argument(
                "-j", "--jobs", metavar="N", type=_jobs, default=None, help="transfers at once (default 4)"
            )
        if command.name == "pull-blobs":
            parser.add_argument(
                "--output-dir", metavar="DIR", required=True, help="directory to write the blobs into"
            )
        if command.name in HOST_COMMANDS:
            _add_login_options(parser, command)
        elif command.name == "list-repos":
            parser.add_argument("args", nargs="*", default=[], help=argparse.SUPPRESS)
        else:
            parser.add_argument("repo", metavar="<repo>", help="repository name, e.g. fred/datalogger")
            if command.name == "list-aliases":
                parser.add_argument("args", nargs="*", default=[], help=argparse.SUPPRESS)
            else:
                parser.add_argument("args", nargs="*", default=[], metavar="<arg>", help=command.args_help)
        parsers[command.name] = parser
    return top, parsers


class _RefusePassword(argparse.Action):
    """``--password``/``-p``: refused without echoing the value (it would sit in shell history and
    ``ps`` output); also stops argparse from taking ``--password`` as ``--password-stdin``."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        parser.error("a password is never taken from the command line: use --password-stdin or the prompt")


def _add_login_options(parser: argparse.ArgumentParser, command: Command) -> None:
    parser.allow_abbrev = False
    parser.add_argument("args", nargs=1, metavar="<host>", help=command.args_help)
    if command.name != "login":
        return
    parser.add_argument("-u", "--username", metavar="USER", help="user name (default: ask)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("-p", "--password", nargs="?", action=_RefusePassword, help=argparse.SUPPRESS)


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
    username: str | None = None
    password_stdin: bool = False


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
    """Parse a command line. Returns an :class:`Invocation`, or ``0`` when ``dxf --help`` or
    ``--version`` finished the job. Like argparse (and python-dxf), a usage error prints the usage
    and raises ``SystemExit(2)``, and ``dxf <command> --help`` raises ``SystemExit(0)``."""
    argv = list(argv)

    def top() -> argparse.ArgumentParser:
        return build_parsers()[0]

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
            top().print_help(sys.stdout)
            return EXIT_OK
        else:
            top().error(f"unrecognized arguments: {option}")
    if index >= len(argv):
        top().print_help(sys.stderr)
        raise SystemExit(EXIT_USAGE)
    command = argv[index]
    if command not in COMMANDS_BY_NAME:
        top().error(f"invalid command {command!r} (choose from {', '.join(c.name for c in COMMANDS)})")
    parser = build_parsers(only=command)[1][command]
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
        username=getattr(ns, "username", None),
        password_stdin=bool(getattr(ns, "password_stdin", False)),
    )


# -- names checked before anything is sent -------------------------------------------------------------
def _blob(arg: str) -> None:
    """A blob argument: ``@alias`` (a tag or a manifest digest) or a blob digest."""
    if arg.startswith("@"):
        reference_part(arg[1:])
    else:
        parse_digest(arg)


def _alias(arg: str) -> None:
    reference_part(arg)


def _at_alias(arg: str) -> None:
    reference_part(arg[1:])


def _digest_or_file(arg: str) -> None:
    if os.sep not in arg:  # with a separator, a local file: hashed when the command runs
        parse_digest(arg)


def _any(_arg: str) -> None:
    pass


def _roles(command: str, args: Sequence[str]) -> list[Callable[[str], object]]:
    """What each positional argument after ``<repo>`` is, as a check for it (counts were checked
    by :func:`check_counts`)."""
    n = len(args)
    roles: Sequence[Callable[[str], object]]
    if command in ("pull-blob", "blob-size", "del-blob", "pull-blobs"):
        roles = [_blob] * n
    elif command in ("get-alias", "del-alias", "get-digest", "get-manifest"):
        roles = [_alias] * n
    elif command == "push-blob":
        roles = [_any, _at_alias]
    elif command == "push-blobs":
        roles = [_at_alias if args and args[0].startswith("@") else _any] + [_any] * n
    elif command == "mount-blob":
        roles = [validate_repository, parse_digest, _at_alias]
    elif command == "set-alias":
        roles = [_alias] + [_digest_or_file] * n
    else:
        roles = [_any] * n  # auth's actions, and commands without arguments
    return list(roles[:n])


def check_arguments(command: str, args: Sequence[str]) -> None:
    """Check every digest, alias and repository name in ``args`` before any request or transfer (so
    ``push-blob R big.dat @bad/x`` fails before uploading); raises
    :class:`~dxf.exceptions.DXFInvalidReferenceError` (or ``DXFUnexpectedDigestMethodError``)."""
    for check, arg in zip(_roles(command, args), args, strict=False):
        check(arg)
