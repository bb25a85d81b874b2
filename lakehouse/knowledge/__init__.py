"""The knowledge group's logic: entities (and later mentions and relations) from documents.

`factbook` parses the CIA World Factbook package into typed `Country` records (the graph's
hard facts: capitals, borders, languages, population, area) and their documents; `aliases`
says which surface forms may name an entity and which are too generic to match alone;
`entities` builds the `entities` table: one entity per document, Factbook countries merged
into their Wikipedia pages, the rest as Factbook-only entities.
"""
