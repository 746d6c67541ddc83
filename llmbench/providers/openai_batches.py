"""OpenAI's Batch API through the official SDK: a JSONL file of /v1/chat/completions bodies (`files.create`,
`batches.create`); results and errors come back as files, read line by line. Documented limits per batch: 50,000
requests and a 200 MB input file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from llmbench.errors import BatchCancelled, BatchExpired, BatchRequestError, BatchResultsGone
from llmbench.providers.batch_api import CUSTOM_ID, MB, BatchAPI, BatchOutcome, BatchStatus, malformed_outcome
from llmbench.providers.openai import OpenAIProvider, completion_from_openai
from llmbench.providers.types import Message, ToolSpec

__all__ = ["OpenAIBatches"]


class OpenAIBatches(BatchAPI):
    """OpenAI's Batch API: the requests go up as a JSONL file; results and errors come back as files."""

    max_requests, max_bytes = 50_000, 200 * MB
    identifies_batches = True
    sdk_root_error = "OpenAIError"
    provider: OpenAIProvider

    def _sdk(self) -> Any:
        import openai

        return openai

    def request(
        self, custom_id: str, messages: list[Message], tools: list[ToolSpec] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """One line of the input file."""
        body = self.provider.build_request(messages, tools, {**self.provider.default_params, **params})
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}

    async def submit(self, requests: list[dict[str, Any]], token: str) -> tuple[str, str | None]:
        """Upload the file, then create the batch with `token` in its metadata (so it can be found again)."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests).encode()
        with self._mapped():
            file = await self._client().files.create(file=(f"llmbench-{token}.jsonl", data), purpose="batch")
            batch = await self._client().batches.create(
                input_file_id=file.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={"llmbench_batch": token},
            )
        return batch.id, file.id

    async def _batch(self, batch_id: str) -> Any:
        with self._mapped():
            return await self._client().batches.retrieve(batch_id)

    @staticmethod
    def _status(batch: Any) -> BatchStatus:
        counts = batch.request_counts
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        cancelled = batch.status in ("cancelling", "cancelled") or bool(getattr(batch, "cancelling_at", None))
        problems = (
            "; ".join(f"{e.code}: {e.message}" for e in (batch.errors.data or [])) if batch.errors else None
        )
        return BatchStatus(
            batch.status,
            ended,
            counts.completed if counts else 0,
            counts.failed if counts else 0,
            counts.total if counts else 0,
            problems or None,
            cancelled,
        )

    async def status(self, batch_id: str) -> BatchStatus:
        """The batch's status and request counts."""
        return self._status(await self._batch(batch_id))

    async def results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """The output file's answers, then the error file's failures."""
        from openai.types.chat import ChatCompletion

        batch = await self._batch(batch_id)
        counts = batch.request_counts
        if not (batch.output_file_id or batch.error_file_id) and counts is not None and counts.total:
            raise BatchResultsGone(
                f"{self.provider.model_id}: batch {batch_id} ended ({batch.status}) with no result file",
                provider=self.provider.provider,
            )
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            with self._mapped(batch_id):
                async with self._client().files.with_streaming_response.content(file_id) as resp:
                    async for line in resp.iter_lines():
                        if line.strip():
                            yield self._read(line, ChatCompletion)

    def _read(self, line: str, completion_type: Any) -> BatchOutcome:
        """One result line; a line that is not a valid result is that request's error, not the whole batch's."""
        try:
            return self._outcome(json.loads(line), completion_type)
        except (
            ValueError,
            TypeError,
            AttributeError,
            KeyError,
        ) as exc:  # pydantic's ValidationError is a ValueError
            return malformed_outcome(self.provider, CUSTOM_ID.search(line), exc, line)

    def _outcome(self, line: dict[str, Any], completion_type: Any) -> BatchOutcome:
        model_id, name = self.provider.model_id, self.provider.provider
        custom_id = str(line.get("custom_id"))
        response, error = line.get("response") or {}, line.get("error") or {}
        if response.get("status_code") == 200:
            completion_type.model_validate(
                response["body"]
            )  # a result line that is not a completion: its error
            return BatchOutcome(
                custom_id, completion_from_openai(response["body"], model_id=model_id, provider=name)
            )
        if not error:
            body_error = (response.get("body") or {}).get("error") or {}
            error = {"code": f"http_{response.get('status_code')}", "message": body_error.get("message", "")}
        code, message = error.get("code") or "error", error.get("message") or ""
        kind = {"batch_expired": BatchExpired, "batch_cancelled": BatchCancelled}.get(code, BatchRequestError)
        status = response.get("status_code")
        return BatchOutcome(
            custom_id, error=kind(f"{model_id}: {code}: {message}", provider=name, status_code=status)
        )

    async def cancel(self, batch_id: str) -> BatchStatus:
        """Cancel; the batch goes through `cancelling` to `cancelled`."""
        with self._mapped():
            return self._status(await self._client().batches.cancel(batch_id))

    async def candidates(self, token: str, since: float, requests: int) -> list[str]:
        """The batches whose metadata carries `token` (newest pages first, back to `since`)."""
        found = []
        with self._mapped():
            async for batch in self._client().batches.list(limit=100):
                if (batch.metadata or {}).get("llmbench_batch") == token:
                    found.append(batch.id)
                if batch.created_at < since - 3600:
                    break
        return found
