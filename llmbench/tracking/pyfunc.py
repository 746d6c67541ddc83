"""The exported router policy as an MLflow pyfunc model (imports mlflow: load this module lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from mlflow.pyfunc.model import PythonModel

from llmbench.errors import DataError
from llmbench.tracking.mlflow_runs import global_tracking_uri

__all__ = ["RouterPolicyModel", "log_policy_model"]

POLICY_ARTIFACT = "policy"


class RouterPolicyModel(PythonModel):
    """Routes prompts with the policy file logged beside it: input prompts, output the chosen model ids."""

    def load_context(self, context: Any) -> None:
        """Load the policy with the router's own numpy loader."""
        from llmbench.router import RouterPolicy

        self.router = RouterPolicy.load(context.artifacts[POLICY_ARTIFACT])

    # A `list[str]` hint lets MLflow check the input and turn a one-column frame of prompts into the list.
    def predict(
        self, context: Any, model_input: list[str], params: dict[str, Any] | None = None
    ) -> list[str]:
        """Chosen model id for each prompt (a list of prompts, or a frame with one `prompt` column)."""
        return [self.router.route(prompt).model for prompt in model_input]


def log_policy_model(
    run_id: str, policy_path: str | Path, *, register_as: str | None = None, uri: str, name: str = "router"
) -> str:
    """Log the policy file as a pyfunc model inside run `run_id` (registering it if asked); returns its URI."""
    import llmbench

    path = Path(policy_path)
    if not path.exists():
        raise DataError(f"router policy file {path} not found; export it with the router commands first")
    with global_tracking_uri(uri), mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name=name,
            # Model from code: MLflow stores and runs this small file instead of unpickling an object.
            python_model=str(Path(__file__).with_name("router_model_code.py")),
            artifacts={POLICY_ARTIFACT: str(path)},
            registered_model_name=register_as,
            # Explicit requirements: inferring them would load the model in a subprocess (slow).
            pip_requirements=[f"llmbench=={llmbench.__version__}", "numpy", "pandas"],
        )
    return str(info.model_uri)
