"""Precision of entity linking, checked by reading: a random sample of linked mentions, judged.

Two halves:
- `draw_linked_sample` draws a reproducible uniform sample of the *linked* mentions
  (`mentions.entity_id` not null) and joins what a reader needs to judge each one: the page
  title, the sentence (`documents.text[sentence_start:sentence_end]`), the surface, the
  linker's method and score, and the linked entity's name and description.
  `sample_from_lakehouse` does the same on a lakehouse root's Parquet tables.
- A person (or a grader) writes one judgement per sampled mention to a JSONL file;
  `score_judgements` turns the file into precision with a 95% Wilson interval.

Judgement file format (JSONL, UTF-8; one object per line; blank lines are skipped):

    {"mention_id": "men_…", "surface": "Mercury", "entity_id": "ent_…",
     "entity_name": "Mercury (planet)", "method": "context", "verdict": "correct", "reason": ""}
    {"mention_id": "men_…", "surface": "Mexico", "entity_id": "ent_…", "entity_name": "Mexico",
     "method": "unique_alias", "verdict": "wrong", "reason": "Part of 'New Mexico'."}

- "mention_id", "surface", "entity_id", "entity_name": copied from the sample (which link was
  judged), non-empty strings.
- "method": the linker's method (self, unique_alias, context), so precision can be broken
  down by method without the lakehouse at hand.
- "verdict": "correct" (this surface in this sentence names this entity), "wrong" (another
  sense, another entity, or only part of a longer name), or "unclear" (the sentence cannot
  decide).
- "reason": one short sentence, required for "wrong" and "unclear" ("" otherwise).
A mention judged twice in one file is an error, as is a line that is not such an object.

Precision is correct / (correct + wrong): unclear judgements are counted but left out.

Command line:

    python -m evaluation.linking_sample sample --root DIR [--n 100] [--seed 0] [--template F]
    python -m evaluation.linking_sample score FILE
"""

import argparse
import json
import math
import os
import random
import sys
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from lakehouse import Lakehouse
from lakehouse.errors import SailyardError
from lakehouse.tables import DOCUMENTS, ENTITIES, MENTIONS

DEFAULT_N = 100
DEFAULT_SEED = 0
# Two-sided 95% normal quantile, Φ⁻¹(0.975), for the Wilson score interval.
Z_95 = 1.959963984540054
CORRECT, WRONG, UNCLEAR = "correct", "wrong", "unclear"
VERDICTS = (CORRECT, WRONG, UNCLEAR)
NEEDS_REASON = frozenset({WRONG, UNCLEAR})
MARK_OPEN, MARK_CLOSE = "[[", "]]"  # around the surface in a printed sentence
WRAP_WIDTH = 100

MENTION_COLUMNS = (
    "mention_id",
    "doc_id",
    "sentence_start",
    "sentence_end",
    "start_char",
    "end_char",
    "surface",
    "entity_id",
    "method",
    "score",
)
DOCUMENT_COLUMNS = ("doc_id", "title", "text")
ENTITY_COLUMNS = ("entity_id", "name", "description", "entity_type")


class JudgementFileError(SailyardError):
    """A judgement file that cannot be read, with the file, line and field."""


@dataclass(frozen=True)
class LinkedMention:
    """One sampled linked mention, with what a reader needs to judge the link."""

    mention_id: str
    doc_title: str
    sentence: str
    surface: str
    surface_start: int  # offset of the surface in `sentence`
    method: str
    score: float
    entity_id: str
    entity_name: str
    entity_description: str | None
    entity_type: str | None

    def marked_sentence(self) -> str:
        """The sentence with the judged surface in [[double brackets]]."""
        stop = self.surface_start + len(self.surface)
        return (
            f"{self.sentence[: self.surface_start]}{MARK_OPEN}{self.surface}{MARK_CLOSE}"
            f"{self.sentence[stop:]}"
        )


@dataclass(frozen=True)
class Judgement:
    """One reader's verdict on one linked mention (a line of a judgement file)."""

    mention_id: str
    surface: str
    entity_id: str
    entity_name: str
    method: str
    verdict: str
    reason: str = ""


