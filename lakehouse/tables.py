"""The table registry: the one place that says which tables exist and what their rows hold.

Every table has an explicit Polars schema, a stable id column (with an id prefix, so a bare id
says which table it belongs to) and the lineage columns shared by all rows. Writers must
match the schema exactly (see `lakehouse.store.Lakehouse.write`).
"""

from dataclasses import dataclass, field

import polars as pl

from lakehouse.errors import UnknownTableError

# Lineage columns carried by every row of every table (DESIGN.md, storage rules).
LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "parent_ids": pl.List(pl.String),  # ids of the rows this row was made from ([] for sources)
    "_run_id": pl.String,  # the Dagster run (or CLI/bench run) that wrote the row
    "_code_version": pl.String,  # the code version of the step that made the row
    "_produced_at": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class TableSpec:
    """A registered table: its name, group, row meaning, schema and how its ids look."""

    name: str
    group: str
    description: str  # what one row is
    columns: dict[str, pl.DataType]  # the table's own columns, without the lineage ones
    id_column: str
    id_prefix: str
    partition_column: str | None = None  # a column whose value names the partition directory
    label_columns: tuple[str, ...] = ()  # shown beside the id in lineage trees
    column_docs: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> pl.Schema:
        """The full schema written to Parquet: own columns, then the lineage columns."""
        return pl.Schema({**self.columns, **LINEAGE_SCHEMA})


WEB_SNAPSHOTS = TableSpec(
    name="web_snapshots",
    group="web",
    description="One fetch of one URL in one crawl; failed fetches are rows with an error.",
    columns={
        "snapshot_id": pl.String,
        "crawl_id": pl.String,
        "url": pl.String,
        "final_url": pl.String,
        "redirects": pl.List(pl.String),
        "depth": pl.Int32,
        "status": pl.Int32,
        "content_type": pl.String,
        "headers": pl.String,
        "body": pl.Binary,
        "body_sha256": pl.String,
        "body_bytes": pl.Int64,
        "body_ref": pl.String,
        "links": pl.List(pl.Struct({"url": pl.String, "text": pl.String})),
        "fetched_at": pl.Datetime("us", "UTC"),
        "attempts": pl.Int32,
        "source": pl.String,
        "error": pl.String,
    },
    id_column="snapshot_id",
    id_prefix="snap",
    partition_column="crawl_id",
    label_columns=("crawl_id", "url", "status", "error"),
    column_docs={
        "snapshot_id": "stable id: hash of crawl id, url and body hash (or error)",
        "crawl_id": "the crawl (Dagster dynamic partition) this fetch belongs to",
        "url": "the normalized URL that was requested",
        "final_url": "the URL the body came from, after redirects (= url when none)",
        "redirects": "the redirect chain: every URL requested before final_url",
        "depth": "link distance from the crawl's seeds (0 for seeds and recorded sources)",
        "status": "HTTP status (replayed records are 200); null when nothing was fetched",
        "content_type": "media type of the body, without parameters",
        "headers": "response headers as a JSON object",
        "body": "raw response bytes (null for failures)",
        "body_sha256": "sha256 of the body bytes",
        "body_bytes": "length of the body in bytes",
        "body_ref": "where the raw bytes are kept (package file and record key, WARC file#offset)",
        "links": "outgoing links of an HTML body: normalized absolute url and anchor text",
        "fetched_at": "when the fetch happened (null when the recording does not say)",
        "attempts": "HTTP attempts made (retries included); 1 for recorded sources",
        "source": "the source system and version that produced the fetch",
        "error": "why the fetch or the recorded record could not be read (null if fine)",
    },
)

