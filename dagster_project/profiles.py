"""Run profiles: `smoke` (the whole graph on a small slice, minutes on 2 cores) and `full`.

A profile is nothing but run config: per-op settings plus the crawl partition it replays.
The CLI and the UI jobs both build their run config here, so the two never disagree.
"""

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lakehouse.errors import SailyardError


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    crawl_id: str  # the `crawls` partition the profile replays
    ops: dict[str, dict[str, Any]] = field(default_factory=dict)  # op name -> its config


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="the whole graph on a 2,000-article slice of the recorded crawl",
        crawl_id="wiki-en-smoke",
        # 2,000 of 10,033 articles: a seeded sample spread over all 12 topics.
        ops={
            "web_snapshots": {"replay": {"language": "en", "limit": 2000, "sample_seed": 0}},
            # 100 planner tasks (with HAS branches) and 100 reasoning-action trajectories;
            # a few base-model episodes in-process (no vLLM install in the quick start).
            "trajectories": {
                "planner_tasks": 100,
                "has_max_branches": 2,
                "reasoning_tasks": 100,
                "llm_tasks": 4,
                "llm_samples": 1,
                "backend": "transformers",
                "max_turns": 3,
                "turn_tokens": 192,
                "concurrency": 1,
            },
        },
    ),
    "full": Profile(
        name="full",
        description="the real experiment on every recorded article",
        crawl_id="wiki-en-full",
        ops={
            "web_snapshots": {"replay": {"language": "en", "limit": None, "sample_seed": 0}},
            # The full graph supports ~25k unique tasks (24,830 generated in 26 s here).
            "qa_tasks": {
                "open_world_per_kind": 3000,
                "webshaper": 3000,
                "sailorfog": 3000,
                "webleaper": 1500,
                "webwalker": 1500,
            },
        },
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called `name`; an unknown name is an error listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise SailyardError(
            f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}"
        ) from None


def run_config(profile: Profile, op_names: list[str]) -> dict[str, Any]:
    """Dagster run config setting the profile's values for the given ops (others untouched)."""
    return {
        "ops": {name: {"config": profile.ops[name]} for name in op_names if name in profile.ops}
    }


def load_op_config(path: str) -> dict[str, dict[str, Any]]:
    """Per-op config from a YAML or JSON file: `{op_name: {setting: value}}`.

    Example (a live crawl instead of the replay):
        web_snapshots:
          http: {seeds: ["https://docs.python.org/3/"], max_pages: 200}
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text()
        loaded = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except OSError as error:
        raise SailyardError(f"cannot read config file {file}: {error}") from error
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise SailyardError(f"config file {file} is not valid YAML/JSON: {error}") from error
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, dict) for key, value in loaded.items()
    ):
        raise SailyardError(
            f"config file {file} must map op names to settings, e.g. 'web_snapshots: {{...}}'"
        )
    return loaded


def with_op_config(profile: Profile, overrides: dict[str, dict[str, Any]]) -> Profile:
    """The profile with each named op's config replaced (not merged) by the override."""
    return replace(profile, ops={**profile.ops, **overrides})
