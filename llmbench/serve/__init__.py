"""The online gateway behind `llmbench serve`: routing policies and models behind an OpenAI-compatible API."""

from llmbench.serve.config import GatewayConfig
from llmbench.serve.gateway import Gateway
from llmbench.serve.run import running, serve

__all__ = ["Gateway", "GatewayConfig", "running", "serve"]
