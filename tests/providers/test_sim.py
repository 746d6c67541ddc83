"""The simulated models are seeded: the same calls give the same answers, usage and latencies, however busy the
machine is (a loaded machine's scheduling delays are not the model's latency)."""

from __future__ import annotations

import asyncio
import time

from llmbench.providers import get_provider
from llmbench.providers.sim import SIM_ITEM


async def _latencies(busy: bool) -> list[float]:
    provider = get_provider("sim:gpt-4o", seed=7)
    hint = {"item_id": "", "task": "arithmetic", "difficulty": 0.5, "correct": "4", "wrong": ["5"]}

    async def hog() -> None:  # holds the event loop for 30 ms at a time, as a loaded machine would
        while True:
            time.sleep(0.03)
            await asyncio.sleep(0)

    blocker = asyncio.create_task(hog()) if busy else None
    try:
        out = [
            await provider.acomplete("2+2?", **{SIM_ITEM: {**hint, "item_id": f"it-{i}"}}) for i in range(8)
        ]
    finally:
        if blocker is not None:
            blocker.cancel()
    assert all(c.latency_s == c.attempts[-1].latency_s for c in out)
    return [c.latency_s for c in out]


async def test_latencies_are_the_seeded_ones_on_a_busy_loop_too() -> None:
    quiet, busy = await _latencies(False), await _latencies(True)
    assert quiet == busy and len(set(quiet)) > 1  # equal run to run, and not one constant