DOCUMENTS = TableSpec(
    name="documents",
    group="web",
    description="One extracted, normalized document, deduplicated exactly and near.",
    columns={
        "doc_id": pl.String,
        "url": pl.String,
        "title": pl.String,
        "text": pl.String,
        "language": pl.String,
        "description": pl.String,
        "topic": pl.String,
        "date": pl.String,
        "text_sha256": pl.String,
        "n_chars": pl.Int32,
        "n_words": pl.Int32,
        "snapshot_id": pl.String,
        "crawl_id": pl.String,
    },
    id_column="doc_id",
    id_prefix="doc",
    label_columns=("title", "url"),
    column_docs={
        "doc_id": "stable id: hash of url and normalized text hash",
        "text": "main text, Unicode NFC, whitespace collapsed (paragraphs kept)",
        "language": "ISO 639-1 code: Content-Language, else the page's lang, else detected",
        "description": "short description from the source, when it has one",
        "topic": "topic or category from the source, when it has one",
        "date": "publication date (ISO) when the page or record states one",
        "text_sha256": "sha256 of the case-folded normalized text: the exact-dedup key",
        "snapshot_id": "the fetch this document was extracted from",
    },
)

DOCUMENT_REJECTS = TableSpec(
    name="document_rejects",
    group="web",
    description="One snapshot that did not become a document, with the reason why.",
    columns={
        "reject_id": pl.String,
        "snapshot_id": pl.String,
        "crawl_id": pl.String,
        "url": pl.String,
        "reason": pl.String,
        "detail": pl.String,
        "duplicate_of": pl.String,
    },
    id_column="reject_id",
    id_prefix="rej",
    label_columns=("reason", "url", "duplicate_of"),
    column_docs={
        "reason": "one of lakehouse.web.documents.DropReason",
        "detail": "human-readable specifics (the measured value, the parse error)",
        "duplicate_of": "for duplicates: the doc_id (or snapshot) that was kept instead",
    },
)

DOCUMENT_CLUSTERS = TableSpec(
    name="document_clusters",
    group="web",
    description="One member of a near-duplicate cluster (MinHash LSH), canonical one included.",
    columns={
        "member_id": pl.String,
        "cluster_id": pl.String,
        "doc_id": pl.String,
        "canonical_doc_id": pl.String,
        "is_canonical": pl.Boolean,
        "similarity": pl.Float64,
        "snapshot_id": pl.String,
        "url": pl.String,
    },
    id_column="member_id",
    id_prefix="ndm",
    label_columns=("cluster_id", "url", "similarity"),
    column_docs={
        "cluster_id": "stable id of the cluster, derived from its canonical document",
        "doc_id": "the member's document id (only the canonical one is kept in documents)",
        "canonical_doc_id": "the kept document: the longest text, ties broken by URL",
        "similarity": "exact Jaccard similarity of 5-word shingles with the canonical member",
    },
)

ENTITIES = TableSpec(
    name="entities",
    group="knowledge",
    description="One entity: a page of the corpus or a Factbook country, with its aliases.",
    columns={
        "entity_id": pl.String,
        "name": pl.String,
        "url": pl.String,
        "description": pl.String,
        "entity_type": pl.String,
        "topic": pl.String,
        "aliases": pl.List(pl.String),
        "source": pl.String,
        "doc_id": pl.String,
        "factbook_code": pl.String,
    },
    id_column="entity_id",
    id_prefix="ent",
    label_columns=("name", "url", "source"),
    column_docs={
        "entity_id": "stable id: hash of the canonical URL (the Factbook URL for Factbook-only)",
        "name": "display name (the page title, or the Factbook's conventional short name)",
        "url": "canonical URL of the entity's page (null when it has none)",
        "entity_type": "coarse type: country, person, place, work, concept, ... (or null)",
        "aliases": "surface forms that may name it: title variants, parenthetical-stripped "
        "title, anchor texts of links to its page, Factbook names",
        "source": "where the entity comes from: page, factbook, or page+factbook",
        "doc_id": "the entity's own document (null for Factbook-only entities)",
        "factbook_code": "the Factbook's two-letter country code, when it is a country",
    },
)

