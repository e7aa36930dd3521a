"""`ConcurrencyLimit` (requests in flight per model) and which servers get a limit by default."""

from __future__ import annotations

import asyncio
import threading

import pytest

from xolver.models.limits import ConcurrencyLimit, default_max_concurrency, is_loopback_url


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.1.2.3:8080", True),
        ("http://localhost:11434", True),
        ("http://LOCALHOST:11434", True),
        ("http://[::1]:8000/v1", True),
        ("127.0.0.1:8000/v1", True),
        ("http://0.0.0.0:8000", True),
        ("https://api.openai.com/v1", False),
        ("http://192.168.1.20:8000/v1", False),
        ("http://localhost.example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_url(url: str | None, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_default_max_concurrency() -> None:
    assert default_max_concurrency("ollama_chat/qwen2.5", None) == 1
    assert default_max_concurrency("ollama/llama3", "http://gpu-box:11434") == 1
    assert default_max_concurrency("lm_studio/qwen", None) == 1
    assert default_max_concurrency("openai/qwen", "http://127.0.0.1:8000/v1") == 1
    assert default_max_concurrency("openai/gpt-4o-mini", None) is None
    assert default_max_concurrency("hosted_vllm/qwen", "http://10.0.0.5:8000/v1") is None


async def test_limit_bounds_calls_in_flight_first_come_first_served() -> None:
    limit = ConcurrencyLimit(2)
    order: list[int] = []
    busy = 0
    peak = 0

    async def call(i: int) -> None:
        nonlocal busy, peak
        async with limit:
            order.append(i)
            busy += 1
            peak = max(peak, busy)
            await asyncio.sleep(0.01)
            busy -= 1

    await asyncio.gather(*(call(i) for i in range(6)))
    assert peak == 2 and order == list(range(6))
    assert limit.in_use == 0 and limit.waiting == 0


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    limit = ConcurrencyLimit(1)
    await limit.acquire()
    waiter = asyncio.ensure_future(limit.acquire())
    await asyncio.sleep(0)
    assert limit.waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limit.waiting == 0
    limit.release()
    assert limit.in_use == 0
    await asyncio.wait_for(limit.acquire(), timeout=1)  # the slot was not lost
    limit.release()


async def test_a_waiter_cancelled_as_it_is_granted_passes_the_slot_on() -> None:
    limit = ConcurrencyLimit(1)
    await limit.acquire()
    first = asyncio.ensure_future(limit.acquire())
    second = asyncio.ensure_future(limit.acquire())
    await asyncio.sleep(0)
    limit.release()  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, timeout=1)
    assert limit.in_use == 1 and limit.waiting == 0
    limit.release()


def test_one_limit_serves_several_event_loops_and_threads() -> None:
    limit = ConcurrencyLimit(1)
    busy = 0
    peak = 0
    guard = threading.Lock()

    async def calls() -> None:
        async def one() -> None:
            nonlocal busy, peak
            async with limit:
                with guard:
                    busy += 1
                    peak = max(peak, busy)
                await asyncio.sleep(0.005)
                with guard:
                    busy -= 1

        await asyncio.gather(*(one() for _ in range(5)))

    asyncio.run(calls())  # a first loop, then loops in two threads at once
    threads = [threading.Thread(target=asyncio.run, args=(calls(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert peak == 1 and limit.in_use == 0 and limit.waiting == 0


async def test_no_limit() -> None:
    for limit in (ConcurrencyLimit(None), ConcurrencyLimit(0)):
        await asyncio.gather(*(limit.acquire() for _ in range(100)))
        assert limit.limit is None and limit.in_use == 0
