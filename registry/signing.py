"""Webhook signatures: HMAC-SHA256 over "<timestamp>." + body, keyed by the channel's secret.

Pure Python, no Django, so a receiver can copy this file as it is. The timestamp is part of the
signed message so that a captured request cannot be replayed later: a receiver refuses timestamps
older than a few minutes, and an attacker cannot move the timestamp without the secret.

How a receiver checks a Keel delivery (any framework; Flask shown)::

    from signing import verify

    @app.post("/keel-hook")
    def keel_hook():
        if not verify(KEEL_SECRET,
                      request.headers["X-Keel-Timestamp"],
                      request.get_data(),                    # the raw bytes, before any JSON parsing
                      request.headers["X-Keel-Signature"]):
            abort(401)
        event = request.get_json()
        # X-Keel-Delivery is the same on every retry of one delivery: use it to drop duplicates.

Verify the raw body: re-serialising parsed JSON changes the bytes and the signature with them.
"""

import hashlib
import hmac
import time

__all__ = ["sign", "verify"]

SCHEME = "sha256="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Keel-Signature value for `body` sent at `timestamp` (Unix seconds)."""
    message = f"{int(timestamp)}.".encode() + body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """True when `signature` is Keel's for this body and timestamp, and the timestamp is within
    `tolerance_seconds` of `now` (either side, to forgive clock skew). Never raises on bad input."""
    try:
        timestamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if not isinstance(signature, str) or not isinstance(body, bytes | bytearray):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        return False
    # compare_digest takes the same time wherever the strings differ, so the signature cannot be
    # guessed byte by byte from response times.
    return hmac.compare_digest(sign(secret, timestamp, bytes(body)).encode(), signature.encode())
