"""Concurrency and rate limits of an eval: global and per provider, requests and tokens per minute."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiolimiter import AsyncLimiter

from llmbench.evaluation.config import ExperimentConfig

__all__ = ["Limits"]


def _per_second(per_minute: float) -> AsyncLimiter:
    """A limiter allowing `per_minute / 60` a second (a burst of at most one second's worth, at least 1)."""
    per_second = per_minute / 60
    if per_second >= 1:
        return AsyncLimiter(per_second, 1)
    return AsyncLimiter(1, 1 / per_second)  # slower than one a second: one at a time, evenly spaced


class Limits:
    """Global and per-provider concurrency plus request and token rate limits."""

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self._sem: dict[str, asyncio.Semaphore] = {}
        self._rpm: dict[str, AsyncLimiter] = {}
        self._tpm: dict[str, AsyncLimiter] = {}
        for name, lim in cfg.providers.items():
            if lim.concurrency:
                self._sem[name] = asyncio.Semaphore(lim.concurrency)
            # Per-second buckets: AsyncLimiter(rpm, 60) would let a whole minute's quota out at once, and
            # providers enforce their per-minute limits over shorter windows (429s on such a burst).
            if lim.requests_per_minute:
                self._rpm[name] = _per_second(lim.requests_per_minute)
            if lim.tokens_per_minute:
                self._tpm[name] = _per_second(lim.tokens_per_minute)

    @contextlib.asynccontextmanager
    async def slot(self, provider: str, tokens: int) -> Any:
        """Hold one of `provider`'s call slots for a call of about `tokens` tokens (waits for the rate limits)."""
        sem = self._sem.get(provider)
        if sem is not None:
            await sem.acquire()
        try:
            if provider in self._rpm:
                await self._rpm[provider].acquire()
            if provider in self._tpm:
                limiter = self._tpm[provider]
                await limiter.acquire(min(tokens, limiter.max_rate))
            yield
        finally:
            if sem is not None:
                sem.release()
