"""Runs one validated tool call: `search` and `visit` on the index tools, `python` in the sandbox.

Every call is validated against its JSON schema first (agents/tool_schemas.py); a call that
fails validation is not run, and its error text goes back to the model as the tool response
(counted as an invalid call). A tool that raises (the index service is down, the sandbox
could not start) also answers in text, flagged as a tool failure: the episode goes on, and
the trajectory row says what happened. Tools run in worker threads, so concurrent episodes
overlap their tool time with other episodes' model calls.
"""

import asyncio
import time
from dataclasses import dataclass

from agents.format import ToolCall
from agents.sandbox import SandboxLimits, run_python
from agents.tool_schemas import TOOLS, ToolSpec, tool_call_error
from lakehouse.index.tools import NO_BLOCKS, BlockList, Tools

DEFAULT_SEARCH_K = 10  # results per query, as the reference agent's search returns


@dataclass(frozen=True)
class ToolOutcome:
    """What a call returned, as text for the model, and how it went."""

    text: str
    valid: bool  # the call passed validation (and so was run)
    error: str | None  # the validation error or the tool's failure, else None
    failed: bool  # valid, but the tool raised
    seconds: float


class ToolRunner:
    """The tools of an episode: index tools (in-process or HTTP) and the python sandbox."""

    def __init__(
        self,
        tools: Tools | None,
        *,
        specs: tuple[ToolSpec, ...] = TOOLS,
        search_k: int = DEFAULT_SEARCH_K,
        block: BlockList = NO_BLOCKS,
        python_limits: SandboxLimits | None = None,
    ) -> None:
        self.tools = tools
        self.specs = specs
        self.search_k = search_k
        self.block = block
        self.python_limits = python_limits or SandboxLimits()

    async def run(self, call: ToolCall) -> ToolOutcome:
        """Validate `call`, run it in a worker thread, and return its text."""
        started = time.perf_counter()
        problem = tool_call_error(call, self.specs)
        if problem is not None:
            return ToolOutcome(problem, False, problem, False, time.perf_counter() - started)
        try:
            text = await asyncio.to_thread(self._run_valid, call)
        except Exception as error:  # noqa: BLE001 - a tool's failure must not end the batch
            message = f"Error: the {call.name} tool failed ({type(error).__name__}: {error})."
            return ToolOutcome(message, True, message, True, time.perf_counter() - started)
        return ToolOutcome(text, True, None, False, time.perf_counter() - started)

    def _run_valid(self, call: ToolCall) -> str:
        arguments = call.arguments
        if call.name == "python":
            return run_python(arguments["code"], self.python_limits).to_tool_text()
        if self.tools is None:
            raise RuntimeError("no index tools are configured for this run")
        if call.name == "search":
            return self.tools.search_tool(arguments["query"], k=self.search_k, block=self.block)
        if call.name == "visit":
            return self.tools.visit_tool(arguments["url"], arguments["goal"], block=self.block)
        raise RuntimeError(f"tool {call.name!r} is declared but has no runner")
