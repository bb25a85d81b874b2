import json
from datetime import UTC, datetime

import polars as pl
import pytest

from lakehouse.lineage import RunStamp, stamp
from lakehouse.tables import WEB_SNAPSHOTS
from lakehouse.web.documents import (
    AcceptedDocument,
    DropReason,
    QualitySettings,
    Rejection,
    build_documents,
    process_snapshot,
)

SETTINGS = QualitySettings()
PROSE = "Ada Lovelace was an English mathematician and writer, chiefly known for her work."
JSON_HEADERS = json.dumps({"content-language": "en-GB"})


def _summary(text: str, title: str = "Ada Lovelace", **extra) -> bytes:
    return json.dumps({"title": title, "extract": text, **extra}).encode()


def _process(body: bytes | None, content_type="application/json", status=200, error=None):
    return process_snapshot(status, error, content_type, JSON_HEADERS, body, SETTINGS)


def test_a_summary_becomes_a_normalized_document():
    outcome = _process(_summary(PROSE.replace(" ", "  "), description="Mathematician"))
    assert isinstance(outcome, AcceptedDocument)
    assert outcome.extracted.text == PROSE
    assert outcome.extracted.title == "Ada Lovelace"
    assert outcome.extracted.description == "Mathematician"
    assert outcome.extracted.language == "en"  # from Content-Language, region dropped
    assert outcome.n_words == 13


@pytest.mark.parametrize(
    ("kwargs", "reason", "detail"),
    [
        ({"body": None, "error": "record 'X': broken"}, DropReason.FETCH_ERROR, "broken"),
        ({"body": b"{}", "status": 404}, DropReason.HTTP_STATUS, "404"),
        (
            {"body": b"%PDF", "content_type": "application/pdf"},
            DropReason.UNSUPPORTED_CONTENT_TYPE,
            "pdf",
        ),
        ({"body": b"{not json"}, DropReason.UNPARSEABLE_BODY, "invalid JSON"),
        ({"body": b"[1, 2]"}, DropReason.UNPARSEABLE_BODY, "is a list"),
        ({"body": _summary("")}, DropReason.EMPTY_TEXT, "no text"),
        ({"body": b'{"title": "x"}'}, DropReason.UNPARSEABLE_BODY, "'extract'"),
        ({"body": _summary("Too few words.")}, DropReason.TOO_SHORT, "3 words < 5"),
        (
            {"body": _summary("1 2 3 5 8 13 21 34 55 89, a sequence.")},
            DropReason.LOW_ALPHA_WORDS,
            "0.17",
        ),
        (
            {"body": _summary("Mercury may refer to: a planet, an element, or a Roman god.")},
            DropReason.DISAMBIGUATION,
            "may refer to",
        ),
        (
            {"body": b"\xff\xfe bad", "content_type": "text/plain"},
            DropReason.BAD_ENCODING,
            "do not decode",
        ),
    ],
)
def test_each_drop_has_its_reason(kwargs, reason, detail):
    outcome = _process(**kwargs)
    assert isinstance(outcome, Rejection)
    assert outcome.reason is reason
    assert detail in outcome.detail


def test_an_article_that_merely_says_may_refer_to_is_kept():
    text = "Longevity may refer to especially long-lived members of a population of animals."
    assert isinstance(_process(_summary(text)), AcceptedDocument)


def test_html_goes_through_trafilatura():
    paragraph = "Ada Lovelace wrote the first published algorithm for a computing machine. " * 4
    html = (
        "<html><head><title>Ada</title></head><body><nav>Home | About | Contact</nav>"
        f"<article><h1>Ada Lovelace</h1><p>{paragraph}</p></article></body></html>"
    ).encode()
    outcome = _process(html, content_type="text/html")
    assert isinstance(outcome, AcceptedDocument)
    assert "first published algorithm" in outcome.extracted.text
    assert "Contact" not in outcome.extracted.text


def _snapshot_frame(rows: list[dict]) -> pl.DataFrame:
    base = dict.fromkeys(WEB_SNAPSHOTS.columns) | {"parent_ids": [], "redirects": [], "links": []}
    full = [
        base
        | {
            "status": 200,
            "content_type": "application/json",
            "headers": JSON_HEADERS,
            "crawl_id": "c",
        }
        | row
        for row in rows
    ]
    frame = pl.DataFrame(full, schema={**WEB_SNAPSHOTS.columns, "parent_ids": pl.List(pl.String)})
    return stamp(frame, RunStamp("r", "v", datetime(2026, 1, 1, tzinfo=UTC)))


def test_exact_duplicates_keep_the_first_url_and_point_to_it():
    snapshots = _snapshot_frame(
        [
            {"snapshot_id": "snap_b", "url": "https://x.org/b", "body": _summary(PROSE)},
            {"snapshot_id": "snap_a", "url": "https://x.org/a", "body": _summary(PROSE.upper())},
            {"snapshot_id": "snap_c", "url": "https://x.org/c", "body": _summary("Short.")},
        ]
    )
    built = build_documents(snapshots, SETTINGS)
    documents, rejects = built.documents, built.rejects
    assert documents.get_column("url").to_list() == ["https://x.org/a"]
    assert documents.get_column("parent_ids").to_list() == [["snap_a"]]
    by_snapshot = {row["snapshot_id"]: row for row in rejects.iter_rows(named=True)}
    assert by_snapshot["snap_b"]["reason"] == "exact_duplicate"
    assert by_snapshot["snap_b"]["duplicate_of"] == documents.get_column("doc_id").item()
    assert by_snapshot["snap_c"]["reason"] == "too_short"
    assert documents.height + rejects.height == snapshots.height


