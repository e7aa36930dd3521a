"""OpenTelemetry spans of a solve, exported only where the user says.

Spans, nested as the work is: ``xolver.solve`` > ``xolver.round`` > ``xolver.step <node>`` (an agent
step: one graph node run, e.g. ``solve`` for one agent, ``judge``, ``check``) > ``chat <model>`` (a
model call) and ``execute_tool <tool>`` (a sandbox run). Model-call spans carry the GenAI semantic
conventions' attributes (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.request.temperature``, ``gen_ai.response.model``,
``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``)
and xolver's own (``xolver.role``, ``xolver.agent``, ``xolver.round``, ``xolver.purpose``,
``xolver.cost_usd``, ``xolver.cached``). Prompts and replies are not recorded.

Where spans go, first match wins:

* `enable(tracer_provider)`: the provider given (an app's, or a test's in-memory exporter);
* ``XOLVER_OTEL=1`` (or ``otlp``): an OTLP/gRPC exporter configured by the standard
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` variables (default
  ``localhost:4317``); ``XOLVER_OTEL=console``: printed to stderr;
* an app that set OpenTelemetry's global tracer provider gets the spans there;
* otherwise none are made: no exporter, no network, nothing sent. That is the default.

LangSmith needs nothing from here: the team is a LangGraph graph, so LangGraph's own tracing sends
its runs when ``LANGSMITH_TRACING=true`` and ``LANGSMITH_API_KEY`` are set.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.models.base import Model, ModelRequest, ModelResponse

__all__ = ["SolveTrace", "active", "disable", "enable", "model_call_span", "reset", "start_solve", "tool_span"]

ENV = "XOLVER_OTEL"
_ON = {"1", "true", "yes", "on", "otlp"}

_lock = threading.Lock()
_explicit: Any = None  # the provider `enable` was given
_disabled = False
_env_provider: Any = None  # the one XOLVER_OTEL built, once per process
_active: ContextVar[SolveTrace | None] = ContextVar("xolver_trace", default=None)


def enable(tracer_provider: Any = None) -> None:
    """Send xolver's spans to `tracer_provider` (default: OpenTelemetry's global provider).

    Overrides ``XOLVER_OTEL`` for this process until `disable`.
    """
    global _explicit, _disabled
    if tracer_provider is None:
        from opentelemetry import trace

        tracer_provider = trace.get_tracer_provider()
    with _lock:
        _explicit, _disabled = tracer_provider, False


def disable() -> None:
    """Make no spans in this process, whatever the environment says (undo with `enable` or `reset`)."""
    global _explicit, _disabled
    with _lock:
        _explicit, _disabled = None, True


def reset() -> None:
    """Follow ``XOLVER_OTEL`` and OpenTelemetry's global provider again, as at start (undo `enable`, `disable`)."""
    global _explicit, _disabled
    with _lock:
        _explicit, _disabled = None, False


def _env_tracer_provider(value: str) -> Any:
    global _env_provider
    with _lock:
        if _env_provider is None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

            from xolver._version import __version__

            exporter: SpanExporter
            if value == "console":
                # stderr: stdout carries `xolver mcp`'s protocol and `--json` output.
                exporter = ConsoleSpanExporter(out=sys.stderr)
            else:
                from xolver.errors import ConfigError

                try:
                    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
                except ImportError as e:
                    raise ConfigError(
                        f"{ENV}={value} needs the OTLP exporter: pip install opentelemetry-exporter-otlp-proto-grpc"
                    ) from e
                exporter = OTLPSpanExporter()
            resource = Resource.create({"service.name": "xolver", "service.version": __version__})
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(BatchSpanProcessor(exporter))
            _env_provider = provider
        return _env_provider