PASSAGES = TableSpec(
    name="passages",
    group="index",
    description="One chunk of a document (sentence-aware, overlapping) with its embedding.",
    columns={
        "passage_id": pl.String,
        "doc_id": pl.String,
        "url": pl.String,
        "title": pl.String,
        "chunk_index": pl.Int32,
        "text": pl.String,
        "start_char": pl.Int32,
        "end_char": pl.Int32,
        "n_words": pl.Int32,
        "embedding": pl.List(pl.Float32),
        "embedding_model": pl.String,
    },
    id_column="passage_id",
    id_prefix="psg",
    label_columns=("title", "chunk_index", "url"),
    column_docs={
        "passage_id": "stable id: hash of doc id, chunking settings and chunk index",
        "start_char": "offset of the chunk's first character in the document text",
        "end_char": "offset one past the chunk's last character in the document text",
        "embedding": "L2-normalized sentence embedding (384-d all-MiniLM-L6-v2 by default)",
        "embedding_model": "model name and dtype that produced the embedding",
    },
)

MENTIONS = TableSpec(
    name="mentions",
    group="knowledge",
    description="One occurrence of a known entity's alias in a document sentence, linked or not.",
    columns={
        "mention_id": pl.String,
        "doc_id": pl.String,
        "sentence_id": pl.String,
        "sentence_start": pl.Int32,
        "sentence_end": pl.Int32,
        "start_char": pl.Int32,
        "end_char": pl.Int32,
        "surface": pl.String,
        "alias_key": pl.String,
        "entity_id": pl.String,
        "best_candidate_id": pl.String,
        "n_candidates": pl.Int32,
        "score": pl.Float64,
        "method": pl.String,
    },
    id_column="mention_id",
    id_prefix="men",
    label_columns=("surface", "method", "entity_id"),
    column_docs={
        "mention_id": "stable id: hash of doc id and the span's offsets",
        "sentence_id": "stable id of the sentence: hash of doc id and sentence start",
        "sentence_start": "offset of the sentence's first character in the document text",
        "sentence_end": "offset one past the sentence's last character",
        "start_char": "offset of the mention's first character in the document text",
        "end_char": "offset one past the mention's last character",
        "surface": "the text as written (= documents.text[start_char:end_char])",
        "alias_key": "the normalized alias it matched (lakehouse.knowledge.aliases)",
        "entity_id": "the linked entity; null when the mention stayed unlinked",
        "best_candidate_id": "the best-scoring candidate, also for unlinked mentions",
        "n_candidates": "how many entities share the alias",
        "score": "link confidence: 1 for self/unique links, else the context score",
        "method": "self, unique_alias or context (linked); nil_context, low_score or "
        "lowercase_proper_name (unlinked): see lakehouse.knowledge.mentions",
    },
)

RELATIONS = TableSpec(
    name="relations",
    group="knowledge",
    description="One edge or attribute fact: (subject, predicate, object) with its evidence.",
    columns={
        "relation_id": pl.String,
        "subject_id": pl.String,
        "predicate": pl.String,
        "object_id": pl.String,
        "object_value": pl.String,
        "object_type": pl.String,
        "number": pl.Float64,
        "unit": pl.String,
        "evidence": pl.String,
        "sentence_id": pl.String,
        "doc_id": pl.String,
        "confidence": pl.Float64,
        "extractor": pl.String,
        "extractor_version": pl.String,
        "model_id": pl.String,
        "prompt_hash": pl.String,
        "sampling": pl.String,
    },
    id_column="relation_id",
    id_prefix="rel",
    label_columns=("predicate", "object_value", "extractor"),
    column_docs={
        "relation_id": "stable id: hash of subject, predicate, object and evidence source",
        "subject_id": "the subject entity",
        "predicate": "normalized connecting phrase ('directed by'), 'mentions' (a page naming "
        "an entity) or a typed field ('capital', 'borders', 'birth_year')",
        "object_id": "the object entity for an edge; null for an attribute value",
        "object_value": "the object as text: the entity's name or the literal value",
        "object_type": "entity, year, date, number or quantity",
        "number": "the numeric value of a year/number/quantity (border length for borders)",
        "unit": "unit of a quantity (km, sq km, m, %, people); null otherwise",
        "evidence": "the evidence sentence (or the Factbook field as written)",
        "sentence_id": "the evidence sentence's id (mentions.sentence_id); for the Factbook, "
        "the profile sentence stating the field, null when none does",
        "doc_id": "the document the evidence is from (null for Factbook fields not ingested)",
        "confidence": "the extractor's confidence in [0, 1]",
        "extractor": "phrase, page_mention, pattern, factbook or llm",
        "extractor_version": "version of the extractor's code (and prompt, for llm)",
        "model_id": "llm extractor only: the model that produced the triple",
        "prompt_hash": "llm extractor only: sha256 of the prompt template",
        "sampling": "llm extractor only: the sampling parameters as JSON",
    },
)

