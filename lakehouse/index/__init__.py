"""The index group's logic: documents → passages → a searchable LanceDB table → agent tools.

`chunking` cuts documents into sentence-aware, overlapping passages with exact character
offsets; `embedder` turns text into L2-normalized vectors with a local sentence-transformers
model (bf16 where the CPU runs it fast and it measurably agrees with fp32); `search_index`
builds and queries the LanceDB table (vector index, native full-text index, hybrid search by
reciprocal rank fusion, block lists); `tools` formats the reference agent's `search` and
`visit` tool outputs over it; `service` serves those tools over HTTP to many agents at once
(`batching` merges their concurrent searches) and `client` calls it with the same methods as
the in-process tools. No Dagster import here: assets/ wires these steps.
"""
