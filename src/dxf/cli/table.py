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
from ..reference import TransportReference, validate_repository
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
    "connections one large blob may use at once, fetching byte ranges (default 4, or DXF_CONNECTIONS); "
    "to standard output they are reassembled in order in bounded memory",
    metavar="C",
    type=_jobs,
)
OUTPUT_DIR = Option(("--output-dir",), "directory to write the blobs into", metavar="DIR", required=True)
ARTIFACT_OUTPUT_DIR = Option(
    ("--output-dir",), "directory to restore the files into", metavar="DIR", required=True
)
ARTIFACT_TYPE = Option(("--artifact-type",), "the artifact's type (a media type)", metavar="TYPE")
ARTIFACT_TYPE_REQUIRED = Option(
    ("--artifact-type",), "the artifact's type (a media type)", metavar="TYPE", required=True
)
ARTIFACT_TYPE_FILTER = Option(("--artifact-type",), "list only referrers of this type", metavar="TYPE")
ANNOTATION = Option(
    ("--annotation",),
    "an annotation of the artifact's manifest (repeatable)",
    metavar="KEY=VALUE",
    action="append",
)
CONFIG = Option(("--config",), "a config blob instead of the empty one", metavar="FILE[:MEDIATYPE]")
SUBJECT = Option(
    ("--subject",), "make the artifact refer to this manifest (see referrers)", metavar="@alias|DIGEST"
)
#: ``--json`` is not listed in a record's options: a record says ``json=True`` and the grammar adds it.
JSON_OUTPUT = Option(
    ("--json",), "print one JSON document on standard output instead of lines", action="store_true"
)
USERNAME = Option(("-u", "--username"), "user name (default: ask)", metavar="USER")
PASSWORD_STDIN = Option(("--password-stdin",), "read the password from standard input", action="store_true")
SRC_INSECURE = Option(("--src-insecure",), "plain HTTP to the source registry", action="store_true")
DEST_INSECURE = Option(("--dest-insecure",), "plain HTTP to the destination registry", action="store_true")
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
#: ``@alias`` or a manifest digest (checked as a blob argument is).
MANIFEST = Role(_blob)
ALIAS = Role(reference_part)
AT_ALIAS = Role(lambda arg: reference_part(arg[1:]), at_sign=True)
REPOSITORY = Role(validate_repository)
DIGEST = Role(Digest.parse)
DIGEST_OR_FILE = Role(_digest_or_file)
PLACE = Role(TransportReference.parse)


