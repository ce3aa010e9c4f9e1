"""The ``dxf`` command: python-dxf 12.1.1's command-line tool, over our library.

``dxf <command> <repo> [args...]`` (also ``python -m dxf``). :func:`doit` takes the arguments and the
environment explicitly and returns the exit status; it writes to ``sys.stdout`` / ``sys.stderr`` as
they are when it is called, and reads only the environment keys it needs. :func:`main` is the console
entry point.

Failures never print a traceback (unless ``--debug`` or ``DXF_DEBUG=1``): each prints one line,
``dxf: <command> <repo> <args...>: <reason>``, and sets the exit status.

The pieces: :mod:`dxf.cli_args` (commands, help, parsing), :mod:`dxf.cli_env` (``DXF_*`` settings),
:mod:`dxf.cli_errors` (exception -> exit status and one line, credential redaction); this module runs
the commands.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, cast

import requests

from . import exceptions as dxf_exceptions
from .cli_args import (
    COMMANDS,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    TRANSFER_COMMANDS,
    Invocation,
    UsageError,
    parse_argv,
)
from .cli_env import ConfigError, Settings, progress_wanted, read_settings
from .cli_errors import classify, describe, redact, report
from .client import DXF, DXFBase
from .digest import hash_file
from .transfer import DEFAULT_DOWNLOAD_CHUNK

if TYPE_CHECKING:  # tqdm costs ~25 ms of start-up; it is imported only when bars are drawn
    from .progress import ProgressBars

__all__ = ["COMMANDS", "Invocation", "classify", "describe", "doit", "main", "parse_argv", "redact"]


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
        if not args:
            add(self.dxf.get_alias(manifest=_read_stdin_manifest(), sizes=want, platform=platform))
        for name in args:
            if name.startswith("@"):
                add(self.dxf.get_alias(name[1:], sizes=want, platform=platform))
            else:
                items.append(name)
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
            )
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
        for digest in digests:
            _line(digest)

    def cmd_pull_blobs(self, args: list[str]) -> None:
        sizes: dict[str, int] = {}
        items = self._blobs(args, sizes)
        if any(isinstance(item, dict) for item in items):
            raise UsageError("a multi-platform alias needs DXF_PLATFORM to choose its blobs")
        assert self.inv.output_dir is not None
        os.makedirs(self.inv.output_dir, exist_ok=True)
        if self.progress is not None:
            self.progress.add_total(None)
        digests = _dedupe([cast(str, item) for item in items])
        for path in self.dxf.pull_blobs(
            digests, self.inv.output_dir, jobs=self.inv.jobs, progress=self.progress, sizes=sizes
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
        if inv.command in TRANSFER_COMMANDS and progress_wanted(environ):
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
        report(prefix, str(e), environ)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        report(prefix, "interrupted", environ)
        return EXIT_INTERRUPTED
    except Exception as e:
        if progress is not None:
            progress.close()
        code, reason = classify(e, settings)
        if debug:
            sys.stderr.write(redact(traceback.format_exc(), environ))
        report(prefix, reason, environ)
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
