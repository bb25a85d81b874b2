"""Stable row ids: a short prefix naming the table, then a content hash.

The prefix lets `sailyard lineage ID` go straight to the right table; the hash makes ids
depend only on what defines the row, so re-materializing the same inputs gives the same ids.
"""

import hashlib

# 20 hex chars = 80 bits: a collision among 10^9 rows has probability ~4e-7 (birthday bound).
ID_HEX_CHARS = 20
_FIELD_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in the ids, urls or hashes hashed


def sha256_hex(data: bytes | str) -> str:
    """Full sha256 hex digest of bytes or UTF-8 text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def stable_id(prefix: str, *parts: str) -> str:
    """`prefix_<hash>` where the hash covers `parts` in order (None is not allowed)."""
    if not prefix.isidentifier():
        raise ValueError(f"id prefix {prefix!r} must be a short identifier such as 'doc'")
    digest = sha256_hex(_FIELD_SEPARATOR.join(parts))
    return f"{prefix}_{digest[:ID_HEX_CHARS]}"
