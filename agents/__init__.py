"""LLM backends, tools (search, visit, python), agent paradigms and synthesis policies.

No Dagster import: assets/ wires these into the trajectories group.

- format: the reference agent's message tags, the parser of one model turn, termination
  reasons, and the rendering of tool output that crawled text cannot break out of.
- tool_schemas: the search/visit/python argument schemas and the validation errors the
  model is shown; prompts: the system prompt that declares them and the few-shot prefix.
- sandbox: the `python` tool's separate, limited process (_sandbox_child is its other side).
"""
