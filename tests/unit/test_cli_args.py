"""The ``dxf`` command's argument handling, help, version and error formatting: no registry needed."""

from __future__ import annotations

import gc
import io
import sys

import pytest
import requests

from dxf import __version__
from dxf import exceptions as ex
from dxf.cli.progress import ProgressBars, short_label
from dxf.main import COMMANDS, Invocation, classify, describe, doit, main, parse_argv, redact, run_command

DIGEST = "sha256:" + "ab" * 32


def parse(argv: list[str]) -> Invocation:
    parsed = parse_argv(argv)
    assert isinstance(parsed, Invocation), parsed
    return parsed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["push-blob", "r"], "too few arguments"),
        (["push-blob", "r", "f", "@a", "x"], "too many arguments"),
        (["push-blob", "r", "f", "alias"], "invalid alias"),
        (["push-blob", "r", "f", "@"], "invalid alias"),
        (["mount-blob", "r", "other"], "too few arguments"),
        (["mount-blob", "r", "other", DIGEST, "@a", "x"], "too many arguments"),
        (["mount-blob", "r", "other", DIGEST, "alias"], "invalid alias"),
        (["set-alias", "r", "alias"], "too few arguments"),
        (["set-alias", "r"], "too few arguments"),
        (["list-aliases", "r", "x"], "too many arguments"),
        (["list-repos", "x"], "too many arguments"),
        (["pull-blob"], "the following arguments are required: <repo>"),
        (["get-alias"], "the following arguments are required: <repo>"),
        (["pull-blob", "r", "-x"], "unrecognized arguments: -x"),
        (["push-blob", "r", "f", "-o", "x"], "unrecognized arguments: -o x"),
        (["pull-blob", "r", "-o"], "argument -o/--output: expected one argument"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:  # python-dxf's doit: argparse's parser.error
        doit(argv, {})
    assert exited.value.code == 2
    assert run_command(argv, {}) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"usage: dxf {argv[0]} ")
    assert err.count(f"dxf {argv[0]}: error: {message}\n") == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["push-blob", "r", "f"],
        ["push-blob", "r", "f", "@a"],
        ["push-blob", "r", "-"],
        ["mount-blob", "r", "o", DIGEST],
        ["mount-blob", "r", "o", DIGEST, "@a"],
        ["set-alias", "r", "a", DIGEST],
        ["set-alias", "r", "a", DIGEST, "./file", DIGEST],
        ["list-aliases", "r"],
        ["list-repos"],
        ["pull-blob", "r"],
        ["del-alias", "r"],
        ["get-manifest", "r"],
        ["auth", "r"],
        ["auth", "r", "pull", "push"],
    ],
)
def test_valid_counts(argv: list[str]) -> None:
    inv = parse(argv)
    assert inv.command == argv[0]
    assert inv.args == argv[2:]


def test_positionals_and_options_intermix() -> None:
    inv = parse(["pull-blob", "repo", "@alias", "-o", "out", DIGEST])
    assert (inv.repo, inv.args, inv.output, inv.debug) == ("repo", ["@alias", DIGEST], "out", False)
    inv = parse(["--debug", "pull-blob", "-o", "out", "repo", DIGEST])
    assert (inv.repo, inv.args, inv.output, inv.debug) == ("repo", [DIGEST], "out", True)
    inv = parse(["pull-blob", "repo", DIGEST, "--debug"])
    assert inv.debug and inv.args == [DIGEST] and inv.output is None
    assert parse(["push-blob", "repo", "-", "@a"]).args == ["-", "@a"]
    assert parse(["pull-blob", "repo", "--", "-strange"]).args == ["-strange"]
    assert parse(["list-repos"]).repo is None


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert doit(["--version"], {}) == 0
    assert capsys.readouterr().out == f"dxf {__version__}\n"
    assert doit(["--help"], {}) == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command.name in text and command.summary in text
    for variable in ("DXF_HOST", "DXF_INSECURE", "DXF_TOKEN", "DXF_CHUNK_SIZE", "DXF_TIMEOUT", "DXF_RETRIES"):
        assert variable in text
    assert "exit status" in text
    for rule in ("[::1]:5000", "1/0, true/false, yes/no or on/off", "143 SIGTERM, 129 SIGHUP", "4 MiB"):
        assert rule in text
    with pytest.raises(SystemExit) as exited:  # argparse's --help, as in python-dxf
        doit(["pull-blob", "--help"], {})
    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert "usage: dxf pull-blob" in out and "--output" in out and err == ""
    assert run_command(["pull-blob", "--help"], {}) == 0
    assert "usage: dxf pull-blob" in capsys.readouterr().out
    assert run_command([], {}) == 2
    out, err = capsys.readouterr()
    assert out == "" and "push-blob" in err and "DXF_HOST" in err


