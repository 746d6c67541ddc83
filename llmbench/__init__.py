"""llmbench: which model should answer this request, at what cost?

`llmbench.evaluate(config, store=..., track=...)` runs an experiment as `llmbench eval` does (see `llmbench.api`);
it is imported on first use, so `import llmbench` stays light.
"""

from __future__ import annotations

import typing

from llmbench import lazy
from llmbench.errors import LLMBenchError

if typing.TYPE_CHECKING:
    from llmbench.api import Evaluation, evaluate

__version__ = "0.1.0"
__all__ = ["Evaluation", "LLMBenchError", "__version__", "evaluate"]

lazy.lazy_exports(__name__, {"evaluate": "llmbench.api", "Evaluation": "llmbench.api"})
