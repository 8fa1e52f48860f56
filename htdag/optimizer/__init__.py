"""The optimizer: step options learned from recorded attempts (timeouts,
retries, concurrency limits, priorities, hedging, fused chains), each decision
recorded and explainable. Not imported by ``import htdag``: numpy and
scikit-learn load when it is used."""

from .decisions import LEVELS, Decision, Level, Optimization
from .explain import Explanation
from .metrics import read_attempts
from .policy import Optimizer
from .samples import Attempts, OutcomeClass

__all__ = ["LEVELS", "Attempts", "Decision", "Explanation", "Level", "Optimization",
           "Optimizer", "OutcomeClass", "read_attempts"]