# -- the commands ------------------------------------------------------------------------------------
#: What a command names after its own name: a repository (``<repo>``), nothing (the whole registry
#: at DXF_HOST), a registry host given as its argument instead of DXF_HOST, or places written in
#: skopeo's transport syntax (``docker://...``, ``oci:...``) that name their own hosts.
Target = Literal["repository", "registry", "host", "places"]


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
    #: ``--json`` is offered: the result as one JSON document (see the README for each shape).
    json: bool = False

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
        json=True,
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
        json=True,
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
        json=True,
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
        json=True,
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
        "Print every alias in <repo>, one per line, following the registry's pages; each page is "
        "printed as it arrives.",
        max_args=0,
        json=True,
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
        json=True,
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
        "Print every repository in the registry, one per line (not every registry allows this), "
        "following the registry's pages; each page is printed as it arrives.",
        max_args=0,
        target="registry",
        json=True,
    ),
    Command(
        "push-artifact",
        "<repo> @alias <file>[:<mediatype>]... [--artifact-type TYPE] [--annotation KEY=VALUE]... "
        "[--config FILE[:MEDIATYPE]] [--subject @alias|DIGEST] [--jobs N]",
        "store named files as an OCI artifact; print its digest",
        "Upload the files with up to N transfers at once (default 4) and point @alias at an OCI "
        "artifact of them (image-spec v1.1 artifact guidance): each file is a layer with its media "
        "type (default application/octet-stream) and its base name as org.opencontainers.image.title; "
        "the config is the empty one unless --config; the manifest gets the --annotations and "
        "org.opencontainers.image.created. A directory is packed as a gzip-compressed tar that "
        "pull-artifact unpacks. With --subject the artifact refers to that manifest (see referrers). "
        "Prints the manifest digest.",
        "@alias to set, then the files (or directories), each optionally :MEDIATYPE",
        options=(ARTIFACT_TYPE, ANNOTATION, CONFIG, SUBJECT, JOBS),
        roles=(AT_ALIAS, ANYTHING),
        min_args=2,
        json=True,
    ),
    Command(
        "pull-artifact",
        "<repo> @alias|<digest> --output-dir DIR [--jobs N]",
        "restore an artifact's files into a directory",
        "Download every layer of the artifact (up to N at once, each verified) and restore it in DIR "
        "under its title (a packed directory is unpacked; a layer without a title is saved as "
        "<algorithm>-<hex>); the paths are printed one per line. All or nothing: nothing is placed "
        "unless every layer arrived. A title that is absolute, contains .., or leads out of DIR "
        "through a symlink, two layers with one title, and a packed member leading out of its "
        "directory are refused with nothing written.",
        "@alias or manifest digest of the artifact",
        options=(ARTIFACT_OUTPUT_DIR, JOBS),
        roles=(MANIFEST,),
        min_args=1,
        max_args=1,
    ),
    Command(
        "attach",
        "<repo> @alias|<digest> --artifact-type TYPE <file>... [--annotation KEY=VALUE]...",
        "attach files to a manifest; print the new artifact's digest",
        "Store the files as an OCI artifact of TYPE whose subject is the given manifest, without an "
        "alias of its own, and print its digest. Where the registry has no referrers API (e.g. "
        "distribution 2.8), the referrers index tagged <algorithm>-<hex> of the subject is updated.",
        "@alias or manifest digest to attach to, then the files",
        options=(ARTIFACT_TYPE_REQUIRED, ANNOTATION),
        roles=(MANIFEST, ANYTHING),
        min_args=2,
    ),
    Command(
        "referrers",
        "<repo> @alias|<digest> [--artifact-type TYPE]",
        "list the artifacts attached to a manifest",
        "Print one line per artifact whose subject is the given manifest: its digest and artifact "
        "type, then one indented KEY=VALUE line per annotation. Uses the registry's referrers API, or "
        "the referrers index tagged <algorithm>-<hex> where there is none.",
        "@alias or manifest digest",
        options=(ARTIFACT_TYPE_FILTER,),
        roles=(MANIFEST,),
        min_args=1,
        max_args=1,
        json=True,
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
    Command(
        "gc",
        "<repo>",
        "remove unreferenced blobs from an OCI layout",
        "With DXF_HOST=oci:PATH only: remove every blob and manifest of the layout PATH/<repo> that "
        "no alias reaches any more (and temporary files an interrupted write left), printing "
        '"<digest> <size>" for each, then "freed N bytes". Run it while nothing else writes to '
        "the layout. A registry collects its own garbage.",
        max_args=0,
    ),
    Command(
        "copy",
        "[--jobs N] [--src-insecure] [--dest-insecure] <src> <dest>",
        "copy an alias and its blobs between registries and layouts",
        "Copy the manifest <src> names (an index: all its manifests too) and every blob they "
        "reference to <dest>, byte for byte, so every digest stays the same, and print its digest. "
        "Each is docker://HOST/REPO:ALIAS, docker://HOST/REPO@sha256:..., oci:PATH:ALIAS or "
        "oci:PATH@sha256:... (PATH: one OCI image layout directory, created when needed). Blobs the "
        "destination has are skipped; within one registry they are mounted; the rest stream from "
        "source to destination, up to N at once (default 4). The alias is set last, so a copy that "
        "fails leaves none, and running it again moves only what is missing. DXF_USERNAME, "
        "DXF_PASSWORD, DXF_AUTHORIZATION and DXF_TOKEN apply to DXF_HOST's registry; other hosts use "
        "Docker's stored credentials or none. DXF_INSECURE=1 means both --src-insecure and "
        "--dest-insecure.",
        "<src> and <dest> in skopeo's transport syntax (docker://... or oci:...)",
        options=(JOBS, SRC_INSECURE, DEST_INSECURE),
        roles=(PLACE,),
        min_args=2,
        max_args=2,
        target="places",
        progress=True,
    ),
)
COMMANDS_BY_NAME = {command.name: command for command in COMMANDS}