GRAPH_STATS = TableSpec(
    name="graph_stats",
    group="knowledge",
    description="One statistic of the knowledge graph (counts, degrees, components, predicates).",
    columns={
        "stat_id": pl.String,
        "metric": pl.String,
        "key": pl.String,
        "value": pl.Float64,
    },
    id_column="stat_id",
    id_prefix="gst",
    label_columns=("metric", "key", "value"),
    column_docs={
        "metric": "what is measured: entities, edges, degree_pXX, components, predicate ...",
        "key": "the breakdown key (a predicate, an extractor, a degree); '' when none",
        "value": "the measured value",
    },
)

QA_TASKS = TableSpec(
    name="qa_tasks",
    group="synthesis",
    description="One synthesized question whose answer was computed by executing its spec.",
    columns={
        "task_id": pl.String,
        "question": pl.String,
        "answer": pl.String,
        "answer_aliases": pl.List(pl.String),
        "answer_type": pl.String,
        "answer_entity_ids": pl.List(pl.String),
        "kind": pl.String,
        "generator": pl.String,
        "generator_version": pl.String,
        "template": pl.String,
        "spec": pl.String,
        "hops": pl.Int32,
        "obfuscations": pl.String,
        "gold_entity_ids": pl.List(pl.String),
        "gold_path": pl.List(pl.String),
        "evidence_relation_ids": pl.List(pl.String),
        "evidence_doc_ids": pl.List(pl.String),
        "evidence_passage_ids": pl.List(pl.String),
        "seed": pl.Int64,
        "difficulty": pl.Float64,
        "split": pl.String,
        "spec_verified": pl.Boolean,
        "answer_unique": pl.Boolean,
        "answer_not_in_question": pl.Boolean,
        "duplicate_of": pl.String,
        "evidence_found": pl.Int32,
        "answerable": pl.Boolean,
        "verbalizer": pl.String,
        "verbalizer_model": pl.String,
        "prompt_hash": pl.String,
        "sampling": pl.String,
    },
    id_column="task_id",
    id_prefix="qa",
    label_columns=("kind", "question", "answer"),
    column_docs={
        "task_id": "stable id: hash of generator, canonical spec and question",
        "answer": "the answer text: an entity's name, a value, or a set's names joined by '; '",
        "answer_aliases": "other accepted ways to write the answer (entity aliases, number forms)",
        "answer_type": "entity, set, date (years and dates) or number",
        "answer_entity_ids": "the answer entities (the full gold set for set tasks)",
        "kind": "factual, comparative, multi_hop, analytical (open_world), formal (webshaper), "
        "fuzzy_multi_hop, fuzzy_intersection (sailorfog), set_basic, set_union, "
        "set_reverse_union (webleaper) or traversal (webwalker)",
        "generator": "open_world, webshaper, sailorfog, webleaper or webwalker",
        "generator_version": "the generator's code and template version",
        "template": "the question template (or prompt) that verbalized the spec",
        "spec": "the executable spec as canonical JSON (lakehouse.synthesis.spec)",
        "hops": "relations a solver traverses on the longest chain to the answer",
        "obfuscations": "JSON list of the obfuscations applied (kind, entity, original, shown)",
        "gold_entity_ids": "every entity a solver must identify: anchors, evidence ends, answer",
        "gold_path": "traversal tasks: the pages from the root to the target (entity ids)",
        "evidence_relation_ids": "the relations the answer's execution read",
        "evidence_doc_ids": "the documents of those relations",
        "evidence_passage_ids": "the passages holding the evidence sentences",
        "seed": "the random seed of the generator run",
        "difficulty": "0-1 estimate from hops, obfuscations, answer-set size and kind",
        "split": "train, dev, test (disjoint by entity), overlap (shares an entity with a "
        "held-out task: in no split) or null (failed a check: in no split)",
        "spec_verified": "re-executing the stored spec gives the stored answer",
        "answer_unique": "no other entity satisfies the spec (sets: the set is exactly known)",
        "answer_not_in_question": "the question names neither the answer nor its aliases",
        "duplicate_of": "the earlier task this one nearly duplicates; null when none",
        "evidence_found": "evidence passages found in the search tool's top k by a task query",
        "answerable": "every evidence passage was found (null when search was not run)",
        "verbalizer": "templates, or llm (the optional rewriter)",
        "verbalizer_model": "llm verbalizer only: the model",
        "prompt_hash": "llm verbalizer only: sha256 of the prompt template",
        "sampling": "llm verbalizer only: the sampling parameters as JSON",
    },
)

