"""The synthesis group's logic: QA tasks whose answers are computed, not written.

`graph` indexes entities and relations for the generators; `spec` is the executable task
algebra (WebShaper's knowledge projections); `verbalize` turns specs into questions by
templates (`llm_verbalize`: the optional LLM rewriter); `tasks` executes a generator's draft
and derives answer, gold entities and evidence. Generators, one module each: `open_world`
(factual, comparative, multi-hop, analytical), `webshaper` (layered formal specs),
`sailorfog` (branching subgraphs with obfuscation, `obfuscate`), `webleaper` (entity sets)
and `webwalker` (website traversal). `verify` and `splits` check and split the tasks;
`build` runs it all into `qa_tasks` rows.
"""