def draw_linked_sample(
    mentions: pl.DataFrame,
    documents: pl.DataFrame,
    entities: pl.DataFrame,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
) -> list[LinkedMention]:
    """A uniform random sample of `n` linked mentions (all of them when fewer), in draw order.

    Reproducible: the linked mentions are ordered by mention_id (a stable hash) and drawn
    with Python's `random.Random(seed).sample`, whose sequence does not depend on the
    Polars version or on the row order of the Parquet files.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    linked = (
        mentions.select(MENTION_COLUMNS)
        .filter(pl.col("entity_id").is_not_null())
        .sort("mention_id")
    )
    picked = random.Random(seed).sample(range(linked.height), min(n, linked.height))
    drawn = (
        linked.with_row_index("row")
        .join(
            pl.DataFrame({"row": picked}, schema={"row": pl.UInt32}).with_row_index("draw"),
            on="row",
        )
        .join(documents.select(DOCUMENT_COLUMNS), on="doc_id", how="left")
        .join(entities.select(ENTITY_COLUMNS), on="entity_id", how="left")
        .sort("draw")
    )
    sample = []
    for row in drawn.iter_rows(named=True):
        text = row["text"] or ""
        sample.append(
            LinkedMention(
                mention_id=row["mention_id"],
                doc_title=row["title"] or "",
                sentence=text[row["sentence_start"] : row["sentence_end"]],
                surface=row["surface"],
                surface_start=row["start_char"] - row["sentence_start"],
                method=row["method"],
                score=row["score"],
                entity_id=row["entity_id"],
                entity_name=row["name"] or "",
                entity_description=row["description"],
                entity_type=row["entity_type"],
            )
        )
    return sample


def sample_from_lakehouse(
    root: str | os.PathLike[str] | None, n: int = DEFAULT_N, seed: int = DEFAULT_SEED
) -> list[LinkedMention]:
    """`draw_linked_sample` on the mentions, documents and entities of a lakehouse root."""
    lakehouse = Lakehouse(root)
    return draw_linked_sample(
        lakehouse.scan(MENTIONS.name).select(MENTION_COLUMNS).collect(),
        lakehouse.scan(DOCUMENTS.name).select(DOCUMENT_COLUMNS).collect(),
        lakehouse.scan(ENTITIES.name).select(ENTITY_COLUMNS).collect(),
        n,
        seed,
    )


def format_sample(sample: Sequence[LinkedMention]) -> str:
    """The sample as numbered, readable blocks: page, sentence (surface marked), link."""
    blocks = []
    for number, mention in enumerate(sample, start=1):
        sentence = textwrap.fill(
            mention.marked_sentence(),
            WRAP_WIDTH,
            initial_indent="    ",
            subsequent_indent="    ",
        )
        description = mention.entity_description or "(no description)"
        blocks.append(
            f"#{number} {mention.mention_id}  page: {mention.doc_title}\n"
            f"{sentence}\n"
            f"    surface: {mention.surface!r}  method: {mention.method}"
            f"  score: {mention.score:.3f}\n"
            f"    → {mention.entity_name} ({mention.entity_type or 'untyped'}): {description}"
            f"  [{mention.entity_id}]"
        )
    return "\n\n".join(blocks)


def judgement_template(sample: Sequence[LinkedMention]) -> list[dict[str, object]]:
    """One judgement object per sampled mention, with the verdict left null to fill in."""
    return [
        {
            "mention_id": mention.mention_id,
            "surface": mention.surface,
            "entity_id": mention.entity_id,
            "entity_name": mention.entity_name,
            "method": mention.method,
            "verdict": None,
            "reason": "",
        }
        for mention in sample
    ]


def _required_string(record: dict, name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise JudgementFileError(f"{where}: missing field {name!r} (a non-empty string)")
    return value


def parse_judgement(record: object, where: str) -> Judgement:
    """One line's object as a Judgement; `where` ("file:line") prefixes every error."""
    if not isinstance(record, dict):
        raise JudgementFileError(f"{where}: expected a JSON object, got {type(record).__name__}")
    verdict = record.get("verdict")
    if verdict not in VERDICTS:
        raise JudgementFileError(f"{where}: field 'verdict' must be one of {VERDICTS}")
    reason = record.get("reason", "")
    if not isinstance(reason, str):
        raise JudgementFileError(f"{where}: field 'reason' must be a string")
    if verdict in NEEDS_REASON and not reason.strip():
        raise JudgementFileError(f"{where}: a {verdict!r} verdict needs a 'reason'")
    return Judgement(
        mention_id=_required_string(record, "mention_id", where),
        surface=_required_string(record, "surface", where),
        entity_id=_required_string(record, "entity_id", where),
        entity_name=_required_string(record, "entity_name", where),
        method=_required_string(record, "method", where),
        verdict=verdict,
        reason=reason.strip(),
    )


