"""The command table of :mod:`dxf.cli.table` and what is derived from it: parsers, help, argument
rules, handlers; the one "manifest on stdin, else each argument" helper; and the package's layout
(the library never imports the command or tqdm). No registry needed."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf import exceptions as ex
from dxf.cli import grammar
from dxf.cli.commands import Runner, Subject, subjects
from dxf.cli.grammar import Invocation, check_arguments, parse_argv
from dxf.cli.table import ALIAS, AT_ALIAS, COMMANDS, COMMANDS_BY_NAME, JOBS, Command

DIGEST = "sha256:" + "ab" * 32


def test_every_command_has_a_handler_and_every_handler_a_command() -> None:
    handlers = {name[4:].replace("_", "-") for name in vars(Runner) if name.startswith("cmd_")}
    assert handlers == set(COMMANDS_BY_NAME)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_help_shows_the_record(command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_argv([command.name, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    json_usage = " [--json]" if command.json else ""
    assert text.startswith(
        " ".join(f"usage: dxf {command.name} [--debug]{json_usage} {command.synopsis}".split())
    )
    assert ("--json" in text) == command.json
    for option in command.options:
        if option.help != "==SUPPRESS==":
            assert all(flag in text for flag in option.flags)
            assert " ".join(option.help.split()) in text
    assert ("<repo>" in text) == (command.target == "repository")


# argparse itself counts a host command's one argument; a leading alias is tested on its own below
PLAIN = [c for c in COMMANDS if c.target != "host" and not c.leading_alias]


@given(st.sampled_from(PLAIN), st.integers(min_value=0, max_value=5))
def test_counts_follow_the_record(command: Command, count: int) -> None:
    argv = [command.name] + (["r"] if command.target == "repository" else []) + ["x"] * count
    argv += [arg for option in command.options if option.required for arg in (option.flags[-1], "value")]
    fits = count >= command.min_args and (command.max_args is None or count <= command.max_args)
    if any(command.role(i).at_sign for i in range(count)):
        fits = False
    with io.StringIO() as sink:
        saved, sys.stderr = sys.stderr, sink
        try:
            if fits:
                assert isinstance(parse_argv(argv), Invocation)
            else:
                with pytest.raises(SystemExit):
                    parse_argv(argv)
        finally:
            sys.stderr = saved


FROB = Command(
    "frob",
    "[--jobs N] <repo> <alias> [@alias]",
    "a command that exists only in this test",
    "Frob an alias.",
    "an alias, then an optional @alias",
    options=(JOBS,),
    roles=(ALIAS, AT_ALIAS),
    min_args=1,
    max_args=2,
)


def test_a_new_command_is_one_record(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parser, its options, the count and alias rules and the argument checks of a command all
    come from its record: adding one to the table is enough for the grammar."""
    monkeypatch.setattr(grammar, "COMMANDS", (*COMMANDS, FROB))
    monkeypatch.setattr(grammar, "COMMANDS_BY_NAME", {**COMMANDS_BY_NAME, "frob": FROB})
    parsed = parse_argv(["frob", "r", "-j", "3", "latest", "@copy"])
    assert isinstance(parsed, Invocation)
    assert (parsed.repo, parsed.args, parsed.jobs, parsed.facts) == ("r", ["latest", "@copy"], 3, FROB)
    for argv, message in [
        (["frob", "r"], "too few arguments"),
        (["frob", "r", "a", "@b", "c"], "too many arguments"),
        (["frob", "r", "a", "b"], "invalid alias"),
        (["frob", "r", "a", "--jobs", "0"], "argument -j/--jobs: must be a whole number"),
    ]:
        with pytest.raises(SystemExit):
            parse_argv(argv)
        assert f"dxf frob: error: {message}" in capsys.readouterr().err
    check_arguments("frob", ["latest", "@copy"])
    with pytest.raises(ex.DXFInvalidReferenceError):
        check_arguments("frob", ["latest", "@no/slash"])
    assert parse_argv(["--help"]) == 0
    assert "frob" in capsys.readouterr().out


def test_a_leading_alias_is_checked_then_not_counted(capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(parse_argv(["push-blobs", "r", "@a", "f"]), Invocation)
    for argv, message in [
        (["push-blobs", "r", "@a"], "too few"),
        (["push-blobs", "r", "@"], "invalid alias"),
    ]:
        with pytest.raises(SystemExit):
            parse_argv(argv)
        assert f"error: {message}" in capsys.readouterr().err
    with pytest.raises(ex.DXFInvalidReferenceError):
        check_arguments("push-blobs", ["@bad/alias", "f"])
    check_arguments("push-blobs", ["f", "@not-an-alias-here/x"])  # only a leading @ is an alias


def test_subjects_read_the_manifest_on_stdin_only_without_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"schemaVersion": 2}'))
    assert list(subjects([])) == [Subject(manifest='{"schemaVersion": 2}')]
    monkeypatch.setattr(sys, "stdin", None)  # reading it now would fail
    assert list(subjects(["a", "@b"])) == [Subject(alias="a"), Subject(alias="@b")]
    assert list(subjects(["@a", DIGEST], blobs=True)) == [Subject(alias="a"), Subject(blob=DIGEST)]
    with pytest.raises(ex.DXFManifestError, match="standard input is closed"):
        list(subjects([], blobs=True))


def test_subjects_are_lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each result is printed before the next argument is looked at (python-dxf's order of output
    and failure): the generator hands out one subject at a time."""
    monkeypatch.setattr(sys, "stdin", None)
    found = subjects([])
    with pytest.raises(ex.DXFManifestError):
        next(found)


def test_the_old_flat_modules_are_gone() -> None:
    for name in ("dxf.cli_args", "dxf.cli_env", "dxf.cli_errors", "dxf.progress"):
        assert importlib.util.find_spec(name) is None, name
    for name in ("table", "grammar", "environment", "errors", "commands", "progress"):
        assert importlib.util.find_spec(f"dxf.cli.{name}") is not None, name


def test_the_library_never_imports_the_command_or_tqdm() -> None:
    """``import dxf`` pulls in neither the command package nor tqdm; the command itself imports
    tqdm only when it draws bars (not for parsing, help or a command without bars)."""
    script = (
        "import sys, dxf, dxf.store, dxf.remote\n"
        "assert not [m for m in sys.modules if m.partition('.')[2].split('.')[0] == 'cli' or m == 'tqdm']\n"
        "from dxf.main import doit\n"
        "assert doit(['--help'], {}) == 0\n"
        "assert 'tqdm' not in sys.modules\n"
        "import dxf.cli.progress\n"
        "assert 'tqdm' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
