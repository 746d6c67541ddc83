"""Accumulating a long streamed answer: the SDK's `ChatCompletionStreamState` (what llmbench used) against
`llmbench.providers.openai_stream.StreamAccumulator`, side by side on the same chunks.

    .venv/bin/python benchmarks/long_stream.py [--sizes 5000,10000,20000,40000] [--chunk-bytes 100]

Each size is a number of chunks of `--chunk-bytes` each (a server streams a token or a few per chunk); prints
seconds per answer and the ratio. The SDK's state rebuilds its whole snapshot per chunk (time grows with the square of the length:
a 20 MB answer is millions of chunks); the accumulator appends and joins once (linear).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from llmbench.providers.openai_stream import StreamAccumulator


def chunks(n: int, size: int) -> list[ChatCompletionChunk]:
    def one(delta: dict[str, object], finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk.model_validate({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })  # fmt: skip

    return [one({"role": "assistant", "content": ""}), *(one({"content": f"{i % 1000:03d}".ljust(size, "w")}) for i in range(n)),
            one({}, "stop")]  # fmt: skip


def timed(feed: object, stream: list[Any]) -> float:
    started = time.perf_counter()
    for chunk in stream:
        feed(chunk)  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,40000")
    parser.add_argument("--chunk-bytes", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'chunks':>8} {'answer KB':>10} {'SDK state s':>12} {'accumulator s':>14} {'ratio':>7}")
    for n in sizes:
        stream = chunks(n, args.chunk_bytes)
        sdk, ours = ChatCompletionStreamState(), StreamAccumulator()
        t_sdk = timed(sdk.handle_chunk, stream)
        dicts = [c.model_dump() for c in stream]  # the accumulator reads parsed JSON, as the wire gives it
        t_ours = timed(ours.add, dicts)
        same = (
            sdk.current_completion_snapshot.choices[0].message.content
            == ours.completion()["choices"][0]["message"]["content"]
        )
        assert same, "the two accumulations differ"
        print(
            f"{n:>8} {n * args.chunk_bytes / 1024:>10.0f} {t_sdk:>12.3f} {t_ours:>14.4f} {t_sdk / t_ours:>7.0f}x"
        )


if __name__ == "__main__":
    main()
