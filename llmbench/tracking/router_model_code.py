"""MLflow "model from code" for the router policy: MLflow runs this file to build the model (no pickle).

Not imported by llmbench itself; `log_policy_model` hands its path to `mlflow.pyfunc.log_model`.
"""

import mlflow

from llmbench.tracking.pyfunc import RouterPolicyModel

mlflow.models.set_model(RouterPolicyModel())