def test_unknown_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(["frobnicate", "r"], {}) == 2
    assert "invalid command 'frobnicate'" in capsys.readouterr().err
    assert run_command(["--frob"], {}) == 2
    assert "unrecognized arguments: --frob" in capsys.readouterr().err
    for argv in (["frobnicate", "r"], ["--frob"], []):
        with pytest.raises(SystemExit) as exited:
            doit(argv, {})
        assert exited.value.code == 2


def test_describe_shortens_digests() -> None:
    inv = parse(["pull-blob", "foo/bar", DIGEST, "@" + DIGEST, "@tag"])
    assert describe(inv) == "pull-blob foo/bar sha256:abababababab… @sha256:abababababab… @tag"


def _response(status: int, reason: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    return response


def test_classify_exit_codes() -> None:
    assert classify(ex.DXFUnauthorizedError(_response(401, "Unauthorized")), None)[0] == 13
    assert classify(ex.DXFNotFoundError("404 Not Found", _response(404, "Not Found")), None) == (
        2,
        "404 Not Found",
    )
    plain_404 = requests.exceptions.HTTPError(
        "404 for url http://x/?secret", response=_response(404, "Not Found")
    )
    assert classify(plain_404, None) == (2, "404 Not Found")
    assert classify(ex.DXFHTTPError("500 Oops", _response(500, "Oops")), None) == (1, "500 Oops")
    code, reason = classify(ex.DXFDigestMismatchError("sha256:1", "sha256:2"), None)
    assert code == 1 and "expected digest sha256:2, got sha256:1" in reason
    assert classify(FileNotFoundError(2, "No such file or directory", "x.dat"), None) == (
        1,
        "x.dat: No such file or directory",
    )
    assert classify(ex.DXFInvalidReferenceError("invalid digest"), None) == (1, "invalid digest")
    assert classify(RuntimeError("boom"), None) == (1, "internal error: RuntimeError: boom")


def test_redact_hides_every_credential() -> None:
    environ = {
        "DXF_USERNAME": "fred",
        "DXF_PASSWORD": "pa55",
        "DXF_TOKEN": "tok123",
        "DXF_AUTHORIZATION": "Basic zzz",
    }
    text = redact("pa55 tok123 Basic zzz ZnJlZDpwYTU1 fred", environ)
    assert text == "<hidden> <hidden> <hidden> <hidden> fred"


def test_progress_bars_open_and_close() -> None:
    err = io.StringIO()
    bars = ProgressBars(err)
    bars(DIGEST, b"", 10)
    bars(DIGEST, b"12345", 10)
    assert bars.open_bars == 1
    bars(DIGEST, b"67890", 10)
    assert bars.open_bars == 0
    assert "sha256:abababababab" in err.getvalue() and "10.0B/10.0B" in err.getvalue()
    bars("(stream)", b"")
    bars("(stream)", b"xyz")
    assert bars.open_bars == 1
    bars.close()
    assert bars.open_bars == 0 and "(stream)" in err.getvalue()
    assert short_label(DIGEST) == "sha256:abababababab" and short_label("(stream)") == "(stream)"


def test_progress_sizes_are_decimal_as_labelled() -> None:
    """tqdm prints "kB"/"MB": the numbers must be decimal (3,000,000 bytes is 3.00MB, not 2.86MB)."""
    err = io.StringIO()
    with ProgressBars(err) as bars:
        bars(DIGEST, b"", 3_000_000)
        bars(DIGEST, b"x" * 3_000_000, 3_000_000)
    assert "sha256:abababababab" in err.getvalue()
    assert "3.00MB/3.00MB" in err.getvalue(), err.getvalue()


def test_console_entry_spares_the_exit_collection_its_startup_objects(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main`` freezes what the imports made (issue 13, part 5: ~0.02 s less per command), and still
    prints and exits as before."""
    monkeypatch.setattr(sys, "argv", ["dxf", "--version"])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # give this test process's objects back to the collector
    assert exited.value.code == 0
    assert __version__ in capsys.readouterr().out
    assert frozen > 1000
