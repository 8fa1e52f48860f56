"""Every htdag exception. All derive from :class:`HtdagError`; each message says
what to fix. ``htdag.HtdagError`` and ``htdag.NonRetryableError`` are also at the
package root."""

from .core.errors import (
    DatabaseError,
    DuplicateStepError,
    EmbeddedServerError,
    EventLoopStopped,
    FlowCycleError,
    HtdagError,
    InvalidFlow,
    InvalidInput,
    InvalidOptionError,
    MapStepDependencyError,
    NonRetryableError,
    RunCancelled,
    RunFailed,
    SubgoalLimitError,
    TaskCancelled,
    UnknownDependencyError,
    UnknownFlowError,
    UnknownHandlerError,
    UnknownRunError,
    WaitTimeout,
)
from .decomposers._errors import (
    DecompositionFailed,
    EmptyCatalogue,
    GoalTooLong,
    LLMConfigurationError,
    LLMProviderError,
    UnknownModelError,
)
from .decomposers._goal import InvalidGoalError
from .decomposers.base import NoDecomposition
from .graph import (
    DanglingReferenceError,
    DuplicateTaskError,
    GraphCycleError,
    GraphError,
    InvalidMapOverError,
    UnknownHandlerInGraph,
    UnresolvedReferenceError,
)
from .handlers import HandlerRegistrationError
from .integrations.errors import GraphOutputError, GraphStateNotJSON, LangGraphIntegrationError
from .notifications.events import UnknownEventKindError
from .notifications.sinks import SinkError
from .notifications.stream import UnknownEventError
from .optimizer.learner_errors import InvalidLearnerSetting, StepCycleError, UnknownStepDependency
from .pictures.picture import PictureWriteError
from .pictures.plots import PlotsNeedMatplotlib

__all__ = [
    "HtdagError",
    # definitions and input
    "InvalidFlow", "FlowCycleError", "UnknownDependencyError", "DuplicateStepError",
    "MapStepDependencyError", "InvalidOptionError", "InvalidInput",
    # graphs, handlers and planning
    "GraphError", "GraphCycleError", "DanglingReferenceError", "DuplicateTaskError",
    "InvalidMapOverError", "UnknownHandlerInGraph", "UnresolvedReferenceError",
    "HandlerRegistrationError", "NoDecomposition", "SubgoalLimitError",
    "DecompositionFailed", "GoalTooLong", "EmptyCatalogue", "InvalidGoalError",
    # models (the LLM decomposer)
    "LLMConfigurationError", "UnknownModelError", "LLMProviderError",
    # integrations (LangGraph)
    "LangGraphIntegrationError", "GraphStateNotJSON", "GraphOutputError",
    # the optimizer
    "InvalidLearnerSetting", "StepCycleError", "UnknownStepDependency",
    # lookups
    "UnknownFlowError", "UnknownRunError", "UnknownHandlerError", "UnknownEventError",
    "UnknownEventKindError",
    # runs and handlers
    "RunFailed", "RunCancelled", "WaitTimeout", "NonRetryableError", "TaskCancelled",
    # infrastructure
    "DatabaseError", "EmbeddedServerError", "EventLoopStopped", "SinkError",
    # pictures
    "PictureWriteError", "PlotsNeedMatplotlib",
]
