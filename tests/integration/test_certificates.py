"""Certificates a client must refuse: expired, issued for another host name, self-signed without its CA.

Each is served by a loopback HTTPS server (:mod:`harness.loopback`) with certificates from
:func:`harness.pki.generate_bad_certificates`; the command is told to trust the CA that signed the first
two. Each refusal is one line that names the problem and the setting that addresses it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_cli import fails, ok

from harness.loopback import LoopbackServer, QuietHandler
from harness.pki import BadCertificates, generate_bad_certificates


class TagsHandler(QuietHandler):
    """Enough of a registry for ``list-aliases``: /v2/ and an empty tag list."""

    def do_GET(self) -> None:
        body = b"{}" if self.path == "/v2/" else b'{"name":"team/data","tags":["one"]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def bad_certificates(tmp_path_factory: pytest.TempPathFactory) -> BadCertificates:
    return generate_bad_certificates(tmp_path_factory.mktemp("bad-pki"))


@pytest.fixture(params=["expired", "other_host", "self_signed"])
def served(request: pytest.FixtureRequest, bad_certificates: BadCertificates) -> Iterator[tuple[str, str]]:
    """(which certificate, host) of a loopback HTTPS server presenting it."""
    cert, key = getattr(bad_certificates, request.param)
    with LoopbackServer(TagsHandler, tls=(str(cert), str(key))) as server:
        yield request.param, server.host


#: What the one line must say for each certificate: the problem, then the way out.
EXPECTED = {
    "expired": ("certificate has expired", "DXF_SKIPTLSVERIFY=1"),
    "other_host": ("issued for another host name", "DXF_HOST"),
    "self_signed": ("self-signed or signed by an unknown CA", "DXF_TLSVERIFY"),
}


def test_refused_certificate_is_one_clear_line(
    served: tuple[str, str], bad_certificates: BadCertificates
) -> None:
    which, host = served
    env = {"DXF_HOST": host, "DXF_TLSVERIFY": str(bad_certificates.ca_cert), "DXF_RETRIES": "0"}
    line = fails(["list-aliases", "team/data"], env, 1).err
    problem, remedy = EXPECTED[which]
    assert problem in line and remedy in line, line
    assert "DXF_SKIPTLSVERIFY" in line, line
    # the remedy the line offers works
    assert ok(["list-aliases", "team/data"], {**env, "DXF_SKIPTLSVERIFY": "1"}).lines == ["one"]


def test_self_signed_certificate_trusted_through_dxf_tlsverify(bad_certificates: BadCertificates) -> None:
    cert, key = bad_certificates.self_signed
    with LoopbackServer(TagsHandler, tls=(str(cert), str(key))) as server:
        assert ok(
            ["list-aliases", "team/data"], {"DXF_HOST": server.host, "DXF_TLSVERIFY": str(cert)}
        ).lines == ["one"]