TRAJECTORIES = TableSpec(
    name="trajectories",
    group="trajectories",
    description="One agent run on one task: policy, paradigm, outcome, verdict and rewards.",
    columns={
        "trajectory_id": pl.String,
        "collection": pl.String,
        "task_id": pl.String,
        "split": pl.String,
        "kind": pl.String,
        "hops": pl.Int32,
        "policy": pl.String,
        "model": pl.String,
        "paradigm": pl.String,
        "paradigm_version": pl.String,
        "method": pl.String,
        "sample": pl.Int32,
        "seed": pl.Int64,
        "parent_trajectory_id": pl.String,
        "branch_step": pl.Int32,
        "checkpoint_id": pl.String,
        "rl_step": pl.Int32,
        "group_id": pl.String,
        "turns": pl.Int32,
        "tool_calls_valid": pl.Int32,
        "tool_calls_invalid": pl.Int32,
        "tool_failures": pl.Int32,
        "violations": pl.Int32,
        "tokens_in": pl.Int64,
        "tokens_out": pl.Int64,
        "wall_s": pl.Float64,
        "model_s": pl.Float64,
        "tool_s": pl.Float64,
        "termination": pl.String,
        "answer": pl.String,
        "correct": pl.Boolean,
        "verdict_method": pl.String,
        "verdict_reason": pl.String,
        "answer_f1": pl.Float64,
        "reward_correctness": pl.Float64,
        "reward_entity_coverage": pl.Float64,
        "reward_turns": pl.Int32,
        "failure": pl.String,
        "visited_urls": pl.List(pl.String),
        "notes": pl.String,
        "error": pl.String,
        "prompt_hash": pl.String,
        "sampling": pl.String,
    },
    id_column="trajectory_id",
    id_prefix="traj",
    partition_column="collection",
    label_columns=("policy", "paradigm", "correct"),
    column_docs={
        "trajectory_id": "stable id: hash of task, policy, model, paradigm, method, sample, "
        "parent and branch step, and the run's settings",
        "collection": "which asset wrote it (synthesis; later rl and evaluation runs)",
        "policy": "llm (a model wrote every turn), planner (FAS planning-action), reasoning "
        "(FAS reasoning-action) or has (a HAS branch of a planner trajectory)",
        "model": "the model id, or the planner's version",
        "method": "synthesis method: llm_sampling, fas_planning, fas_reasoning or has_branch",
        "sample": "the sample number of this task under this policy (k samples per task)",
        "parent_trajectory_id": "HAS branches: the successful trajectory it branched from",
        "branch_step": "HAS branches: the step index where it took another action",
        "checkpoint_id": "RL rollouts: the policy checkpoint that sampled it",
        "turns": "model turns that acted (tool call, answer or a malformed attempt)",
        "tool_calls_invalid": "turns that were neither a valid tool call nor an answer",
        "tool_failures": "valid calls whose tool raised (index or sandbox error)",
        "violations": "hallucinated tool responses and turns without <think>",
        "tokens_in": "prompt tokens summed over the model's calls",
        "model_s": "wall seconds inside model calls; tool_s: inside tools",
        "termination": "answer, max_turns, context_limit, time_limit or error",
        "correct": "the verdict (exact, alias, numeric, date or set match; or the judge)",
        "answer_f1": "token F1 (set answers: item F1) against the gold answer",
        "reward_correctness": "1.0 correct else 0.0 (set answers: item F1)",
        "reward_entity_coverage": "share of the task's gold entities named in the thinking "
        "and tool calls",
        "failure": "planner trajectories that failed: search_miss, visit_miss, "
        "extraction_miss, ...; null otherwise",
        "visited_urls": "pages the agent visited, in order",
        "notes": "JSON: the policy's and paradigm's own notes (gold ranks, summaries, folds)",
        "sampling": "the sampling parameters as JSON",
    },
)

