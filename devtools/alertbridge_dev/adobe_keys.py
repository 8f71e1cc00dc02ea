"""A local stand-in for Adobe's key host, and signing as Adobe signs.

Used by the tests and by ``alertbridge demo``: an RSA key pair, its public key served
over loopback HTTP at ``/prod/keys/pub-key-<id>.pem``, and the two signature headers
for a body (RSA-SHA256, PKCS#1 v1.5, base64).
"""

from __future__ import annotations

import base64
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class SigningKey:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.path = f"/prod/keys/pub-key-{uuid.uuid4().hex}.pem"

    def __repr__(self) -> str:
        return f"SigningKey(path={self.path!r})"

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, body: bytes) -> str:
        signature = self.private.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


class KeyServer:
    """Serves PEM public keys by path on 127.0.0.1; counts requests per path."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                pem = server.keys.get(self.path)
                self.send_response(200 if pem else 404)
                self.send_header("Content-Type", "application/x-pem-file")
                self.end_headers()
                if pem:
                    self.wfile.write(pem)

            def log_message(self, *_: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> KeyServer:
        self._thread.start()
        return self

    def publish(self, key: SigningKey) -> SigningKey:
        self.keys[key.path] = key.public_pem()
        return key

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def signed_headers(
    body: bytes, first: SigningKey, second: SigningKey | None = None
) -> dict[str, str]:
    """The headers Adobe I/O Events sends with a webhook delivery."""
    second = second or first
    return {
        "Content-Type": "application/json",
        "x-adobe-digital-signature-1": first.sign(body),
        "x-adobe-public-key1-path": first.path,
        "x-adobe-digital-signature-2": second.sign(body),
        "x-adobe-public-key2-path": second.path,
    }
