"""The run console logger: one readable line per event, tracebacks only when asked for.

Dagster's default console logger prints every debug event and full stack traces; users of
`sailyard materialize` want progress and, on failure, the one line that says what is wrong
(the traceback stays in the run's event log in the UI, and --debug prints it here too).
"""

import logging
import sys

import dagster as dg


class ConciseFormatter(logging.Formatter):
    """`HH:MM:SS step  message`, with multi-line error messages cut to their first line."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = str(meta.get("orig_message") or record.getMessage())
        if record.levelno >= logging.ERROR and not self.tracebacks:
            message = message.strip().splitlines()[0] if message.strip() else message
        step = meta.get("step_key") or "run"
        level = "" if record.levelno == logging.INFO else f"{record.levelname} "
        return f"{self.formatTime(record, self.datefmt)} {step:<18} {level}{message}"


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, default_value="INFO", description="DEBUG, INFO, WARNING…"),
        "tracebacks": dg.Field(bool, default_value=False, description="print stack traces"),
    },
    description="Concise console output: one line per event, tracebacks only on request.",
)
def concise_console(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.Logger("sailyard", level=config["log_level"].upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConciseFormatter(tracebacks=config["tracebacks"]))
    logger.addHandler(handler)
    return logger
