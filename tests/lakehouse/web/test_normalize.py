from lakehouse.web.normalize import count_words, dedup_key, normalize_text


def test_nfc_composes_accents_but_keeps_compatibility_characters():
    assert normalize_text("Ame\u0301lie") == "Amélie"  # e + combining acute -> é
    assert normalize_text("10 m²") == "10 m²"  # NFKC would turn this into "m2"


def test_invisible_and_control_characters_are_removed():
    assert normalize_text("zero\u200bwidth\u00adsoft\x07bell") == "zerowidthsoft bell"


def test_whitespace_collapses_and_paragraphs_survive():
    raw = "  One\u00a0 two\t three \r\n four\n\n\n  Second   paragraph.  "
    assert normalize_text(raw) == "One two three\nfour\n\nSecond paragraph."


def test_dedup_key_ignores_case_and_spacing():
    assert dedup_key("The  Cat\nsat") == dedup_key("the cat sat")


def test_count_words():
    assert count_words("Hello, world: 2001 is a year.") == 6
