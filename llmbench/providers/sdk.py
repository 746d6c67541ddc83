"""Shared plumbing of the SDK-backed adapters: key lookup, one SDK client per event loop, closing."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import weakref
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from llmbench import errors
from llmbench.errors import register_secret
from llmbench.providers.base import Provider


class SDKProvider(Provider):
    """A provider backed by an official SDK client (`max_retries=0`: the retry layer is ours)."""

    serves_endpoints = True

    default_key_env = ""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: Any = None,
        api_key_env: str | None = None,
        provider_name: str | None = None,
        **options: Any,
    ) -> None:
        if provider_name:
            self.provider = provider_name
        super().__init__(model, **options)
        self.base_url = base_url
        self.api_key_env = api_key_env or self.default_key_env
        register_secret(api_key)
        self._api_key = SecretStr(api_key) if api_key is not None else None
        self._http_client = http_client
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    @abstractmethod
    def _sdk_client_class(self) -> Any:
        """The SDK's async client class (imported lazily: optional SDKs stay optional)."""

    def _make_client(self, api_key: str) -> Any:
        return self._sdk_client_class()(
            api_key=api_key,
            base_url=self.base_url,
            max_retries=0,  # the one retry layer is ours
            timeout=self.timeout,
            http_client=self._http_client,
        )

    def prepare(self) -> None:
        """Import the SDK and build the client before the clock starts (a cold import is not a slow API); outside
        an event loop, only check there is a key."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._key()
            return
        self._client()

    def sdk_client(self) -> Any:
        """The official SDK's async client for the running event loop (e.g. for its batch endpoints)."""
        return self._client()

    def _client(self) -> Any:
        """One SDK client per event loop: connection pools cannot cross loops (e.g. `complete` in Jupyter)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # Local servers usually ignore the key, but the SDKs insist on one.
            client = self._make_client(self._key() or "not-needed")
            self._clients[loop] = client
        return client

    def _key(self) -> str | None:
        """The API key (None for a local server without one); AuthenticationError when a vendor's is missing."""
        key = self._api_key.get_secret_value() if self._api_key else os.environ.get(self.api_key_env)
        register_secret(key)
        if not key and self.base_url is None:
            raise errors.AuthenticationError(
                f"{self.model_id}: no API key; set {self.api_key_env} in the environment (in code: api_key=...)",
                provider=self.provider,
            )
        return key

    async def aclose(self) -> None:
        """Close the SDK client of the running loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


@functools.cache
def _named_params(create: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(create).parameters)


def sdk_kwargs(create: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
    """`body` as keyword arguments for an SDK `create` method: fields it does not name (e.g. `temperature` in
    anthropic 2.x, `top_k` for vLLM) travel in `extra_body` instead of raising TypeError client-side."""
    named = _named_params(getattr(create, "__func__", create))
    kwargs = {k: v for k, v in body.items() if k in named}
    extra = {k: v for k, v in body.items() if k not in named}
    if extra:
        kwargs["extra_body"] = {**extra, **kwargs.get("extra_body", {})}
    return kwargs