def load_judgements(path: str | os.PathLike[str]) -> list[Judgement]:
    """Every judgement of a JSONL file, in file order; each mention at most once."""
    path = Path(path)
    judgements: list[Judgement] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise JudgementFileError(f"cannot read judgement file {path}: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise JudgementFileError(f"{where}: not valid JSON ({error.msg})") from error
        judgement = parse_judgement(record, where)
        if judgement.mention_id in seen:
            raise JudgementFileError(
                f"{where}: mention {judgement.mention_id} already judged on line "
                f"{seen[judgement.mention_id]}"
            )
        seen[judgement.mention_id] = number
        judgements.append(judgement)
    return judgements


def write_judgements(judgements: Sequence[Judgement], path: str | os.PathLike[str]) -> Path:
    """Write judgements as a JSONL file (the format `load_judgements` reads); returns it."""
    path = Path(path)
    lines = [json.dumps(asdict(judgement), ensure_ascii=False) for judgement in judgements]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (Wilson 1927; no continuity
    correction); (0.0, 1.0) when there are no trials."""
    if trials == 0:
        return 0.0, 1.0
    share = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (share + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(share * (1 - share) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Precision:
    """Correct, wrong and unclear counts of a set of judgements, and the precision."""

    correct: int
    wrong: int
    unclear: int

    @property
    def judged(self) -> int:
        """Judgements that count towards precision (unclear ones do not)."""
        return self.correct + self.wrong

    @property
    def precision(self) -> float | None:
        """correct / (correct + wrong); None when nothing was decided."""
        return self.correct / self.judged if self.judged else None

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the precision."""
        return wilson_interval(self.correct, self.judged)

    def describe(self) -> str:
        """'0.900 [0.826, 0.945] (90 correct, 10 wrong, 2 unclear)'."""
        counts = f"({self.correct} correct, {self.wrong} wrong, {self.unclear} unclear)"
        if self.precision is None:
            return f"n/a {counts}"
        low, high = self.interval
        return f"{self.precision:.3f} [{low:.3f}, {high:.3f}] {counts}"


@dataclass(frozen=True)
class LinkingScore:
    """Precision over all judgements and per linking method."""

    overall: Precision
    by_method: dict[str, Precision]

    def describe(self) -> str:
        """A short report: the overall line, then one line per method."""
        lines = [f"precision {self.overall.describe()}"]
        width = max((len(method) for method in self.by_method), default=0)
        lines += [
            f"  {method:<{width}}  {precision.describe()}"
            for method, precision in self.by_method.items()
        ]
        return "\n".join(lines)


def _precision(judgements: Sequence[Judgement]) -> Precision:
    counts = Counter(judgement.verdict for judgement in judgements)
    return Precision(counts[CORRECT], counts[WRONG], counts[UNCLEAR])


def score(judgements: Sequence[Judgement]) -> LinkingScore:
    """Precision of a list of judgements, overall and by method (methods sorted by name)."""
    methods = sorted({judgement.method for judgement in judgements})
    return LinkingScore(
        _precision(judgements),
        {m: _precision([j for j in judgements if j.method == m]) for m in methods},
    )


def score_judgements(path: str | os.PathLike[str]) -> LinkingScore:
    """Precision of a judgement file: correct / (correct + wrong), 95% Wilson, by method."""
    return score(load_judgements(path))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.linking_sample", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample", help="print a random sample of linked mentions")
    sample.add_argument("--root", required=True, help="the lakehouse root (SAILYARD_HOME)")
    sample.add_argument("--n", type=int, default=DEFAULT_N, help="sample size")
    sample.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    sample.add_argument(
        "--template", type=Path, help="also write a judgement file to fill in (verdict null)"
    )
    scoring = commands.add_parser("score", help="precision of a judgement file")
    scoring.add_argument("file", type=Path, help="a judgement JSONL file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: `sample` prints the sample, `score` prints the precision."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "sample":
            drawn = sample_from_lakehouse(args.root, args.n, args.seed)
            sys.stdout.write(format_sample(drawn) + "\n")
            if args.template:
                lines = [json.dumps(r, ensure_ascii=False) for r in judgement_template(drawn)]
                args.template.write_text("\n".join(lines) + "\n", encoding="utf-8")
        else:
            sys.stdout.write(score_judgements(args.file).describe() + "\n")
    except SailyardError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
