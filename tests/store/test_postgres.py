"""The run store on a real PostgreSQL server: the same rows read back as from a DuckDB file, bulk imports staged,
and the router trained from it deciding as from DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import synthetic_frame

from llmbench.errors import StoreError
from llmbench.imports import import_frame
from llmbench.router import RouterEstimator
from llmbench.store import CallRecord, IntentRecord, ScoreRecord, Store, ToolStep
from llmbench.store.postgres import pg_sql

pytestmark = pytest.mark.slow  # a real server


def _write(store: Store) -> None:
    store.create_experiment("e", config={"models": ["m1", "m2"], "note": "ünïcode"})
    store.add_items("e", [{"id": f"i{k}", "input": f"question {k}", "task": "qa" if k % 2 else "code",
                           "reference": {"answer": k}} for k in range(150)])  # fmt: skip
    intents = [IntentRecord(f"n{k}", f"k{k}", f"i{k}", "m1", 0, 1, 1.7e9, 0.01) for k in range(150)]
    calls = [CallRecord(run_key=f"k{k}", item_id=f"i{k}", model_id=m, started_at=1.7e9 + k, latency_s=0.5,
                        input_tokens=10, output_tokens=k, cost_usd=None if k == 3 else 0.001 * k, final=True,
                        response=f"answer {k}", error_class="RateLimitError" if k % 7 == 0 else None)
             for k in range(150) for m in ("m1", "m2")]  # fmt: skip
    scores = [ScoreRecord(run_key=f"k{k}", item_id=f"i{k}", model_id="m1", scorer="exact", value=float(k % 3 == 0),
                          is_primary=True, explanation="why") for k in range(150)]  # fmt: skip
    store.write_results("e", calls[:100], scores[:50], intents=intents, resolved=[f"n{k}" for k in range(50)])
    store.write_results("e", calls[100:], scores[50:], resolved=[f"n{k}" for k in range(50, 140)])
    store.write_tool_steps("e", "i1", [ToolStep(conversation_id="c1", step=s, turn=0, kind="model_turn",
                                                model_id="m1", started_at=1.7e9 + s) for s in range(3)])  # fmt: skip
    store.set_plan("e", "plan", 300)


def test_the_same_writes_read_back_the_same_as_from_duckdb(pg_url: str, tmp_path: Path) -> None:
    with Store.open(tmp_path / "runs.duckdb") as duck, Store.open(pg_url) as pg:
        for store in (duck, pg):
            _write(store)
        for read in ("runs_frame", "calls_frame", "scores_frame", "items_frame", "summary_frame",
                     "tool_steps_frame"):  # fmt: skip
            a, b = getattr(duck, read)("e"), getattr(pg, read)("e")
            drop = [c for c in ("created_at",) if c in a]
            pd.testing.assert_frame_equal(
                a.drop(columns=drop), b.drop(columns=drop), check_dtype=False, obj=read
            )
        assert duck.spent("e") == pytest.approx(pg.spent("e"))
        assert duck.finished_keys("e") == pg.finished_keys("e") and pg.finished_count("e") == len(
            pg.finished_keys("e")
        )
        assert pg.get_experiment("e").config == duck.get_experiment("e").config  # type: ignore[union-attr]
        pg.delete_experiment("e")
        assert pg.get_experiment("e") is None and pg.calls_frame().empty


def test_the_router_trains_from_postgres_as_from_duckdb(pg_url: str, tmp_path: Path) -> None:
    frame = synthetic_frame(20)
    with Store.open(tmp_path / "runs.duckdb") as duck, Store.open(pg_url) as pg:
        for store in (duck, pg):
            import_frame(store, frame, "logs")  # the importer's DuckDB SQL, staged for PostgreSQL
        with pytest.raises(StoreError, match="already exists"):
            import_frame(pg, frame, "logs")
        runs = [store.runs_frame("logs") for store in (duck, pg)]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    a, b = (RouterEstimator().fit(r) for r in runs)
    prompts = list(frame["prompt"].unique())
    assert [d.model for d in a.decide(prompts)] == [d.model for d in b.decide(prompts)]
    assert a.export(tmp_path / "a.json") == b.export(tmp_path / "b.json")  # the same policy, byte for byte


def test_two_stores_on_one_database_see_each_others_commits(pg_url: str) -> None:
    with Store.open(pg_url) as one, Store.open(pg_url) as two:
        one.create_experiment("shared")
        assert two.create_experiment("shared").id == one.get_experiment("shared").id  # type: ignore[union-attr]
        two.write_results("shared", [CallRecord(run_key="k", item_id="i", model_id="m", final=True)],
                          [ScoreRecord(run_key="k", item_id="i", model_id="m", value=1.0, is_primary=True)])  # fmt: skip
        assert one.finished_keys("shared") == {"k"}
    with Store.open(pg_url, read_only=True) as reader:
        assert len(reader.runs_frame("shared")) == 1
        with pytest.raises(StoreError, match="read-only"):
            reader.create_experiment("x")


def test_the_statements_the_store_sends_read_as_postgresql() -> None:
    assert pg_sql("INSERT OR IGNORE INTO items (a, b) VALUES (?, ?)") == (
        "INSERT INTO items (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    assert pg_sql("DELETE FROM intents WHERE experiment_id = ? AND list_contains(?, intent_id)").endswith(
        "intent_id = ANY(%s)"
    )
    assert "_row BIGSERIAL" in pg_sql("CREATE TABLE IF NOT EXISTS t (\n    x DOUBLE\n)")
    assert "DOUBLE PRECISION" in pg_sql("CREATE TABLE IF NOT EXISTS t (\n    x DOUBLE\n)")


def test_batch_bookkeeping_is_kept_in_postgres(pg_url: str) -> None:
    from llmbench.store.batches import BatchLog
    from llmbench.store.rows import BatchRequestRow, BatchRow

    with Store.open(pg_url) as st:
        st.create_experiment("b")
        log = BatchLog(st)
        rows = [BatchRequestRow("bk1", f"k{i}", f"i{i}", "m", 0, 0.01) for i in range(3)]
        log.record("b", BatchRow("bk1", "openai", "m", requests=3, est_cost_usd=0.03), rows)
        log.update("b", "bk1", state="submitted", batch_id="batch_abc", provider_status="validating")
        [open_batch] = log.open("b")
        assert (open_batch.batch_id, open_batch.state) == ("batch_abc", "submitted")
        assert log.get("batch_abc")[0] == "b" and len(log.requests("b", "bk1")) == 3
        assert log.open_keys("b") == {"k0", "k1", "k2"}


def test_views_over_an_export_are_refused_with_the_way_to_get_them(pg_url: str, tmp_path: Path) -> None:
    from llmbench.store.parquet import attach

    with Store.open(pg_url) as st, pytest.raises(StoreError, match="live in a DuckDB store"):
        attach(st, str(tmp_path), "team")


async def test_a_batch_eval_on_postgres_keeps_what_it_keeps_on_duckdb(pg_url: str, tmp_path: Path) -> None:
    from batch_helpers import config, dataset, run

    from llmbench.store.batches import BatchLog
    from llmbench.testing import FakeOpenAIServer

    cfg = config(dataset(tmp_path / "ds.jsonl", 8, {3: "FAIL"}))
    seen = []
    for location in (tmp_path / "r.duckdb", pg_url):
        with FakeOpenAIServer(latency_s=0.0, batch_polls=1) as server, Store.open(location) as store:
            report = await run(cfg, store, server.url, wait=True)
            again = await run(cfg, store, server.url, wait=True)  # a rerun submits nothing new
            calls = store.calls_frame("b").sort_values(["run_key", "attempt"]).reset_index(drop=True)
            batches = BatchLog(store).frame("b").sort_values(["model_id", "round"]).reset_index(drop=True)
        assert again.submitted == 0
        seen.append((report.finished, report.gave_up, calls, batches))
    (f1, g1, c1, b1), (f2, g2, c2, b2) = seen
    assert (f1, g1) == (f2, g2) == (14, 2)
    same = [
        "run_key",
        "model_id",
        "attempt",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "error_class",
        "final",
    ]
    pd.testing.assert_frame_equal(c1[same], c2[same])
    pd.testing.assert_frame_equal(
        b1[["model_id", "round", "requests", "state"]], b2[["model_id", "round", "requests", "state"]]
    )


def test_report_and_view_read_a_postgres_store(pg_url: str, tmp_path: Path, cli) -> None:
    import json

    rows = [
        json.dumps({"id": f"q{i}", "input": f"{i} + {i} = ?", "reference": str(2 * i), "task": "sum"})
        for i in range(12)
    ]
    (tmp_path / "ds.jsonl").write_text("\n".join(rows) + "\n")
    ran = cli("eval", "--dataset", "ds.jsonl", "--model", "sim:gpt-4o", "--model", "sim:gpt-4o-mini", "--name", "pg",
              "--store", pg_url, "--no-track", "--no-progress", cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for command, page in (("report", "report.html"), ("view", "samples.html")):
        made = cli(command, "pg", "--store", pg_url, "-o", page, cwd=tmp_path)
        assert made.returncode == 0, made.stdout + made.stderr
        assert "sim:gpt-4o-mini" in (tmp_path / page).read_text(encoding="utf-8")


@pytest.mark.parametrize("password", ["pw", "hunter2-much-longer-secret"])  # short ones too: a URL's password
def test_a_password_in_the_url_is_never_shown_or_stored(pg_url: str, password: str, capsys) -> None:
    url = pg_url.replace("llmbench@", f"llmbench:{password}@")
    with Store.open(
        url
    ) as st:  # the test server trusts local connections: the password is carried, not checked
        st.create_experiment("s", config={"store": url, "note": f"connected to {url}"})
        stored = st.get_experiment("s").config  # type: ignore[union-attr]
        shown = repr(st) + str(st.path)
        with pytest.raises(StoreError) as refused:
            st._con.execute(f"SELECT * FROM no_such_table WHERE x = '{url}'")
    assert password not in json.dumps(stored) + shown + str(refused.value)
    assert "[REDACTED]" in stored["store"] and password not in capsys.readouterr().out


def test_runs_move_between_duckdb_and_postgres_as_parquet(pg_url: str, tmp_path: Path, cli) -> None:
    file = tmp_path / "runs.duckdb"
    ran = cli("eval", "-d", "arithmetic", "-m", "sim:gpt-4o-mini", "-m", "sim:gpt-4o", "--limit", "4", "--name", "one",
              "--store", file, "--no-track", "--no-progress", cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert cli("export", "one", "--parquet", tmp_path / "to-pg", "--store", file).returncode == 0
    moved = cli("import", "parquet", tmp_path / "to-pg", "--store", pg_url)  # DuckDB -> PostgreSQL (staged)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert cli("export", "one", "--parquet", tmp_path / "back", "--store", pg_url).returncode == 0
    assert cli("import", "parquet", tmp_path / "back", "--store", tmp_path / "back.duckdb").returncode == 0
    with (
        Store.open(file, read_only=True) as a,
        Store.open(pg_url) as b,
        Store.open(tmp_path / "back.duckdb") as c,
    ):
        frames = [s.runs_frame("one") for s in (a, b, c)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])
