"""Batch evaluation: experiment files and the resumable runner behind `llmbench eval`."""

from llmbench.evaluation.config import ExperimentConfig, ProviderLimits, load_experiment, validate_config
from llmbench.evaluation.items import item_messages, item_tools, load_items
from llmbench.evaluation.plan import Task, build_providers
from llmbench.evaluation.report import RunReport
from llmbench.evaluation.runner import Runner, run_experiment

__all__ = [
    "ExperimentConfig",
    "ProviderLimits",
    "RunReport",
    "Runner",
    "Task",
    "build_providers",
    "item_messages",
    "item_tools",
    "load_experiment",
    "load_items",
    "run_experiment",
    "validate_config",
]
