"""ASGI middleware in front of the endpoint: bearer-token check and request-body size limit.

It runs before routing and body parsing, so an unauthenticated request is refused with 401
without its body being read, and an oversized body is cut off at the limit instead of being
buffered whole.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["RequestGuard", "error_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(message: str, *, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """An error in the shape OpenAI clients parse (``error.message`` and friends)."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class RequestGuard:
    """Refuse requests without the right bearer token (401) or with too large a body (413).

    Both carry ``x-should-retry: false``. A CORS preflight (``OPTIONS``) passes without a token.

    Args:
        app: the wrapped ASGI application.
        api_key: the token every request under ``/v1`` must carry as ``Authorization: Bearer``;
            None lets every request through.
        max_body_bytes: the largest request body accepted.
    """

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self._key = api_key.encode("utf-8") if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        # A browser's CORS preflight (OPTIONS) never carries credentials: it is not refused here.
        protected = (
            self._key is not None and scope.get("method") != "OPTIONS" and str(scope.get("path", "")).startswith("/v1")
        )
        if protected and self._key is not None and not _authorized(headers, self._key):
            await _respond(
                send,
                401,
                error_body(
                    "missing or wrong API key (send 'Authorization: Bearer <key>')",
                    type_="invalid_request_error",
                    code="invalid_api_key",
                ),
                extra_headers=[(b"www-authenticate", b"Bearer")],
            )
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _respond(send, 413, self._too_large())
            return

        received = 0
        started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, started, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Answer 413 now and tell the app the client left: frameworks turn a reading
                    # error into their own 400, and the app's reply is dropped below.
                    refused = True
                    if not started:
                        started = True
                        await _respond(send, 413, self._too_large())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    def _too_large(self) -> dict[str, Any]:
        return error_body(
            f"request body larger than {self.max_body_bytes} bytes",
            type_="invalid_request_error",
            code="body_too_large",
        )


def _authorized(headers: dict[str, bytes], key: bytes) -> bool:
    scheme, _, token = headers.get("authorization", b"").partition(b" ")
    # Constant-time comparison, so response timing does not leak how much of a guess was right.
    return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), key)


async def _respond(
    send: Send, status: int, body: dict[str, Any], *, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        # The same request would be refused again: the official clients must not resend it.
        (b"x-should-retry", b"false"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": data})
