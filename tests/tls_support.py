"""Throwaway certificates and a loopback HTTPS image server for the TLS tests.

Certificates are made at test time with ``cryptography`` (EC P-256: key
generation takes milliseconds, unlike RSA) and carry the extensions that
strict X.509 verification (Python 3.13's default) asks for, so the tests do
not depend on the Python version's leniency. The server is the hostile image
server of ``images_support`` behind ``SSLContext.wrap_socket``; it records the
SNI of every handshake and the Host header of every request.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from images_support import ImageServer

_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: Issued | None, key, not_after: datetime.datetime):
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    signer_public = issuer.key.public_key() if issuer else public
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.cert.subject if issuer else _name(subject))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now - _DAY, not_after - _DAY))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False
        )
    )


def make_ca(common_name: str = "Flamingo Kit Test CA") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = datetime.datetime.now(datetime.timezone.utc) + 30 * _DAY
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        _builder(common_name, None, key, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_server_cert(ca: Issued, names: tuple[str, ...], *, expired: bool = False) -> Issued:
    """A leaf for ``names`` (DNS names or IP literals) signed by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [_san(name) for name in names]
    cert = (
        _builder(names[0], ca, key, now - _DAY if expired else now + 30 * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def write_pem(directory: Path, stem: str, issued: Issued) -> tuple[Path, Path]:
    """``stem.pem`` (certificate) and ``stem.key`` under ``directory``."""
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TLSImageServer(ImageServer):
    """The image server over TLS. Handshakes run in the per-connection thread."""

    def __init__(self, host: str, cert: Path, key: Path, internal_port: int = 0) -> None:
        super().__init__(host, internal_port)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.tls.sni_callback = self._saw_sni
        self.snis: list[str | None] = []  # one per handshake that reached the SNI step
        self.hosts: list[str] = []  # Host header of every request
        self.handshake_errors: list[str] = []

    def _saw_sni(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            self.snis.append(name)

    def record(self, path: str, headers: dict) -> None:
        super().record(path, headers)
        with self._lock:
            self.hosts.append(headers.get("Host", ""))

    def finish_request(self, request: socket.socket, client_address) -> None:
        try:
            tls_sock = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:  # the client refused us: what some tests expect
            with self._lock:
                self.handshake_errors.append(repr(err))
            return
        with tls_sock:
            super().finish_request(tls_sock, client_address)

    def start(self) -> TLSImageServer:
        # A short poll keeps stop() (which waits for the poll loop) from costing 0.5 s each.
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def url(self, path: str, name: str = "images.test") -> str:
        return f"https://{name}:{self.server_address[1]}{path}"


class HandshakeDripServer:
    """Accepts TCP, then drips a TLS record header and its body one byte at a time.

    With ``hang_up`` it instead reads the ClientHello and closes: a peer gone mid-handshake.
    """

    def __init__(self, delay_s: float = 0.3, hang_up: bool = False) -> None:
        self.delay_s = delay_s
        self.hang_up = hang_up
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()

    def start(self) -> HandshakeDripServer:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        # A handshake record claiming 16000 bytes: the client waits for all of them.
        with conn:
            try:
                if self.hang_up:
                    conn.recv(4096)
                    return
                conn.sendall(b"\x16\x03\x03\x3e\x80")
                while not self._stop.is_set():
                    conn.sendall(b"\x00")
                    time.sleep(self.delay_s)
            except OSError:
                pass  # the client hung up, as it should

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()
