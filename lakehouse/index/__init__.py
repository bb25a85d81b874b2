"""The index group's logic: documents → passages → a searchable LanceDB table → agent tools.

`chunking` cuts documents into sentence-aware, overlapping passages with exact character
offsets; `embedder` turns text into L2-normalized vectors with a local sentence-transformers
model (bf16 where the CPU runs it fast and it measurably agrees with fp32); `search_index`
builds and queries the LanceDB table (vector index, native full-text index, hybrid search by
reciprocal rank fusion, block lists); `tools` formats the reference agent's `search` and
`visit` tool outputs over it. No Dagster import here: assets/ wires these steps.
"""
