"""Shared pytest fixtures: real distribution registries in three auth modes.

* ``registry_plain`` / ``registry_basic`` / ``registry_token``: one session-wide registry each;
* ``registry``: parametrized over the three (ids ``plain``, ``basic``, ``token``);
* ``short_token_registry``: a fresh token-mode registry per test whose tokens say
  ``expires_in: 3`` and really stop working 3 s after issue (its token server has
  ``strict_expiry`` on to cancel distribution 2.8's 60 s leeway on ``exp``);
* ``registry_mtls``: a session-wide TLS registry that requires the harness client certificate;
* ``repo_name``: a unique, valid repository name per test;
* ``proxy``: a :class:`harness.proxy.FaultProxy` in front of ``registry_plain``, per test;
* ``clean_dxf_environment``: no ``DXF_*`` variables in ``os.environ`` during the test;
* ``exchanges``: what dxf sent during the test (:class:`harness.hooks.Exchanges`).

The whole session runs with ``HOME``, ``DOCKER_CONFIG`` and ``XDG_RUNTIME_DIR`` pointing at empty
temporary directories and without ``REGISTRY_AUTH_FILE``, so credentials a developer keeps in
``~/.docker`` or podman's auth file can neither change a test's outcome nor be touched by one.

A registry that cannot start raises (the test errors loudly); nothing is ever skipped.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from dxf.transport import observe
from harness import figures
from harness.hooks import Exchanges
from harness.pki import PkiPaths, generate_pki
from harness.proxy import FaultProxy
from harness.registry import MODES, RegistryProcess, start_registry

_repo_counter = itertools.count(1)

# A fresh environment's first st.text() builds Hypothesis's Unicode tables (over a second here), and
# CI machines are shared: generation time and per-example deadlines measure the machine, not our
# parsers. The properties themselves are unchanged.
settings.register_profile("dxf", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("dxf")


def pytest_configure(config: pytest.Config) -> None:
    """Keep each run's outcomes and recorded figures (see :mod:`harness.figures`)."""
    figures.pytest_configure(config)


def _start(
    mode: str, workdir: Path, pki: PkiPaths, *, token_expires_in: int = 300, strict: bool = False
) -> RegistryProcess:
    return start_registry(
        mode, workdir, pki=pki, token_expires_in=token_expires_in, strict_token_expiry=strict
    )


@pytest.fixture(scope="session", autouse=True)
def _no_personal_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("DOCKER_CONFIG", str(home / ".docker"))
        patch.setenv("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
        patch.delenv("REGISTRY_AUTH_FILE", raising=False)
        yield


@pytest.fixture(scope="session")
def harness_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    """One throwaway CA / server certificate / token issuer key for the whole session."""
    return generate_pki(tmp_path_factory.mktemp("pki"))


def _session_registry(
    mode: str, tmp_path_factory: pytest.TempPathFactory, pki: PkiPaths
) -> Iterator[RegistryProcess]:
    reg = _start(mode, tmp_path_factory.mktemp(f"registry-{mode}"), pki)
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture(scope="session")
def registry_plain(
    tmp_path_factory: pytest.TempPathFactory, harness_pki: PkiPaths
) -> Iterator[RegistryProcess]:
    yield from _session_registry("plain", tmp_path_factory, harness_pki)


@pytest.fixture(scope="session")
def registry_basic(
    tmp_path_factory: pytest.TempPathFactory, harness_pki: PkiPaths
) -> Iterator[RegistryProcess]:
    yield from _session_registry("basic", tmp_path_factory, harness_pki)


@pytest.fixture(scope="session")
def registry_token(
    tmp_path_factory: pytest.TempPathFactory, harness_pki: PkiPaths
) -> Iterator[RegistryProcess]:
    yield from _session_registry("token", tmp_path_factory, harness_pki)


@pytest.fixture(scope="session")
def registry_mtls(
    tmp_path_factory: pytest.TempPathFactory, harness_pki: PkiPaths
) -> Iterator[RegistryProcess]:
    yield from _session_registry("mtls", tmp_path_factory, harness_pki)


@pytest.fixture(params=list(MODES), ids=list(MODES))
def registry(request: pytest.FixtureRequest) -> RegistryProcess:
    """The session registry of each mode in turn."""
    reg: RegistryProcess = request.getfixturevalue(f"registry_{request.param}")
    return reg


@pytest.fixture
def short_token_registry(tmp_path: Path, harness_pki: PkiPaths) -> Iterator[RegistryProcess]:
    """A fresh token-mode registry whose tokens last 3 s (``expires_in: 3``, ``strict_expiry``)."""
    reg = _start("token", tmp_path / "short-token-registry", harness_pki, token_expires_in=3, strict=True)
    yield reg
    reg.close()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """``test/<sanitised test name>-<n>``: lowercase, only ``[a-z0-9-/]``, unique per test."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:80].strip("-") or "t"
    return f"test/{base}-{next(_repo_counter)}"


@pytest.fixture
def proxy(registry_plain: RegistryProcess) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the plain registry, for one test."""
    with FaultProxy("127.0.0.1", registry_plain.port) as p:
        yield p


@pytest.fixture
def clean_dxf_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``DXF_*`` or CA-bundle variable left in ``os.environ``: the command and ``doit`` must use
    the environment they are given (use with ``pytestmark = pytest.mark.usefixtures(...)``)."""
    for key in list(os.environ):
        if key.startswith("DXF_") or key in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(key)


@pytest.fixture
def exchanges() -> Iterator[Exchanges]:
    """Every request dxf sends during the test, as :func:`dxf.transport.observe` reports it."""
    recorder = Exchanges()
    with observe(recorder):
        yield recorder
