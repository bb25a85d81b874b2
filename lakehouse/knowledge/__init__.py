"""The knowledge group's logic: entities, mentions and relations from documents.

`factbook` parses the CIA World Factbook package into typed `Country` records (the graph's
hard facts: capitals, borders, languages, population, area) and their documents; `aliases`
says which surface forms may name an entity and which are too generic to match alone;
`entities` builds the `entities` table: one entity per document, Factbook countries merged
into their Wikipedia pages, the rest as Factbook-only entities. `mentions` finds every alias
in every sentence (`match_text` keys the text) and links it by context; `relations` reads
edges and attribute facts from linked sentences, patterns and the Factbook (`llm_relations`:
the optional LLM extractor); `graph_stats` summarizes the resulting graph.
"""
