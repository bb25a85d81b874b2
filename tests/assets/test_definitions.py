"""Load every definition and pin the shape of the asset graph (keys, deps, groups, checks)."""

import dagster as dg

from dagster_project.definitions import defs


def _graph():
    return defs.resolve_asset_graph()


def test_definitions_load_and_validate():
    dg.Definitions.validate_loadable(defs)
    assert {job.name for job in defs.jobs} >= {"replay_crawl", "build_from_crawls"}


def test_asset_graph_snapshot():
    graph = _graph()
    snapshot = {
        key.to_user_string(): (
            graph.get(key).group_name,
            sorted(parent.to_user_string() for parent in graph.get(key).parent_keys),
            sorted(check.name for check in graph.get(key).check_keys),
        )
        for key in graph.get_all_asset_keys()
    }
    assert snapshot == {
        "web_snapshots": ("web", [], ["fetch_error_share", "unique_snapshot_ids"]),
        "documents": (
            "web",
            ["web_snapshots"],
            ["every_snapshot_accounted_for", "no_empty_text", "unique_doc_ids"],
        ),
        "document_rejects": ("web", ["web_snapshots"], ["known_drop_reasons"]),
        "document_clusters": ("web", ["web_snapshots"], ["one_canonical_per_cluster"]),
        "entities": ("knowledge", ["documents", "web_snapshots"], ["unique_entity_ids"]),
        "mentions": (
            "knowledge",
            ["documents", "entities"],
            ["linked_entities_exist", "spans_match_document_text"],
        ),
        "relations": (
            "knowledge",
            ["documents", "entities", "mentions"],
            ["endpoints_are_entities", "unique_relation_ids"],
        ),
        "graph_stats": ("knowledge", ["entities", "mentions", "relations"], []),
        "passages": ("index", ["documents"], ["offsets_match_document_text"]),
        "search_index": ("index", ["passages"], []),
        "base_model": ("training", [], []),
        "qa_tasks": (
            "synthesis",
            ["documents", "entities", "passages", "relations", "search_index"],
            [
                "answerable_through_search",
                "answers_not_in_questions",
                "specs_reexecute",
                "splits_disjoint_by_entity",
            ],
        ),
        "trajectories": (
            "trajectories",
            [
                "base_model",
                "documents",
                "entities",
                "passages",
                "qa_tasks",
                "relations",
                "search_index",
            ],
            ["one_row_per_trajectory"],
        ),
        "trajectory_steps": (
            "trajectories",
            ["qa_tasks"],
            ["model_turns_keep_token_ids", "steps_belong_to_trajectories"],
        ),
    }


def test_every_asset_has_a_description_code_version_and_kinds():
    graph = _graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        assert node.code_version, f"{key} has no code_version"
        assert node.kinds, f"{key} has no kinds"


def test_crawls_are_dynamic_partitions():
    node = _graph().get(dg.AssetKey("web_snapshots"))
    assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
    assert node.partitions_def.name == "crawls"
