"""Aliases: the surface forms that may name an entity, and the key they are matched by.

`title_aliases` turns a page title into its name variants; `normalize_alias` is the match key
every later step (mention detection, country merging) compares; `is_generic_alias` flags
aliases that are kept in an entity's list but are too generic ever to be matched on their
own; `anchor_alias` says whether a link's anchor text can name the page it points to.
"""

import re
import unicodedata


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Letters that NFKD does not split into a base letter plus a combining mark.
_LETTER_FOLDS = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
        "ß": "ss",
    }
)
_APOSTROPHES = re.compile(r"['’‘`ʼ´]")
_NON_DECIMAL_PERIOD = re.compile(r"(?<!\d)\.|\.(?!\d)")  # "U.S." → "US", "3.5" stays
_NON_WORD = re.compile(r"[^\w.]+|_+")  # periods left after _NON_DECIMAL_PERIOD are decimal
_WHITESPACE = re.compile(r"\s+")
_TRAILING_PARENTHETICAL = re.compile(r"^(?P<head>.*\S)\s*\([^()]*\)$")
_LEADING_THE = re.compile(r"^The\s+(?=\S)")
# Documentation-site titles: a heading mark ("¶"), a section number ("3.2. Built-in
# Types"), and a name before a dash-separated tagline ("os.path — Common pathname ...").
_HEADING_MARKS = "¶§#"
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?\s+(?=\S)")
_TAGLINE = re.compile(r"\s+[—–]\s+")
_ENUMERATION = re.compile(r"\s(?:and|or)\s|&")
# Lower-case words that belong to personal names ("Vasco da Gama", "Ludwig van Beethoven").
NAME_PARTICLES = _word_set(
    "al bin ben bint da das de del della der des di do dos du e el ibn la le ter van von y"
)

# At most this many characters (spaces excluded) make an alias too short to match alone:
# one- and two-letter strings ("A", "US", "Li") are words, initials or symbols far more
# often than names.
MAX_GENERIC_CHARS = 2
# Very common English function words and navigation words: kept as aliases when an entity
# has them (a band called "Yes", the pronoun "US" of the United States) but never matched
# alone. Deliberately small: content nouns ("Water", "Art") are real entity names.
GENERIC_WORDS = _word_set(
    """
    a about above after again all also an and any are as at be been before being below but
    by can could did do does each for from had has have he her here him his how i if in into
    is it its may me might more most must my no not now of on one only or other our out over
    she should so some such than that the their them then there these they this those to too
    under up us very was we were what when where which while who why will with would yes you
    your click link page home website next previous back top see source read
    """
)
# Anchor texts that say where a link goes, not what it names ("click here", "[1]").
NAVIGATIONAL_ANCHORS = frozenset(
    {
        "here",
        "click here",
        "click",
        "link",
        "this link",
        "this",
        "this page",
        "page",
        "more",
        "read more",
        "learn more",
        "see",
        "see also",
        "see more",
        "source",
        "sources",
        "website",
        "official website",
        "web site",
        "home",
        "homepage",
        "home page",
        "next",
        "previous",
        "back",
        "top",
        "edit",
        "citation needed",
        "archive",
        "archived",
        "pdf",
        "download",
        "details",
        "full text",
        "original",
        "index",
        "main article",
    }
)
# Longer anchor texts are phrases or sentences, not names: the longest title of the recorded
# English corpus has 11 words ("The History of the Decline and Fall of the Roman Empire").
MAX_ANCHOR_WORDS = 12


def clean_surface(text: str) -> str:
    """`text` in Unicode NFC with runs of whitespace collapsed to one space and trimmed."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold_accents(text: str) -> str:
    """`text` without diacritics ("Jürgen Łódź" → "Jurgen Lodz"), case and punctuation kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", stripped.translate(_LETTER_FOLDS))


def normalize_alias(text: str) -> str:
    """The match key of a surface form: equal keys mean "the same name".

    Policy: accents folded, case folded, "&" read as "and", apostrophes and non-decimal
    periods removed ("Côte d'Ivoire" → "cote divoire", "U.S." → "us"; "3.14" stays), every
    other run of punctuation or whitespace (hyphens, slashes, commas, brackets) one space.
    """
    key = fold_accents(text).casefold().replace("&", " and ")
    key = _APOSTROPHES.sub("", key)
    key = _NON_DECIMAL_PERIOD.sub("", key)
    return _NON_WORD.sub(" ", key).strip()