def test_a_newer_snapshot_of_a_url_supersedes_the_older_one():
    old = _snapshot_frame(
        [{"snapshot_id": "snap_old", "url": "https://x.org/a", "body": _summary(PROSE)}]
    )
    new = _snapshot_frame(
        [{"snapshot_id": "snap_new", "url": "https://x.org/a", "body": _summary(PROSE + " More.")}]
    ).with_columns(pl.lit(datetime(2026, 2, 1, tzinfo=UTC)).alias("_produced_at"))
    built = build_documents(pl.concat([old, new]), SETTINGS)
    documents, rejects = built.documents, built.rejects
    assert documents.get_column("snapshot_id").to_list() == ["snap_new"]
    assert rejects.select("snapshot_id", "reason", "duplicate_of").rows() == [
        ("snap_old", "superseded", "snap_new")
    ]


def test_a_failed_refetch_does_not_supersede_a_good_copy():
    good = _snapshot_frame(
        [{"snapshot_id": "snap_good", "url": "https://x.org/a", "body": _summary(PROSE)}]
    )
    failed = _snapshot_frame(
        [{"snapshot_id": "snap_bad", "url": "https://x.org/a", "status": 503, "body": None}]
    ).with_columns(pl.lit(datetime(2026, 2, 1, tzinfo=UTC)).alias("_produced_at"))
    built = build_documents(pl.concat([good, failed]), SETTINGS)
    documents, rejects = built.documents, built.rejects
    assert documents.get_column("snapshot_id").to_list() == ["snap_good"]
    assert rejects.select("snapshot_id", "reason").rows() == [("snap_bad", "http_status")]


def test_output_does_not_depend_on_input_order():
    snapshots = _snapshot_frame(
        [
            {
                "snapshot_id": f"snap_{i}",
                "url": f"https://x.org/{i}",
                "body": _summary(f"{PROSE} {i}"),
            }
            for i in range(20)
        ]
    )
    first = build_documents(snapshots, SETTINGS)
    second = build_documents(snapshots.reverse(), SETTINGS)
    assert first.documents.equals(second.documents)
    assert first.rejects.equals(second.rejects)
    assert first.clusters.equals(second.clusters)


def test_worker_processes_give_the_same_rows_as_one_process():
    snapshots = _snapshot_frame(
        [
            {
                "snapshot_id": f"snap_{i}",
                "url": f"https://x.org/{i}",
                "body": _summary(f"{PROSE} {i % 7}"),
            }
            for i in range(2500)  # three batches
        ]
    )
    seen_progress: list[tuple[int, int]] = []
    single = build_documents(snapshots, SETTINGS, workers=1)
    parallel = build_documents(
        snapshots, SETTINGS, workers=2, progress=lambda *p: seen_progress.append(p)
    )
    assert single.documents.equals(parallel.documents)
    assert single.rejects.equals(parallel.rejects)
    assert single.clusters.equals(parallel.clusters)
    # 2500 snapshots, 7 distinct texts that differ in one trailing word: one near-dup cluster
    assert single.documents.height == 1
    assert single.clusters.height == 7
    reasons = single.rejects.get_column("reason").value_counts().rows()
    assert sorted(reasons) == [("exact_duplicate", 2493), ("near_duplicate", 6)]
    done = [count for count, _total in seen_progress]
    assert done == sorted(done)
    assert seen_progress[-1] == (2500, 2500)
    assert len(seen_progress) == 63  # ~32 batches per worker (2500 / 64 rounds up to 40)


def test_near_duplicates_keep_the_longest_text_and_record_the_cluster():
    long_text = PROSE + " She also wrote notes on the Analytical Engine in 1843."
    snapshots = _snapshot_frame(
        [
            {"snapshot_id": "snap_a", "url": "https://x.org/a", "body": _summary(PROSE)},
            {"snapshot_id": "snap_b", "url": "https://x.org/b", "body": _summary(long_text)},
            {
                "snapshot_id": "snap_c",
                "url": "https://x.org/c",
                "body": _summary(long_text + " Yes."),
            },
            {
                "snapshot_id": "snap_u",
                "url": "https://x.org/u",
                "body": _summary("Unrelated text about rivers and mountains of Peru."),
            },
        ]
    )
    built = build_documents(snapshots, SETTINGS)
    assert sorted(built.documents.get_column("url")) == [
        "https://x.org/a",
        "https://x.org/c",
        "https://x.org/u",
    ]
    (canonical,) = built.clusters.filter(pl.col("is_canonical")).get_column("url")
    assert canonical == "https://x.org/c"  # the longest version
    member = built.clusters.filter(~pl.col("is_canonical")).row(0, named=True)
    assert member["url"] == "https://x.org/b"
    assert member["similarity"] > 0.8
    reject = built.rejects.row(0, named=True)
    assert reject["reason"] == "near_duplicate"
    assert reject["duplicate_of"] == member["canonical_doc_id"]
    assert sorted(built.clusters.get_column("parent_ids").to_list()) == [["snap_b"], ["snap_c"]]
    off = build_documents(snapshots, SETTINGS, near_dup=None)
    assert off.documents.height == 4
    assert off.clusters.height == 0