def _tracer() -> Any | None:
    """The tracer spans go to, or None (see the module docstring for the order)."""
    if _disabled:
        return None
    provider = _explicit
    if provider is None:
        value = os.environ.get(ENV, "").strip().lower()
        if value in _ON or value == "console":
            provider = _env_tracer_provider(value)
        elif "opentelemetry.trace" in sys.modules:  # an app set up OpenTelemetry: only then look
            from opentelemetry import trace

            candidate = trace.get_tracer_provider()
            if not isinstance(candidate, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
                provider = candidate
    if provider is None:
        return None
    from xolver._version import __version__

    return provider.get_tracer("xolver", __version__)


def active() -> SolveTrace | None:
    """The trace of the solve step running in this context, or None when spans are off."""
    return _active.get()


def _provider_of(model: str) -> str:
    if model == "local" or model.startswith("local/"):
        return "local"
    return model.split("/", 1)[0] if "/" in model else model


class SolveTrace:
    """The spans of one solve: the solve, its rounds, and the agent steps inside them.

    Args:
        tracer: an OpenTelemetry tracer.
        attributes: the solve span's attributes.
    """

    _ROUND_STEPS = frozenset({"solve", "check", "judge", "update_shared"})

    def __init__(self, tracer: Any, attributes: Mapping[str, Any]) -> None:
        self.tracer = tracer
        self.span = tracer.start_span("xolver.solve", attributes=dict(attributes))
        self._rounds: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.outcome: dict[str, Any] = {}
        """Attributes the solve span gets when it ends (the verifier's stop reason, whether checked)."""

    def _round(self, index: int) -> Any:
        from opentelemetry import trace

        with self._lock:
            if index not in self._rounds:
                for earlier, span in self._rounds.items():
                    if earlier < index and span.is_recording():
                        span.end()  # round `index` starts once every step of the one before has run
                parent = trace.set_span_in_context(self.span)
                self._rounds[index] = self.tracer.start_span(
                    "xolver.round", context=parent, attributes={"xolver.round": index}
                )
            return self._rounds[index]

    @contextlib.contextmanager
    def step(self, node: str, task: Mapping[str, Any]) -> Iterator[Any]:
        """A span for one run of graph node `node` (current while it runs), in its round's span."""
        from opentelemetry import trace

        round_index = task.get("round")
        if node == "judge" and isinstance(task.get("trajectory"), Mapping):
            round_index = task["trajectory"].get("round")
        agent = task.get("agent")
        in_round = node in self._ROUND_STEPS and isinstance(round_index, int)
        parent = self._round(round_index) if in_round and isinstance(round_index, int) else self.span
        attributes: dict[str, Any] = {"xolver.step": node}
        if in_round:
            attributes["xolver.round"] = round_index
        if isinstance(agent, int):
            attributes["xolver.agent"] = agent
        if isinstance(task.get("role"), str) and node == "solve":
            attributes["gen_ai.agent.name"] = task["role"]
        token = _active.set(self)
        try:
            with self.tracer.start_as_current_span(
                f"xolver.step {node}", context=trace.set_span_in_context(parent), attributes=attributes
            ) as span:
                yield span
        finally:
            _active.reset(token)

    def finish(self, error: BaseException | None = None) -> None:
        """End the round spans and the solve span, with the solve's `outcome` or its error."""
        from opentelemetry.trace import Status, StatusCode

        with self._lock:
            rounds = list(self._rounds.values())
        for span in rounds:
            if span.is_recording():
                span.end()
        for key, value in self.outcome.items():
            if isinstance(value, (str, bool, int, float)):
                self.span.set_attribute(f"xolver.{key}", value)
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        self.span.end()


def start_solve(config: XolverConfig, *, model: str) -> SolveTrace | None:
    """The trace of a solve about to start, or None when spans are off (the default)."""
    tracer = _tracer()
    if tracer is None:
        return None
    return SolveTrace(
        tracer,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "xolver",
            "gen_ai.request.model": model,
            "xolver.agents": config.agents,
            "xolver.rounds": config.total_rounds,
            "xolver.memory_mode": config.memory_mode,
        },
    )


class _ModelCall:
    """What `model_call_span` yields: record the response on the span."""

    def __init__(self, span: Any) -> None:
        self.span = span

    def response(self, response: ModelResponse) -> None:
        if self.span is None:
            return
        span = self.span
        span.set_attribute("gen_ai.response.model", response.model)
        span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)
        if response.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
        span.set_attribute("xolver.cost_usd", response.cost)
        span.set_attribute("xolver.cached", response.cached)


@contextlib.contextmanager
def model_call_span(model: Model, request: ModelRequest) -> Iterator[_ModelCall]:
    """A ``chat <model>`` span around one model call when the solve is traced (else nothing)."""
    trace = _active.get()
    if trace is None:
        yield _ModelCall(None)
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    for_role = getattr(model, "for_role", None)  # `RoleModels`: the role's own model
    name = (for_role(request.tags.role) if callable(for_role) else model).name

    s, tags = request.settings, request.tags
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": _provider_of(name),
        "gen_ai.request.model": name,
        "xolver.role": tags.role,
        "xolver.purpose": tags.purpose,
    }
    for key, value in (
        ("gen_ai.request.temperature", s.temperature),
        ("gen_ai.request.max_tokens", s.max_tokens),
        ("gen_ai.request.top_p", s.top_p),
        ("gen_ai.request.seed", s.seed),
        ("xolver.agent", tags.agent),
        ("xolver.round", tags.round),
    ):
        if value is not None:
            attributes[key] = value
    span_name = f"chat {name}"
    with trace.tracer.start_as_current_span(
        span_name, kind=SpanKind.CLIENT, attributes=attributes, set_status_on_exception=False
    ) as span:
        try:
            yield _ModelCall(span)
        except BaseException as e:
            span.set_attribute("error.type", type(e).__name__)
            span.set_status(Status(StatusCode.ERROR, str(e)[:200]))
            raise


@contextlib.contextmanager
def tool_span(tool: str, **attributes: Any) -> Iterator[Any]:
    """An ``execute_tool <tool>`` span around one sandbox run when the solve is traced (else None)."""
    trace = _active.get()
    if trace is None:
        yield None
        return
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    attrs.update({f"xolver.{k}": v for k, v in attributes.items() if v is not None})
    with trace.tracer.start_as_current_span(f"execute_tool {tool}", attributes=attrs) as span:
        yield span