def strip_disambiguator(title: str) -> str:
    """The title without a trailing parenthetical: "Mercury (planet)" → "Mercury"."""
    match = _TRAILING_PARENTHETICAL.match(title)
    return match.group("head") if match else title


def safe_comma_head(title: str) -> str | None:
    """The part before the comma of a "Name, Qualifier" title, when it names the entity alone.

    Safe when: the title has exactly one comma; the qualifier after it starts with a capital
    or a digit and is no enumeration (no "and", "or", "&": "Covenant on Economic, Social and
    Cultural Rights" is one name); the head has at least two words, each capitalized or a
    name particle ("de", "von", "e"...). So "Arthur Wellesley, 1st Duke of Wellington" gives
    "Arthur Wellesley" and "Kansas City, Missouri" gives "Kansas City". A one-word head
    ("Paris, Texas", "Washington, D.C.", "Mary, Queen of Scots") is the bare place or given
    name the qualifier was added to tell apart from others, so it is not an alias; a head
    with other lower-case words ("University of California, Berkeley") names something else.
    """
    if title.count(",") != 1:
        return None
    head, tail = (part.strip() for part in title.split(","))
    words = head.split()
    if len(words) < 2 or not tail or not (tail[0].isupper() or tail[0].isdigit()):
        return None
    if _ENUMERATION.search(tail):
        return None
    if not all(word[0].isupper() or word in NAME_PARTICLES for word in words):
        return None
    return head


def title_aliases(title: str) -> list[str]:
    """Name variants of a page title, the title first, without repeats, in a fixed order.

    The title (without a trailing heading mark "¶"); without a leading section number
    ("3.2. Built-in Types" → "Built-in Types"); the name before a dash-separated tagline
    ("os.path — Common pathname manipulations" → "os.path"); its parenthetical-stripped
    form; the safe comma head (`safe_comma_head`); each of those without a leading "The"
    ("The Beatles" → "Beatles"); then the accent-folded spelling of every variant that has
    accents ("Jürgen Habermas" → "Jurgen Habermas"). Empty titles give no aliases.
    """
    base = clean_surface(title).rstrip(_HEADING_MARKS).rstrip()
    variants: list[str] = []

    def add(form: str | None) -> None:
        if form and form not in variants:
            variants.append(form)

    add(base)
    unnumbered = _SECTION_NUMBER.sub("", base)
    add(unnumbered)
    if _TAGLINE.search(unnumbered):
        add(_TAGLINE.split(unnumbered, maxsplit=1)[0])
    stripped = strip_disambiguator(base)
    add(stripped)
    add(safe_comma_head(stripped))
    for form in list(variants):
        add(_LEADING_THE.sub("", form))
    for form in list(variants):
        add(fold_accents(form))
    return variants


def is_generic_alias(alias: str) -> bool:
    """True when `alias` is too generic to be matched on its own.

    Generic: at most `MAX_GENERIC_CHARS` characters in its match key (spaces excluded),
    only digits ("1984", "2001"), or one of the `GENERIC_WORDS`. Such aliases stay in the
    entity's list (they are true names of it) and need context to be linked.
    """
    key = normalize_alias(alias)
    compact = key.replace(" ", "")
    return len(compact) <= MAX_GENERIC_CHARS or compact.isdigit() or key in GENERIC_WORDS


def anchor_alias(text: str | None) -> str | None:
    """The anchor text of a link as an alias of its target, or None when it names nothing.

    Dropped: empty texts, navigation words ("here", "click here", "link"; see
    `NAVIGATIONAL_ANCHORS`), bare URLs, citation marks and numbers ("[1]", "12"), and texts
    of more than `MAX_ANCHOR_WORDS` words.
    """
    if text is None:
        return None
    surface = clean_surface(text)
    key = normalize_alias(surface)
    if not key or key in NAVIGATIONAL_ANCHORS or key.replace(" ", "").isdigit():
        return None
    if surface.lower().startswith(("http://", "https://", "www.")):
        return None
    if len(surface.split()) > MAX_ANCHOR_WORDS:
        return None
    return surface
