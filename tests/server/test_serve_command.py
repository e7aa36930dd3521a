"""``xolver serve`` as a user starts it: a child process, its own flags, a fake backbone on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import respond_391

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_command_end_to_end_without_leaking_keys() -> None:
    port = _free_port()
    env = {**os.environ, "XOLVER_ALLOW_MODEL_REQUESTS": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with fake_openai_server(respond_391) as (base, requests):
        argv = [
            sys.executable, "-m", "xolver", "serve", "--model", "openai/tiny", "--api-base", base,
            "--model-api-key", "provider-secret", "--api-key", "client-secret", "--port", str(port),
            "--store", "memory", "--agents", "1", "--rounds", "0",
        ]  # fmt: skip
        child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:  # wait until it listens (startup, not a timed assertion)
                try:
                    if httpx.get(f"{url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert child.poll() is None, child.stdout.read() if child.stdout else ""
                assert time.monotonic() < deadline, "xolver serve did not start"
                time.sleep(0.1)
            assert httpx.get(f"{url}/v1/models").status_code == 401
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="client-secret", max_retries=0)
            stream = client.chat.completions.create(
                model="xolver",
                messages=[{"role": "user", "content": "What is 17 * 23?"}],
                stream=True,
            )
            answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert answer == "391"
            # The backbone got the provider key, never the clients' key.
            assert {r["_auth"] for r in requests} == {"Bearer provider-secret"}
        finally:
            child.terminate()
            output, _ = child.communicate(timeout=30)
    assert "authentication on" in output
    assert "provider-secret" not in output and "client-secret" not in output
