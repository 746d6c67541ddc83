"""`llmbench complete`: one call to any model, printed as text or JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from llmbench.cli.app import app
from llmbench.errors import ConfigError


@app.command()
def complete(
    model: Annotated[
        str, typer.Argument(help="Model id, e.g. openai:gpt-4o-mini, anthropic:claude-3-5-haiku-latest")
    ],
    prompt: Annotated[str, typer.Argument(help="The user prompt; - reads it from stdin")],
    base_url: Annotated[
        str | None, typer.Option(help="Send to this OpenAI/Anthropic-compatible server")
    ] = None,
    system: Annotated[str | None, typer.Option(help="System prompt")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Output token limit")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per attempt")] = 60.0,
    retries: Annotated[int, typer.Option(help="Attempts in all, the first included")] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (text, usage, cost_usd, ...)")
    ] = False,
) -> None:
    """Send one prompt to a model and print the answer (with --json: text, usage, cost and latency)."""
    from llmbench.providers import Message, get_provider

    if prompt == "-":
        import sys

        prompt = sys.stdin.read().rstrip("\n")  # the newline echo and heredocs add is not part of the prompt
        if not prompt.strip():
            raise ConfigError(
                "the prompt read from stdin is empty; pipe some text in (echo hi | llmbench complete M -)"
            )
    options: dict[str, Any] = {"timeout": timeout, "retry": retries}
    if base_url:
        options["base_url"] = base_url
    provider = get_provider(model, **options)
    messages = ([Message.system(system)] if system else []) + [Message.user(prompt)]
    result = provider.complete(messages, max_tokens=max_tokens, temperature=temperature)
    if as_json:
        out = {
            "model_id": result.model_id,
            "model": result.model,
            "text": result.text,
            "tool_calls": [c.model_dump() for c in result.tool_calls],
            "stop_reason": result.stop_reason,
            "usage": result.usage.model_dump() if result.usage else None,
            "cost_usd": result.cost_usd,
            "latency_s": round(result.latency_s, 4),
            "request_id": result.request_id,
            "attempts": len(result.attempts),
            "simulated": result.simulated,
        }
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(result.text)