TRAJECTORY_STEPS = TableSpec(
    name="trajectory_steps",
    group="trajectories",
    description="One message of a trajectory: a prompt, a model turn or a tool response.",
    columns={
        "step_id": pl.String,
        "trajectory_id": pl.String,
        "collection": pl.String,
        "step": pl.Int32,
        "role": pl.String,
        "kind": pl.String,
        "content": pl.String,
        "think": pl.String,
        "tool_name": pl.String,
        "tool_arguments": pl.String,
        "tool_error": pl.String,
        "format_error": pl.String,
        "step_violations": pl.List(pl.String),
        "answer": pl.String,
        "context_steps": pl.List(pl.Int32),
        "token_ids": pl.List(pl.Int32),
        "logprobs": pl.List(pl.Float32),
        "raw_text": pl.String,
        "prompt_tokens": pl.Int32,
        "completion_tokens": pl.Int32,
        "content_tokens": pl.Int32,
        "latency_s": pl.Float64,
        "finish_reason": pl.String,
    },
    id_column="step_id",
    id_prefix="step",
    partition_column="collection",
    label_columns=("role", "kind", "tool_name"),
    column_docs={
        "step": "the message's position in the trajectory (0 = system prompt)",
        "kind": "system, few_shot, question, turn, tool_response, summary_request, summary, "
        "state, workspace, folded or force_answer",
        "content": "the message as it stands in a context (tool responses: escaped)",
        "tool_arguments": "JSON of the call's arguments (model turns and their responses)",
        "tool_error": "why the call was refused (schema) or failed, or the format error sent",
        "context_steps": "model turns: the steps (by `step`) whose messages made the input",
        "token_ids": "model turns: the sampled token ids, exactly (token-out)",
        "logprobs": "model turns: the sampling log-probs of token_ids",
        "raw_text": "model turns: the generated text before the parser cut anything",
        "content_tokens": "other messages: their length in the policy model's tokens",
    },
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        WEB_SNAPSHOTS,
        DOCUMENTS,
        DOCUMENT_REJECTS,
        DOCUMENT_CLUSTERS,
        ENTITIES,
        MENTIONS,
        RELATIONS,
        GRAPH_STATS,
        PASSAGES,
        QA_TASKS,
        TRAJECTORIES,
        TRAJECTORY_STEPS,
    )
}


def get_table(name: str) -> TableSpec:
    """The spec of a registered table; an unknown name gets an error listing the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(sorted(TABLES))
        raise UnknownTableError(f"unknown table {name!r}; registered tables: {known}") from None


def table_for_id(row_id: str) -> TableSpec | None:
    """The table whose ids carry this id's prefix, or None when no table does."""
    prefix, sep, _ = row_id.partition("_")
    if not sep:
        return None
    return next((spec for spec in TABLES.values() if spec.id_prefix == prefix), None)
