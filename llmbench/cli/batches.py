"""`llmbench batches`: the provider batches of `llmbench eval --batch`, and cancelling one."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, console, fmt, quoted
from llmbench.errors import ConfigError

if TYPE_CHECKING:
    from llmbench.store.batches import BatchLog

__all__ = ["batches_command"]


@app.command("batches")
def batches_command(
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment's batches")
    ] = None,
    cancel: Annotated[
        str | None,
        typer.Option("--cancel", help="Cancel this batch (provider batch id or llmbench batch key)"),
    ] = None,
    resubmit: Annotated[
        str | None,
        typer.Option(
            "--resubmit", help="Submit again the requests of a batch whose results are gone (billed again)"
        ),
    ] = None,
    adopt: Annotated[
        str | None,
        typer.Option("--adopt", help="KEY=BATCH_ID: a batch a crash left unrecorded is this provider batch"),
    ] = None,
    abandon: Annotated[
        str | None,
        typer.Option("--abandon", help="KEY: a batch a crash left unrecorded never reached the provider"),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """List provider batches (newest first) with their state, size, estimated and collected cost; --cancel asks
    the provider to stop one (answers already made are still collected, and billed, by the next eval);
    --resubmit releases the requests of a batch whose results the provider no longer has, so the next
    `llmbench eval --batch` submits (and pays for) them again: never done automatically."""
    from llmbench.store import Store
    from llmbench.store.batches import BatchLog

    if cancel or resubmit or adopt or abandon:
        with Store.open(store) as st:
            log = BatchLog(st)
            if cancel is not None:
                _cancel(log, cancel)
            if resubmit is not None:
                _resubmit(log, resubmit)
            if adopt is not None or abandon is not None:
                _decide(log, adopt, abandon)
        return
    with Store.open(store, read_only=True) as st:
        if experiment is not None and st.get_experiment(experiment) is None:
            known = ", ".join(st.experiments_frame()["name"].astype(str)) or "none"
            raise ConfigError(f"no experiment {experiment!r} in {st.path}; experiments: {known}")
        frame = BatchLog(st).frame(experiment)
    if frame.empty:
        console.print(
            "no batches"
            + (f" for experiment {experiment!r}" if experiment else "")
            + "; submit some with `llmbench eval --batch`"
        )
        return
    table = Table(title="Provider batches")
    for col in (
        "experiment",
        "model",
        "batch id",
        "state",
        "provider",
        "round",
        "requests",
        "ok",
        "failed",
        "est $",
        "cost $",
        "created (UTC)",
    ):
        table.add_column(
            col,
            justify="right" if col in ("round", "requests", "ok", "failed", "est $", "cost $") else "left",
        )
    for r in frame.to_dict("records"):
        table.add_row(
            str(r["experiment"]),
            str(r["model_id"]),
            str(r["batch_id"] or "-"),
            str(r["state"]),
            "results gone" if r.get("results_gone") else str(r["provider_status"] or "-"),
            str(r["round"]),
            str(r["requests"]),
            fmt(r["succeeded"], ".0f"),
            fmt(r["failed"], ".0f"),
            fmt(r["est_cost_usd"], ".4f"),
            fmt(r["cost_usd"], ".4f"),
            str(r["created_at"])[:16],
        )
    console.print(table)
    for r in frame.to_dict("records"):
        if r.get("results_gone") and r["state"] != "abandoned":
            console.print(f"[yellow]{r['batch_key']}: {quoted(r['detail'])}[/]")


def _resubmit(log: BatchLog, batch: str) -> None:
    from llmbench.errors import ConfigError

    name, row = log.get(batch)
    if not row.results_gone or row.state == "abandoned":
        raise ConfigError(f"batch {batch} is {row.state} and its results are not gone: nothing to resubmit")
    log.update(
        name,
        row.batch_key,
        state="abandoned",
        detail="results gone; released by `llmbench batches --resubmit`",
    )
    console.print(
        f"released {row.requests} request(s) of {row.batch_key}: the next `llmbench eval --batch` of "
        f"{name!r} submits them again (billed again)"
    )


def _decide(log: BatchLog, adopt: str | None, abandon: str | None) -> None:
    """The user's word on a batch a crash left `submitting` where the provider cannot prove which batch is ours."""
    from llmbench.errors import ConfigError

    key, _, batch_id = (adopt or "").partition("=")
    if adopt is not None and not (key and batch_id):
        raise ConfigError(f"--adopt takes KEY=BATCH_ID, got {adopt!r}")
    name, row = log.get(key or str(abandon))
    if row.state != "submitting":
        raise ConfigError(
            f"batch {row.batch_key} is {row.state}: only one a crash left submitting awaits a decision"
        )
    if adopt is not None:
        log.update(name, row.batch_key, batch_id=batch_id, state="submitted", detail="adopted by the user")
        console.print(
            f"{row.batch_key} is {batch_id}: the next `llmbench eval --batch` of {name!r} collects it"
        )
    else:
        log.update(name, row.batch_key, state="abandoned", detail="abandoned by the user")
        console.print(
            f"{row.batch_key} abandoned: the next `llmbench eval --batch` of {name!r} submits its "
            f"{row.requests} request(s) again"
        )


def _cancel(log: BatchLog, batch: str) -> None:
    from llmbench.errors import ConfigError
    from llmbench.providers import get_provider
    from llmbench.providers.batch_api import batch_api
    from llmbench.store.batches import OPEN_STATES

    name, row = log.get(batch)
    if row.state not in OPEN_STATES or row.batch_id is None:
        raise ConfigError(f"batch {batch} is {row.state}; only a submitted batch can be cancelled")
    api = batch_api(get_provider(row.model_id))
    assert api is not None, row.model_id
    status = asyncio.run(api.cancel(row.batch_id))
    log.update(
        name, row.batch_key, provider_status="cancelling", detail="cancelled by `llmbench batches --cancel`"
    )
    console.print(
        f"asked the provider to cancel {row.batch_id} ({status.status}); the next `llmbench eval` of "
        f"{name!r} collects what it answered"
    )
