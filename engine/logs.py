"""Log lines as JSON, each carrying the id of the order it is about, so that one order can be
followed across the web and worker processes; plain text for people under `make run`."""

import contextvars
import json
import logging
from datetime import UTC, datetime

# The order the current request, task or consumer is working on.
current_order_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_order_id", default=None)


class OrderContext(logging.Filter):
    """Stamps every record with the order in hand, unless the record names one itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "order_id", None):
            record.order_id = current_order_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "message": record.getMessage(),
        }
        if getattr(record, "order_id", None):
            line["order_id"] = str(record.order_id)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        order_id = getattr(record, "order_id", None)
        return f"{text} [order {order_id}]" if order_id else text
