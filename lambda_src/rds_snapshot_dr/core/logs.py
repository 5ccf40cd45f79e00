"""Structured logging: one line per decision with target, action, outcome and reason as fields.

On Lambda with the JSON log format, the runtime's formatter carries the `extra=` fields; elsewhere
(tests, local runs) a small JSON formatter prints the same shape.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "rds_snapshot_dr"
logger = logging.getLogger(LOGGER_NAME)

_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
DECISION_FIELDS = ("target", "kind", "action", "operation", "outcome", "snapshot", "reason", "fix")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, message, logger, and every `extra=` field."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure_logging(level: str) -> None:
    """Set the level; add the JSON handler only where no runtime handler exists (i.e. not on Lambda)."""
    logger.setLevel(level)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)


def log_decision(level: int, message: str, **fields: Any) -> None:
    """Log one decision. Fields: target, kind, action, operation, outcome, snapshot, reason, fix."""
    logger.log(level, message, extra={key: value for key, value in fields.items() if value not in (None, "")})
