import pytest

from lakehouse.ids import ID_HEX_CHARS, sha256_hex, stable_id
from lakehouse.tables import table_for_id


def test_stable_id_depends_only_on_prefix_and_parts():
    assert stable_id("doc", "a", "b") == stable_id("doc", "a", "b")
    assert stable_id("doc", "a", "b") != stable_id("doc", "b", "a")
    assert stable_id("doc", "ab") != stable_id("doc", "a", "b")  # parts are separated
    assert stable_id("doc", "x").startswith("doc_")
    assert len(stable_id("doc", "x")) == len("doc_") + ID_HEX_CHARS


def test_stable_id_rejects_a_prefix_that_is_not_an_identifier():
    with pytest.raises(ValueError, match="id prefix"):
        stable_id("my-doc", "x")


def test_sha256_hex_of_text_is_the_hash_of_its_utf8():
    assert sha256_hex("é") == sha256_hex("é".encode())


def test_table_for_id_uses_the_prefix():
    assert table_for_id("doc_0123").name == "documents"
    assert table_for_id("snap_0123").name == "web_snapshots"
    assert table_for_id("nothing") is None
    assert table_for_id("zzz_0123") is None
