"""Errors the lakehouse raises for bad input: each names the input and what is wrong.

The CLI prints these as one line without a traceback; anything else is a bug.
"""


class SailyardError(Exception):
    """Base class for user-facing errors (bad input, unknown names), not for bugs."""


class UnknownTableError(SailyardError):
    """A table name that is not in the registry, or that has not been materialized yet."""


class SchemaMismatchError(SailyardError):
    """A frame written to a table does not match the table's registered schema."""


class UnknownIdError(SailyardError):
    """A row id that no table holds."""


class QueryError(SailyardError):
    """A SQL query DuckDB rejected (syntax, unknown column, type error)."""


class SourceError(SailyardError):
    """A data source that cannot be read at all (missing package, file or language)."""
