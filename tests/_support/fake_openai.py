"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI chat API for litellm.

Each request is answered by a function of the parsed JSON body returning (status, reply), where the
reply is the text or a `FakeReply` (text plus a separate reasoning field and a finish reason); the
server records every request so tests can count retries. ``one_at_a_time=True`` with a ``delay``
behaves like llama.cpp's server: one request is processed at a time, the others wait their turn.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class FakeReply:
    """A reply with the fields reasoning servers add: ``reasoning_content`` and ``finish_reason``."""

    content: str
    reasoning_content: str | None = None
    finish_reason: str = "stop"
    tool_calls: list[dict[str, Any]] | None = None
    """OpenAI ``tool_calls`` entries (``id``, ``type``, ``function``: ``name``, ``arguments``)."""


Responder = Callable[[dict[str, Any]], tuple[int, "str | FakeReply"]]


def _reply(reply: str | FakeReply) -> FakeReply:
    return reply if isinstance(reply, FakeReply) else FakeReply(reply)


def completion_body(text: str | FakeReply, model: str = "fake") -> dict[str, Any]:
    reply = _reply(text)
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning_content is not None:
        message["reasoning_content"] = reply.reasoning_content
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests, not an error


@contextmanager
def fake_openai_server(
    respond: Responder, *, one_at_a_time: bool = False, delay: float = 0.0
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yields (api_base, requests).

    Args:
        respond: answers each request body with (status, reply).
        one_at_a_time: process one request at a time; the others wait (a one-slot local server).
        delay: seconds each request takes to process.
    """
    requests: list[dict[str, Any]] = []
    slot = threading.Lock() if one_at_a_time else None

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            body["_auth"] = self.headers.get("Authorization")
            requests.append(body)
            if slot is None:
                self._answer(body)
                return
            with slot:
                self._answer(body)

        def _answer(self, body: dict[str, Any]) -> None:
            if delay:
                time.sleep(delay)
            status, text = respond(body)
            if status == 200 and body.get("stream"):
                self._stream(text, body.get("model", "fake"))
                return
            if status == 200:
                payload = completion_body(text, body.get("model", "fake"))
            else:
                payload = {"error": {"message": text, "type": "error", "code": status}}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, text: str | FakeReply, model: str) -> None:
            reply = _reply(text)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            thinking = reply.reasoning_content or ""
            deltas = [("reasoning_content", thinking[i : i + 4]) for i in range(0, len(thinking), 4)]
            deltas += [("content", reply.content[i : i + 4]) for i in range(0, len(reply.content), 4)]
            for key, piece in deltas:
                chunk = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "delta": {"role": "assistant", key: piece}, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            for index, call in enumerate(reply.tool_calls or []):
                # As OpenAI streams a call: id and name first, the arguments in pieces after.
                arguments = call["function"]["arguments"]
                parts: list[dict[str, Any]] = [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
                parts += [
                    {"index": index, "function": {"arguments": arguments[i : i + 5]}}
                    for i in range(0, len(arguments), 5)
                ]
                for part in parts:
                    tool_chunk = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": {"tool_calls": [part]}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(tool_chunk)}\n\n".encode())
            stop = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}],
            }
            self.wfile.write(f"data: {json.dumps(stop)}\n\n".encode())
            final = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": 11, "completion_tokens": len(deltas), "total_tokens": 11 + len(deltas)},
            }
            self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", requests
    finally:
        server.shutdown()
        server.server_close()
