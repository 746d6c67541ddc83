"""The store writer survives any one bad unit: a group commit that fails is retried unit by unit, the bad unit
fails alone (its waiter told, or listed in `failures`), everything else commits, and later writes still work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmbench.errors import StoreError
from llmbench.store import CallRecord, ScoreRecord, Store
from llmbench.store.writer import StoreWriter


def _run(key: str, epoch: int = 0, text: str = "ok") -> tuple[list[CallRecord], list[ScoreRecord]]:
    call = CallRecord(run_key=key, item_id=key, model_id="m", epoch=epoch, final=True, response=text)
    return [call], [ScoreRecord(run_key=key, item_id=key, model_id="m", epoch=epoch, scorer="s", value=1.0)]


async def test_one_bad_unit_fails_alone_and_the_writer_lives_on(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.duckdb") as store:
        store.create_experiment("e")
        writer = StoreWriter(store, "e", max_keys=100, max_wait_s=0.05)
        writer.result(*_run("a", text="lone \ud800 surrogate"))  # repaired, not a failure
        writer.result(*_run("bad", epoch=2**40))  # out of INTEGER range: this unit cannot be written
        writer.result(*_run("c"))
        with pytest.raises(StoreError, match="bad"):
            await writer.committed(*_run("bad2", epoch=2**41))
        await writer.committed(*_run("d"))  # the writer still writes after a failure
        writer.close()
        calls = store.calls_frame("e")
    assert sorted(calls["run_key"]) == ["a", "c", "d"]
    assert calls.set_index("run_key").loc["a", "response"] == "lone \ufffd surrogate"
    assert len(writer.failures) == 1 and "'bad'" in writer.failures[0]


def test_the_writer_never_blocks_the_loop_on_a_failure(tmp_path: Path) -> None:
    async def main() -> None:
        with Store.open(tmp_path / "w.duckdb") as store:
            store.create_experiment("e")
            writer = StoreWriter(store, "e", max_wait_s=0.01)
            results = await asyncio.gather(
                writer.committed(*_run("x", epoch=2**40)),
                writer.committed(*_run("y")),
                return_exceptions=True,
            )
            writer.close()
            assert isinstance(results[0], StoreError) and results[1] is None

    asyncio.run(main())
