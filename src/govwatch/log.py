"""structlog configured once: console on a terminal, JSON otherwise (queryable canonical lines).

Context is bound, not repeated: the consumer loop binds its batch's fields and a stage binds its record's
(``structlog.contextvars.bound_contextvars``), and every line logged meanwhile on that thread carries them, in
every output format (``merge_contextvars`` runs before any renderer). A field passed on the call wins over a
bound one of the same name.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog
from structlog.typing import Processor

# Every output format shares these; only the renderer at the end differs.
SHARED_PROCESSORS: tuple[Processor, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.format_exc_info,
)


class _CurrentStderr:
    """A stream that writes to whatever ``sys.stderr`` is when a line is logged, not when logging was configured:
    a caller that swaps stderr (pytest's capture around an in-process ``main()``, a process that redirects it)
    never leaves every later log line writing to a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Configure structlog and stdlib logging; call once from ``main()``."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback) if use_console
        else structlog.processors.JSONRenderer()
    )
    logging.basicConfig(level=level.upper(), stream=_CurrentStderr(), format="%(message)s")
    # kafka-python and elasticsearch are chatty at INFO; their warnings still show.
    for noisy in ("kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # elastic_transport logs every retried request with a full traceback; the final failure reaches
    # our code as one translated error, which is what an operator needs to see.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    structlog.configure(
        processors=[*SHARED_PROCESSORS, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A bound logger; ``name`` ends up in the ``logger_name`` key."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(logger_name=name) if name else structlog.get_logger()
    return logger
