"""ReAct: one growing context. Every turn sees the system prompt, the few-shot prefix, the
question and every earlier turn and tool response, in order (the reference agent's loop).
When the context would overflow, the shared loop asks once for a final answer."""

from agents.paradigms.base import Paradigm


class ReAct(Paradigm):
    """The whole history, every turn (the base class's defaults)."""

    name = "react"
    version = "react-1"
