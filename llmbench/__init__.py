"""llmbench: which model should answer this request, at what cost?"""

from llmbench.errors import LLMBenchError

__version__ = "0.1.0"
__all__ = ["LLMBenchError", "__version__"]
