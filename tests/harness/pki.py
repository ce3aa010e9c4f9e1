"""Throwaway PKI for the integration tests.

Creates, with ``cryptography``:

* a CA certificate (the bundle clients verify against),
* a server certificate signed by that CA for ``127.0.0.1`` / ``localhost``
  (used by the registry's TLS listener and by the token server),
* an RSA key plus a self-signed certificate for the token issuer (the registry's
  ``auth.token.rootcertbundle``; tokens are signed with the key),
* a client certificate signed by the CA (``clientAuth``), for registries that require mutual TLS
  (the CA is then also the registry's ``http.tls.clientcas``).

:func:`generate_bad_certificates` writes the server certificates a client must refuse: one that has
expired, one for another host name, and a self-signed one (with a CA bundle that does not hold it).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "BadCertificates",
    "PkiPaths",
    "generate_bad_certificates",
    "generate_pki",
    "libtrust_key_id",
    "load_private_key",
]


@dataclass(frozen=True)
class PkiPaths:
    """PEM files written by :func:`generate_pki`."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    issuer_cert: Path
    issuer_key: Path
    client_cert: Path
    client_key: Path


def libtrust_key_id(public_key: PublicKeyTypes) -> str:
    """The libtrust key ID of ``public_key`` (what distribution matches a JWT ``kid`` against).

    SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 without padding
    (48 characters), in twelve ':'-separated groups of four.
    """
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """Load the issuer's RSA signing key written by :func:`generate_pki`."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dxf integration tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


def generate_pki(directory: Path, *, days: int = 7) -> PkiPaths:
    """Generate the CA, server and issuer material and write PEM files into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("dxf test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer_name = _name("dxf test token issuer")
    issuer_cert = (
        x509.CertificateBuilder()
        .subject_name(issuer_name)
        .issuer_name(issuer_name)
        .public_key(issuer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )

    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("dxf test client"))
        .issuer_name(ca_name)
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    return PkiPaths(
        ca_cert=_write(directory / "ca.crt", ca_cert.public_bytes(pem)),
        server_cert=_write(directory / "server.crt", server_cert.public_bytes(pem)),
        server_key=_write(directory / "server.key", _key_pem(server_key), private=True),
        issuer_cert=_write(directory / "issuer.crt", issuer_cert.public_bytes(pem)),
        issuer_key=_write(directory / "issuer.key", _key_pem(issuer_key), private=True),
        client_cert=_write(directory / "client.crt", client_cert.public_bytes(pem)),
        client_key=_write(directory / "client.key", _key_pem(client_key), private=True),
    )


@dataclass(frozen=True)
class BadCertificates:
    """PEM files written by :func:`generate_bad_certificates`: (certificate, key) pairs for a loopback
    server, and the CA bundle a client is told to trust (it signed ``expired`` and ``other_host``)."""

    ca_cert: Path
    expired: tuple[Path, Path]
    other_host: tuple[Path, Path]
    self_signed: tuple[Path, Path]


def _ca(
    common_name: str, not_before: datetime.datetime, not_after: datetime.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None,
    names: list[x509.GeneralName],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server certificate for ``names``, signed by ``issuer`` (or by its own key when None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    signer_key, issuer_name = (key, _name("localhost")) if issuer is None else (issuer[0], issuer[1].subject)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(signer_key, hashes.SHA256())
    )
    return key, cert


def _write_pair(
    directory: Path, stem: str, pair: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]
) -> tuple[Path, Path]:
    key, cert = pair
    return (
        _write(directory / f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
        _write(directory / f"{stem}.key", _key_pem(key), private=True),
    )


def generate_bad_certificates(directory: Path) -> BadCertificates:
    """Write a CA and three server certificates for 127.0.0.1 that verification must refuse."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    loopback: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    ca = _ca("dxf test CA (bad certificates)", now - 30 * day, now + 30 * day)
    expired = _leaf(ca, loopback, now - 20 * day, now - 10 * day)
    other_host = _leaf(ca, [x509.DNSName("registry.example.org")], now - day, now + day)
    self_signed = _leaf(None, loopback, now - day, now + day)
    return BadCertificates(
        ca_cert=_write(directory / "ca.crt", ca[1].public_bytes(serialization.Encoding.PEM)),
        expired=_write_pair(directory, "expired", expired),
        other_host=_write_pair(directory, "other-host", other_host),
        self_signed=_write_pair(directory, "self-signed", self_signed),
    )
