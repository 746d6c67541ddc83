"""The gateway's Prometheus metrics (`GET /metrics`), in a registry of its own so tests and apps do not collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from llmbench.providers.types import Completion

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    """Requests, latency, cost, tokens and fallbacks, labelled by the requested and the answering model."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "llmbench_gateway_requests",
            "Requests by requested model and HTTP status",
            ["model", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "llmbench_gateway_request_seconds",
            "Request latency, first byte to last",
            ["model"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.cost = Counter(
            "llmbench_gateway_cost_usd",
            "USD billed by answering model (every attempt)",
            ["model"],
            registry=r,
        )
        self.tokens = Counter(
            "llmbench_gateway_tokens",
            "Tokens by answering model and direction",
            ["model", "direction"],
            registry=r,
        )
        self.fallbacks = Counter(
            "llmbench_gateway_fallbacks",
            "Routed calls answered by a fallback model",
            ["policy_model", "answered_by"],
            registry=r,
        )
        self.reloads = Counter(
            "llmbench_gateway_policy_reloads", "Policy reloads by outcome", ["outcome"], registry=r
        )

    def answered(self, requested: str, completion: Completion, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(requested, "200").inc()
        self.latency.labels(requested).observe(seconds)
        for attempt in completion.attempts:
            if attempt.cost_usd:
                self.cost.labels(attempt.model_id or completion.model_id).inc(attempt.cost_usd)
        answered = completion.route.answered_by if completion.route else completion.model_id
        if completion.usage is not None:
            self.tokens.labels(answered, "input").inc(completion.usage.input_tokens or 0)
            self.tokens.labels(answered, "output").inc(completion.usage.output_tokens or 0)
        if completion.route is not None and completion.route.fallback:
            self.fallbacks.labels(requested, answered).inc()

    def failed(self, requested: str, status: int, seconds: float) -> None:
        """Count one request that ended in an error status."""
        self.requests.labels(requested, str(status)).inc()
        self.latency.labels(requested).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
