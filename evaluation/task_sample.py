"""Reading synthesized tasks by hand: draw a seeded sample per kind, score the verdicts.

`draw_task_sample` takes up to `per_kind` random tasks of every kind from a lakehouse's
`qa_tasks`, each with what a reader needs to judge it: the question, the answer, the gold
path, and the evidence relations (subject | predicate | object || evidence sentence) the
answer was computed from. A reader writes one verdict per task — well_formed, unambiguous,
correct, and a note — and `score_verdicts` counts them per kind.

    python -m evaluation.task_sample sample --root DIR [--per-kind 30 --seed 0] --out F.jsonl
    python -m evaluation.task_sample score VERDICTS.jsonl [...]
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import polars as pl

from lakehouse import Lakehouse

VERDICT_FIELDS = ("well_formed", "unambiguous", "correct")
EVIDENCE_SHOWN = 12  # evidence relations printed per task
EVIDENCE_CHARS = 220


def draw_task_sample(lakehouse: Lakehouse, per_kind: int = 30, seed: int = 0) -> list[dict]:
    """Up to `per_kind` tasks of each kind (sorted by kind, then task id), with evidence."""
    tasks = lakehouse.read("qa_tasks")
    relations = {
        row["relation_id"]: row
        for row in lakehouse.read("relations")
        .select("relation_id", "subject_id", "predicate", "object_value", "evidence")
        .iter_rows(named=True)
    }
    names = dict(lakehouse.read("entities").select("entity_id", "name").iter_rows())
    sample = []
    for kind in sorted(tasks.get_column("kind").unique()):
        rows = tasks.filter(pl.col("kind") == kind).sort("task_id")
        chosen = rows.sample(min(per_kind, rows.height), seed=seed).sort("task_id")
        for row in chosen.iter_rows(named=True):
            evidence = []
            for relation_id in row["evidence_relation_ids"][:EVIDENCE_SHOWN]:
                relation = relations.get(relation_id)
                if relation:
                    subject = names.get(relation["subject_id"], relation["subject_id"])
                    evidence.append(
                        f"{subject} | {relation['predicate']} | {relation['object_value']} || "
                        f"{(relation['evidence'] or '')[:EVIDENCE_CHARS]}"
                    )
            sample.append(
                {
                    "task_id": row["task_id"],
                    "kind": kind,
                    "question": row["question"],
                    "answer": row["answer"],
                    "answer_aliases": row["answer_aliases"][:4],
                    "hops": row["hops"],
                    "obfuscations": row["obfuscations"],
                    "gold_path": [names.get(e, e) for e in row["gold_path"]],
                    "evidence": evidence,
                    "n_evidence": len(row["evidence_relation_ids"]),
                }
            )
    return sample


def read_verdicts(paths: list[Path]) -> list[dict]:
    """Verdict rows; a line without a field or with a non-boolean verdict is an error naming
    the file and line."""
    verdicts = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            for name in ("task_id", "kind", *VERDICT_FIELDS):
                if name not in row:
                    raise ValueError(f"{path}:{number}: no field {name!r}")
            for name in VERDICT_FIELDS:
                if not isinstance(row[name], bool):
                    raise ValueError(f"{path}:{number}: {name!r} must be true or false")
            verdicts.append(row)
    return verdicts


def score_verdicts(verdicts: list[dict]) -> dict[str, dict[str, int]]:
    """kind → counts of tasks, each verdict, and all three (plus a "total" row)."""
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("tasks", *VERDICT_FIELDS, "all_three"), 0)
    )
    for row in verdicts:
        for key in (row["kind"], "total"):
            counts[key]["tasks"] += 1
            for name in VERDICT_FIELDS:
                counts[key][name] += row[name]
            counts[key]["all_three"] += all(row[name] for name in VERDICT_FIELDS)
    return dict(sorted(counts.items(), key=lambda item: (item[0] == "total", item[0])))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.task_sample")
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="draw a sample of qa_tasks per kind")
    sample.add_argument("--root", required=True, help="the lakehouse root")
    sample.add_argument("--per-kind", type=int, default=30)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, help="the JSONL file to write")
    score = commands.add_parser("score", help="count verdicts per kind")
    score.add_argument("verdicts", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "sample":
        rows = draw_task_sample(Lakehouse(Path(args.root)), args.per_kind, args.seed)
        with open(args.out, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{len(rows)} tasks → {args.out}")
        return 0
    header = ("kind", "tasks", *VERDICT_FIELDS, "all")
    print(f"{header[0]:<20} " + " ".join(f"{name:>11}" for name in header[1:]))
    for kind, row in score_verdicts(read_verdicts(args.verdicts)).items():
        values = (row["tasks"], *(row[name] for name in VERDICT_FIELDS), row["all_three"])
        print(f"{kind:<20} " + " ".join(f"{value:>11}" for value in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
