"""The ``dxf`` command line's grammar: help, parsing and the argument rules, all derived from the
command records of :mod:`dxf.cli.table`.

python-dxf's rules are kept exactly (argument counts, ``too few arguments``, ``too many arguments``,
``invalid alias``, exit 2 with the usage on stderr); options may appear anywhere, while ``-``,
``@alias`` and ``sha256:...`` stay positional.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from .errors import EXIT_OK, EXIT_USAGE
from .table import AT_ALIAS, COMMANDS, COMMANDS_BY_NAME, JSON_OUTPUT, Command, Role

ENVIRONMENT_HELP = """\
environment:
  DXF_HOST           registry host[:port] (required), e.g. localhost:5000 or [::1]:5000;
                     no scheme, user, password, path or query; or oci:PATH: no registry,
                     repository R is the OCI image layout PATH/R
  DXF_INSECURE       yes: use plain http instead of https (copy: on both sides)
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
  DXF_CONNECTIONS    connections one large blob download may use, to a file or to standard
                     output (default 4)
  DXF_HOST_REQUESTS  requests kept in flight to the registry at once, all transfers
                     together (default 16; lowered by itself after a 429)
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


#: What the usage line of a command that offers ``--json`` shows (the records' synopses leave it out).
JSON_USAGE = " [--json]"


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
    parsers = {
        command.name: _add_command_parser(subparsers, command)
        for command in COMMANDS
        if only is None or command.name == only
    }
    return top, parsers


def _add_command_parser(subparsers: Any, command: Command) -> argparse.ArgumentParser:
    """One command's parser, from its record: usage, help, options and positional arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        command.name,
        prog=f"dxf {command.name}",
        help=command.summary,
        description=textwrap.fill(command.description, 78),
        usage=f"dxf {command.name} [--debug]{JSON_USAGE if command.json else ''} {command.synopsis}".rstrip(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="print a traceback on failure")
    for option in command.options:
        option.add_to(parser)
    if command.json:
        JSON_OUTPUT.add_to(parser)
    _add_positionals(parser, command)
    return parser


def _add_positionals(parser: argparse.ArgumentParser, command: Command) -> None:
    """``<repo>`` (unless the command names the registry or a host) and the arguments after it."""
    if command.target == "host":
        # no abbreviations: --pass must not be taken for --password-stdin
        parser.allow_abbrev = False
        parser.add_argument("args", nargs=1, metavar="<host>", help=command.args_help)
        return
    if command.target == "repository":
        parser.add_argument("repo", metavar="<repo>", help="repository name, e.g. fred/datalogger")
    if command.args_help:
        parser.add_argument("args", nargs="*", default=[], metavar="<arg>", help=command.args_help)
    else:
        parser.add_argument("args", nargs="*", default=[], help=argparse.SUPPRESS)


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
    connections: int | None = None
    output_dir: str | None = None
    resume: bool = False
    username: str | None = None
    password_stdin: bool = False
    json: bool = False
    artifact_type: str | None = None
    annotations: list[str] = field(default_factory=list)
    config: str | None = None
    subject: str | None = None
    src_insecure: bool = False
    dest_insecure: bool = False

    @property
    def facts(self) -> Command:
        """The command's record in :data:`~dxf.cli.table.COMMANDS`."""
        return COMMANDS_BY_NAME[self.command]


def _leading_alias(command: Command, args: Sequence[str]) -> int:
    """1 when ``args`` start with the optional ``@alias`` the command takes before the rest, else 0."""
    return int(command.leading_alias and bool(args) and args[0].startswith("@"))


def argument_roles(command: Command, args: Sequence[str]) -> list[Role]:
    """What each of ``args`` is, in order."""
    lead = _leading_alias(command, args)
    return [AT_ALIAS] * lead + [command.role(index) for index in range(len(args) - lead)]


def _require_at_sign(arg: str, parser: argparse.ArgumentParser) -> None:
    if not arg.startswith("@") or len(arg) < 2:
        parser.error("invalid alias")


def check_counts(name: str, args: Sequence[str], parser: argparse.ArgumentParser) -> None:
    """python-dxf's argument-count rules, from the command's record; exits 2 (via
    ``parser.error``) when broken. A leading alias is checked first, then the counts, then the
    arguments that must be ``@alias``."""
    command = COMMANDS_BY_NAME[name]
    lead = _leading_alias(command, args)
    if lead:
        _require_at_sign(args[0], parser)
    count = len(args) - lead
    if count < command.min_args:
        parser.error("too few arguments")
    if command.max_args is not None and count > command.max_args:
        parser.error("too many arguments")
    for role, arg in zip(argument_roles(command, args), args, strict=True):
        if role.at_sign:
            _require_at_sign(arg, parser)


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
        connections=getattr(ns, "connections", None),
        output_dir=getattr(ns, "output_dir", None),
        resume=bool(getattr(ns, "resume", False)),
        username=getattr(ns, "username", None),
        password_stdin=bool(getattr(ns, "password_stdin", False)),
        json=bool(getattr(ns, "json", False)),
        artifact_type=getattr(ns, "artifact_type", None),
        annotations=list(getattr(ns, "annotation", None) or []),
        config=getattr(ns, "config", None),
        subject=getattr(ns, "subject", None),
        src_insecure=bool(getattr(ns, "src_insecure", False)),
        dest_insecure=bool(getattr(ns, "dest_insecure", False)),
    )


def check_arguments(name: str, args: Sequence[str]) -> None:
    """Check every digest, alias and repository name in ``args`` before any request or transfer (so
    ``push-blob R big.dat @bad/x`` fails before uploading); raises
    :class:`~dxf.exceptions.DXFInvalidReferenceError` (or ``DXFUnexpectedDigestMethodError``)."""
    command = COMMANDS_BY_NAME[name]
    for role, arg in zip(argument_roles(command, args), args, strict=True):
        role.check(arg)
