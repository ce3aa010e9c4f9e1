"""Every fact about every ``dxf`` command, in one table.

Each :class:`Command` record says what its help shows (synopsis, summary, description), which options
it takes, how many positional arguments it accepts and what each one is (:class:`Role`), what it
names (a repository, the whole registry, or a registry host), and whether it draws progress bars.
:mod:`dxf.cli.grammar` builds the parsers and the argument checks from these records, and
:mod:`dxf.cli.commands` the client, so a new command is one record here and its ``cmd_*`` handler.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..digest import Digest
from ..reference import validate_repository
from ..registry import reference_part


# -- options ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """An option of a command: the flags and keywords handed to ``ArgumentParser.add_argument``
    (a keyword left as None is not passed, so argparse's default applies)."""

    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    action: str | type[argparse.Action] | None = None
    type: Callable[[str], Any] | None = None
    nargs: str | None = None
    required: bool = False

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        keywords: dict[str, Any] = {
            "metavar": self.metavar,
            "action": self.action,
            "type": self.type,
            "nargs": self.nargs,
        }
        keywords = {key: value for key, value in keywords.items() if value is not None}
        if self.required:
            keywords["required"] = True
        parser.add_argument(*self.flags, help=self.help, **keywords)


def _jobs(text: str) -> int:
    """``--jobs``: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


class _RefusePassword(argparse.Action):
    """``--password``/``-p``: refused without echoing the value (it would sit in shell history and
    ``ps`` output); also stops argparse from taking ``--password`` as ``--password-stdin``."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        parser.error("a password is never taken from the command line: use --password-stdin or the prompt")


OUTPUT = Option(
    ("-o", "--output"),
    "write the one blob to FILE (atomically, only once verified) instead of stdout; - is stdout",
    metavar="FILE",
)
RESUME_DOWNLOAD = Option(
    ("--resume",),
    "with -o: keep what a broken or interrupted download got; continue from it next time",
    action="store_true",
)
RESUME_UPLOAD = Option(
    ("--resume",),
    "continue an upload of this file that an earlier run did not finish (and if this one fails, "
    "leave it for the next run to continue)",
    action="store_true",
)
JOBS = Option(("-j", "--jobs"), "transfers at once (default 4)", metavar="N", type=_jobs)
CONNECTIONS = Option(
    ("--connections",),
    "connections one large blob may use at once, fetching byte ranges (default 4, or DXF_CONNECTIONS)",
    metavar="C",
    type=_jobs,
)
OUTPUT_DIR = Option(("--output-dir",), "directory to write the blobs into", metavar="DIR", required=True)
USERNAME = Option(("-u", "--username"), "user name (default: ask)", metavar="USER")
PASSWORD_STDIN = Option(("--password-stdin",), "read the password from standard input", action="store_true")
PASSWORD_REFUSED = Option(("-p", "--password"), argparse.SUPPRESS, nargs="?", action=_RefusePassword)


# -- what a positional argument is -------------------------------------------------------------------
@dataclass(frozen=True)
class Role:
    """What one positional argument is. ``check`` runs before any request or transfer and raises
    :class:`~dxf.exceptions.DXFInvalidReferenceError` (or ``DXFUnexpectedDigestMethodError``) for a
    bad name or digest; an ``at_sign`` argument must be written ``@alias`` (python-dxf's
    ``invalid alias`` usage error otherwise)."""

    check: Callable[[str], object]
    at_sign: bool = False


def _blob(arg: str) -> None:
    """A blob argument: ``@alias`` (a tag or a manifest digest) or a blob digest."""
    if arg.startswith("@"):
        reference_part(arg[1:])
    else:
        Digest.parse(arg)


def _digest_or_file(arg: str) -> None:
    if os.sep not in arg:  # with a separator, a local file: hashed when the command runs
        Digest.parse(arg)


ANYTHING = Role(lambda _arg: None)
BLOB = Role(_blob)
ALIAS = Role(reference_part)
AT_ALIAS = Role(lambda arg: reference_part(arg[1:]), at_sign=True)
REPOSITORY = Role(validate_repository)
DIGEST = Role(Digest.parse)
DIGEST_OR_FILE = Role(_digest_or_file)


# -- the commands ------------------------------------------------------------------------------------
#: What a command names after its own name: a repository (``<repo>``), nothing (the whole registry
#: at DXF_HOST), or a registry host given as its argument instead of DXF_HOST.
Target = Literal["repository", "registry", "host"]


@dataclass(frozen=True)
class Command:
    """One sub-command and all its facts.

    ``synopsis`` follows ``dxf <name> [--debug]`` in the usage line. ``roles`` say what the
    positional arguments after ``<repo>`` (or ``<host>``) are, in order; when ``max_args`` is None
    the last role repeats. ``leading_alias``: an optional ``@alias`` may come before them (it does
    not count towards ``min_args``). ``args_help`` is the help for those arguments (none: hidden).
    """

    name: str
    synopsis: str
    summary: str
    description: str
    args_help: str = ""
    options: tuple[Option, ...] = ()
    roles: tuple[Role, ...] = (ANYTHING,)
    min_args: int = 0
    max_args: int | None = None
    leading_alias: bool = False
    target: Target = "repository"
    #: Progress bars are drawn (when DXF_PROGRESS or a terminal asks for them).
    progress: bool = False
    #: DXF_TOKEN is used as the bearer token (``auth`` asks for a fresh one instead).
    uses_token: bool = True

    def __post_init__(self) -> None:
        if not self.roles:  # the last role repeats: there must be one
            raise ValueError(f"command {self.name!r}: roles must name at least one role")

    def role(self, index: int) -> Role:
        """The role of the ``index``-th argument after any leading alias."""
        return self.roles[min(index, len(self.roles) - 1)]


COMMANDS: tuple[Command, ...] = (
    Command(
        "auth",
        "<repo> <action>...",
        "print a bearer token for actions (pull, push, ...) on <repo>",
        "Authenticate with DXF_USERNAME and DXF_PASSWORD (or DXF_AUTHORIZATION) and print the bearer "
        "token granting <action>s on <repo>. Prints nothing when the registry uses basic authentication "
        "or none. Put the token in DXF_TOKEN for later commands.",
        "the actions to ask for: pull, push, delete or *",
        uses_token=False,
    ),
    Command(
        "push-blob",
        "[--resume] <repo> <file>|- [@alias]",
        "upload a file (- for standard input) and print its digest",
        "Upload <file> (or, with -, everything on standard input, streamed in chunks) and print its "
        "digest. With @alias, also point the alias at the blob. With --resume, an upload of <file> "
        "that an earlier run left unfinished is continued from what the registry holds.",
        "<file> to upload (- for standard input), then an optional @alias to set",
        options=(RESUME_UPLOAD,),
        roles=(ANYTHING, AT_ALIAS),
        min_args=1,
        max_args=2,
        progress=True,
    ),
    Command(
        "pull-blob",
        "[-o FILE [--resume]] <repo> [<digest>|@alias...]",
        "write blobs to standard output (or a file with -o)",
        "Download blobs by digest, or all blobs of an alias in order, to standard output; each blob's "
        "digest is verified. With no argument, the blobs of a manifest read from standard input. With "
        "-o FILE, exactly one blob is written to FILE (atomically, only once verified; a symlink is "
        "followed, an existing file keeps its mode, a fifo or device is written into directly and "
        "checked at the end; -o - is standard output); --resume then continues a download that an "
        "earlier run did not finish.",
        "blob digests (sha256:...) or @aliases",
        options=(OUTPUT, RESUME_DOWNLOAD, CONNECTIONS),
        roles=(BLOB,),
        progress=True,
    ),
    Command(
        "blob-size",
        "<repo> [<digest>|@alias...]",
        "print the size of blobs (an alias: the sum of its blobs)",
        "Print one size per argument: a blob's size, or for an alias the sum of its blobs' sizes. With "
        "no argument, the sum for a manifest read from standard input.",
        "blob digests (sha256:...) or @aliases",
        roles=(BLOB,),
    ),
    Command(
        "mount-blob",
        "<repo> <from-repo> <digest> [@alias]",
        "mount a blob from another repository and print its digest",
        "Make a blob that exists in <from-repo> available in <repo> without uploading it, print its "
        "digest, and with @alias point the alias at it.",
        "<from-repo> holding the blob, its <digest>, then an optional @alias to set",
        roles=(REPOSITORY, DIGEST, AT_ALIAS),
        min_args=2,
        max_args=3,
    ),
    Command(
        "del-blob",
        "<repo> [<digest>|@alias...]",
        "delete blobs (for an alias: its blobs; the alias is kept)",
        "Delete blobs by digest. For @alias, the blobs it points to are deleted, not the alias itself "
        "(use del-alias for that). With no argument, the blobs of a manifest read from standard input.",
        "blob digests (sha256:...) or @aliases",
        roles=(BLOB,),
    ),
    Command(
        "set-alias",
        "<repo> <alias> <digest>|<file>...",
        "point an alias at blobs and print the manifest",
        "Point <alias> at the given blobs and print the manifest stored (no trailing newline). An "
        "argument containing a path separator is a local file: it is hashed (not uploaded) and must "
        "already have been pushed.",
        "<alias> to set, then blob digests or local files (containing a path separator)",
        roles=(ALIAS, DIGEST_OR_FILE),
        min_args=2,
    ),
    Command(
        "get-alias",
        "<repo> [<alias>...]",
        "print the digests of the blobs an alias points to",
        "For each alias, print the digests of the blobs it points to, one per line. With no argument, "
        "those of a manifest read from standard input.",
        "alias names (without @)",
        roles=(ALIAS,),
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
        roles=(ALIAS,),
    ),
    Command(
        "get-digest",
        "<repo> [<alias>...]",
        "print the digest of an alias's configuration blob",
        "For each alias, print the digest of its configuration blob (for an alias made by dxf, its first "
        "blob). With no argument, that of a manifest read from standard input.",
        "alias names (without @)",
        roles=(ALIAS,),
    ),
    Command(
        "get-manifest",
        "<repo> <alias>...",
        "print an alias's manifest as the registry stores it",
        "For each alias, print its manifest exactly as the registry returned it (no newline added).",
        "alias names (without @)",
        roles=(ALIAS,),
    ),
    Command(
        "list-aliases",
        "<repo>",
        "list the aliases in a repository",
        "Print every alias in <repo>, one per line.",
        max_args=0,
    ),
    Command(
        "push-blobs",
        "<repo> [--jobs N] [@alias] <file>...",
        "upload many files in parallel and print their digests",
        "Upload the files with up to N transfers at once (default 4) and print their digests, one per "
        "line, in the order given. With @alias before the files, point the alias at all of them in that "
        "order once every upload has finished.",
        "an optional @alias, then the files to upload",
        options=(JOBS,),
        min_args=1,
        leading_alias=True,
        progress=True,
    ),
    Command(
        "pull-blobs",
        "<repo> --output-dir DIR [--jobs N] <digest>|@alias...",
        "download many blobs in parallel into a directory",
        "Download the blobs (an alias: all of its blobs) into DIR with up to N transfers at once. Each "
        "is verified and written atomically as DIR/<algorithm>-<hex>; the paths are printed one per "
        "line, in order. DIR is created if needed.",
        "blob digests (sha256:...) or @aliases",
        options=(JOBS, OUTPUT_DIR, CONNECTIONS),
        roles=(BLOB,),
        min_args=1,
        progress=True,
    ),
    Command(
        "list-repos",
        "",
        "list the repositories in the registry",
        "Print every repository in the registry, one per line (not every registry allows this).",
        max_args=0,
        target="registry",
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
        options=(USERNAME, PASSWORD_STDIN, PASSWORD_REFUSED),
        min_args=1,
        max_args=1,
        target="host",
    ),
    Command(
        "logout",
        "<host>",
        "forget the stored credentials for a registry",
        "Remove the credentials for <host> from the credential helper Docker's config names for it "
        "and from $DOCKER_CONFIG/config.json (default ~/.docker/config.json).",
        "the registry host[:port] (DXF_HOST is not used)",
        min_args=1,
        max_args=1,
        target="host",
    ),
)
COMMANDS_BY_NAME = {command.name: command for command in COMMANDS}
