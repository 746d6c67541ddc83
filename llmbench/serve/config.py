"""What `llmbench serve` serves and how: policies, pass-through models, client keys, limits, the run store."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from llmbench.errors import ConfigError

__all__ = ["KEYS_ENV", "GatewayConfig", "is_loopback"]

KEYS_ENV = "LLMBENCH_GATEWAY_KEYS"  # comma-separated client keys (kept out of the process list)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GatewayConfig(BaseModel):
    """Settings of one gateway process (`llmbench serve` flags, or built in code for tests and notebooks)."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    policy: str | None = None  # the policy behind model "router": a file, an MLflow URI or a [routers] name
    policies: dict[str, str] = {}  # more policies, served as "router:NAME"
    models: list[str] = []  # model ids clients may call directly (the policies' models always may)
    api_keys: list[SecretStr] = []  # client bearer tokens; required when bound beyond loopback
    store: Path | None = None
    experiment: str = "gateway"
    durable: bool = (
        True  # answer only after the request's rows are committed (else: batched, <= flush_s late)
    )
    flush_s: float = Field(default=0.5, gt=0, le=60)
    max_body_bytes: int = Field(default=4_000_000, ge=1024, le=1_000_000_000)
    max_concurrency: int = Field(default=256, ge=1, le=100_000)
    timeout: float = Field(default=60.0, gt=0, le=3600)
    retries: int = Field(default=3, ge=1, le=20)
    reload_s: float = Field(default=1.0, gt=0, le=3600)  # how often policy files are checked for changes
    open_probes: bool = (
        False  # /health and /metrics without a client key (they name models and policy hashes)
    )
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)  # a request's headers must arrive within this
    # open connections from one address
    max_connections_per_client: int = Field(default=512, ge=1, le=100_000)

    def client_keys(self) -> list[str]:
        """The accepted client keys: `api_keys` plus those in $LLMBENCH_GATEWAY_KEYS."""
        keys = [k.get_secret_value() for k in self.api_keys]
        keys += [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
        return keys

    def check(self) -> None:
        """Refuse settings that would expose the gateway or serve nothing."""
        given = [k.get_secret_value() for k in self.api_keys]
        given += [k for k in os.environ.get(KEYS_ENV, "").split(",") if k and not k.strip()]
        if any(not k.strip() for k in given):
            raise ConfigError(
                'a client key is empty or blank (an unset variable in --api-key "$VAR"?): every key must be a '
                "non-empty secret, or a client sending no key at all would match it"
            )
        if not is_loopback(self.host) and not self.client_keys():
            raise ConfigError(
                f"binding {self.host} exposes the gateway beyond this machine: give client keys "
                f"(--api-key, or {KEYS_ENV}=key1,key2) so every request needs `Authorization: Bearer KEY`"
            )
        if self.policy is None and not self.policies and not self.models:
            raise ConfigError("nothing to serve: give --policy FILE (model 'router') and/or --model ID")
