"""`llmbench serve`: the OpenAI-compatible gateway in front of routing policies and models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt
from llmbench.errors import ConfigError

__all__ = ["serve_command"]


@app.command("serve")
def serve_command(
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy", help="policy behind model 'router': a file, models:/NAME@ALIAS or a [routers] name"
        ),
    ] = None,
    router: Annotated[
        list[str] | None,
        typer.Option("--router", help="NAME=POLICY, served as model 'router:NAME' (repeatable)"),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="a model id clients may call directly")
    ] = None,
    host: Annotated[
        str, typer.Option(help="address to bind; beyond loopback client keys are required")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0: any free port, printed)")] = 8000,
    api_key: Annotated[
        list[str] | None,
        typer.Option("--api-key", help="client key (repeatable; or LLMBENCH_GATEWAY_KEYS=k1,k2)"),
    ] = None,
    store: StoreOpt = None,
    experiment: Annotated[str, typer.Option(help="experiment the requests are logged under")] = "gateway",
    durable: Annotated[
        bool,
        typer.Option(
            "--durable/--no-durable", help="answer only after the request is committed to the store"
        ),
    ] = True,
    max_concurrency: Annotated[int, typer.Option(help="upstream calls in flight at most")] = 256,
    max_body_bytes: Annotated[int, typer.Option(help="largest request body accepted")] = 4_000_000,
    timeout: Annotated[float, typer.Option(help="seconds per upstream attempt")] = 60.0,
    retries: Annotated[int, typer.Option(help="attempts per model, the first included")] = 3,
    open_probes: Annotated[
        bool, typer.Option("--open-probes", help="serve /health and /metrics without a client key")
    ] = False,
) -> None:
    """Serve routing policies and models behind an OpenAI-compatible API (POST /v1/chat/completions), logging
    every request and attempt to the run store; /health and Prometheus /metrics included."""
    from llmbench.serve import GatewayConfig, serve

    named = {}
    for entry in router or []:
        name, sep, source = entry.partition("=")
        if not sep or not name.strip() or not source.strip():
            raise ConfigError(f"--router takes NAME=POLICY, got {entry!r}")
        named[name.strip()] = source.strip()
    config = GatewayConfig(
        host=host,
        port=port,
        policy=policy,
        policies=named,
        models=list(model or []),
        api_keys=[SecretStr(k) for k in api_key or []],
        store=Path(store) if store else None,
        experiment=experiment,
        durable=durable,
        max_concurrency=max_concurrency,
        max_body_bytes=max_body_bytes,
        timeout=timeout,
        retries=retries,
        open_probes=open_probes,
    )
    serve(config)
