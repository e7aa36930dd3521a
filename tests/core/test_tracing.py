"""OpenTelemetry spans of a solve, exported to an in-memory exporter; none by default."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests._support.scripts import PLAN, by_role, solved, verdict
from xolver import Xolver, tracing
from xolver.models.base import ModelResponse
from xolver.models.testing import FunctionModel


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracing.enable(provider)
    try:
        yield memory
    finally:
        tracing.reset()
        provider.shutdown()


def _by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def test_a_solve_exports_solve_round_step_model_and_tool_spans(exporter: InMemorySpanExporter) -> None:
    replies = by_role(planner=PLAN, solver=solved("7"), judge=verdict(1))

    def priced(request: object) -> ModelResponse:
        return ModelResponse(text=replies(request), cost=0.002)

    solution = Xolver(FunctionModel(priced, name="openai/tiny"), agents=3, rounds=1, memory=None).solve("3 + 4?")
    spans = exporter.get_finished_spans()
    (solve,) = _by_name(spans, "xolver.solve")
    rounds = _by_name(spans, "xolver.round")
    steps = _by_name(spans, "xolver.step")
    chats = _by_name(spans, "chat ")
    tools = _by_name(spans, "execute_tool")
    assert solve.parent is None
    assert solve.attributes is not None and solve.attributes["xolver.stop_reason"] == solution.stop_reason
    assert [r.attributes["xolver.round"] for r in rounds if r.attributes] == list(range(len(solution.rounds)))
    assert all(r.parent is not None and r.parent.span_id == solve.context.span_id for r in rounds)
    by_step = {s.attributes["xolver.step"] for s in steps if s.attributes}
    assert {"plan", "retrieve", "solve", "update_shared", "verify", "write_back"} <= by_step
    # An agent step sits in its round; the plan in the solve.
    round_ids = {r.context.span_id for r in rounds}
    agent_steps = [s for s in steps if s.attributes and s.attributes["xolver.step"] == "solve"]
    assert len(agent_steps) == 3 * len(solution.rounds)
    assert all(s.parent is not None and s.parent.span_id in round_ids for s in agent_steps)
    # One model-call span per call in the ledger, with GenAI attributes, inside an agent step.
    assert len(chats) == len(solution.usage.calls)
    step_ids = {s.context.span_id for s in steps}
    assert all(c.parent is not None and c.parent.span_id in step_ids for c in chats)
    planner = next(c for c in chats if c.attributes and c.attributes["xolver.role"] == "planner")
    assert planner.attributes is not None
    assert planner.name == "chat openai/tiny"
    assert planner.attributes["gen_ai.operation.name"] == "chat"
    assert planner.attributes["gen_ai.provider.name"] == "openai"
    assert planner.attributes["gen_ai.request.model"] == "openai/tiny"
    assert planner.attributes["gen_ai.usage.input_tokens"] == solution.usage.calls[0].prompt_tokens
    assert planner.attributes["gen_ai.usage.output_tokens"] == solution.usage.calls[0].completion_tokens
    assert planner.attributes["xolver.cost_usd"] == 0.002
    # The program seats ran Python in the sandbox: a tool span inside their step.
    assert tools and all(t.attributes and t.attributes["gen_ai.tool.name"] for t in tools)
    assert all(t.parent is not None and t.parent.span_id in step_ids for t in tools)
    assert len({s.context.trace_id for s in spans}) == 1


def test_a_failed_solve_marks_its_span(exporter: InMemorySpanExporter) -> None:
    from xolver.errors import PermanentModelError

    def failing(request: object) -> str:
        raise PermanentModelError("the prompt is longer than the model's context window", model="m")

    with pytest.raises(PermanentModelError):
        Xolver(FunctionModel(failing), agents=1, rounds=0, memory=None).solve("p")
    (solve,) = _by_name(exporter.get_finished_spans(), "xolver.solve")
    assert not solve.status.is_ok
    chat = _by_name(exporter.get_finished_spans(), "chat ")[0]
    assert chat.attributes is not None and chat.attributes["error.type"] == "PermanentModelError"


def test_no_spans_and_no_exporter_by_default() -> None:
    code = (
        "import sys\n"
        "from xolver import Xolver, tracing\n"
        "from tests._support.scripts import PLAN, by_role, solved, verdict\n"
        "from xolver.models.testing import FunctionModel\n"
        "m = FunctionModel(by_role(planner=PLAN, solver=solved('7'), judge=verdict(1)))\n"
        "s = Xolver(m, agents=2, rounds=0, memory=None).solve('3 + 4?')\n"
        "assert s.answer == '7', s.answer\n"
        "assert tracing._tracer() is None\n"
        "print(sorted(k for k in sys.modules if k.startswith('opentelemetry.exporter')))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("XOLVER_OTEL", "OTEL_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_console_spans_go_to_stderr_and_leave_stdout_to_the_output() -> None:
    code = (
        "from xolver import Xolver, tracing\n"
        "from tests._support.scripts import PLAN, by_role, solved, verdict\n"
        "from xolver.models.testing import FunctionModel\n"
        "m = FunctionModel(by_role(planner=PLAN, solver=solved('7'), judge=verdict(1)))\n"
        "s = Xolver(m, agents=1, rounds=0, memory=None).solve('3 + 4?')\n"
        "tracing._env_provider.force_flush()\n"
        "print(s.answer)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("XOLVER_OTEL", "OTEL_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "XOLVER_OTEL": "console"}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "7\n"
    assert '"name": "xolver.solve"' in out.stderr


def test_an_app_that_set_the_global_provider_gets_the_spans() -> None:
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter\n"
        "memory = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(memory))\n"
        "trace.set_tracer_provider(provider)\n"
        "from xolver import Xolver\n"
        "from tests._support.scripts import PLAN, by_role, solved, verdict\n"
        "from xolver.models.testing import FunctionModel\n"
        "m = FunctionModel(by_role(planner=PLAN, solver=solved('7'), judge=verdict(1)))\n"
        "with trace.get_tracer('app').start_as_current_span('request') as parent:\n"
        "    Xolver(m, agents=1, rounds=0, memory=None).solve('3 + 4?')\n"
        "solve = [s for s in memory.get_finished_spans() if s.name == 'xolver.solve'][0]\n"
        "assert solve.parent.span_id == parent.get_span_context().span_id\n"
        "print(len(memory.get_finished_spans()))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("XOLVER_OTEL", "OTEL_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 3


class _Collector:
    """An OTLP/gRPC trace collector on 127.0.0.1: the span names of every export it receives."""

    def __init__(self) -> None:
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        spans = self.spans = list[str]()
        self.exports = 0
        collector = self

        class Service(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # the gRPC method's own name
                collector.exports += 1
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        spans.extend(span.name for span in scope.spans)
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)  # type: ignore[no-untyped-call]
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None)


@pytest.fixture
def collector() -> Iterator[_Collector]:
    running = _Collector()
    try:
        yield running
    finally:
        running.stop()


_OTLP_SOLVE = (
    "import sys\n"
    "import xolver\n"
    "from xolver import Xolver, tracing\n"
    "assert not [k for k in sys.modules if k.startswith('opentelemetry.exporter')], 'an exporter at import'\n"
    "assert tracing._env_provider is None, 'a tracer provider at import'\n"
    "from tests._support.scripts import PLAN, by_role, solved, verdict\n"
    "from xolver.models.testing import FunctionModel\n"
    "print('imported', flush=True)\n"
    "sys.stdin.readline()  # the test checks that nothing was sent yet\n"
    "m = FunctionModel(by_role(planner=PLAN, solver=solved('7'), judge=verdict(1)))\n"
    "s = Xolver(m, agents=1, rounds=0, memory=None).solve('3 + 4?')\n"
    "print(s.answer, sorted(k for k in sys.modules if k.startswith('opentelemetry.exporter.otlp')))\n"
)


def _solve_with(env: dict[str, str], collector: _Collector) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XOLVER_OTEL", "OTEL_"))}
    child = subprocess.Popen(
        [sys.executable, "-c", _OTLP_SOLVE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**base, **env},
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline() == "imported\n", child.stderr.read() if child.stderr else ""
    assert collector.exports == 0  # importing xolver (and xolver.tracing) sent nothing
    out, err = child.communicate("go\n", timeout=300)
    assert child.returncode == 0, err
    return out.strip().split(maxsplit=1)


def test_xolver_otel_exports_spans_to_the_otlp_endpoint(collector: _Collector) -> None:
    env = {"XOLVER_OTEL": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
    answer, exporters = _solve_with(env, collector)
    # The process exits after the solve: the batch processor's flush at exit sends the spans.
    assert answer == "7" and "opentelemetry.exporter.otlp.proto.grpc.trace_exporter" in exporters
    assert collector.exports >= 1
    assert "xolver.solve" in collector.spans and any(n.startswith("chat ") for n in collector.spans)


def test_without_xolver_otel_an_otlp_endpoint_gets_nothing(collector: _Collector) -> None:
    answer, exporters = _solve_with({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}, collector)
    assert (answer, exporters) == ("7", "[]")
    assert collector.exports == 0 and collector.spans == []
