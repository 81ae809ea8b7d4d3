"""How `kb serve` logs: every line through the standard library, as text (uvicorn's look) or as one JSON object a
line (KB_LOG_FORMAT), each written while a request runs tagged with that request's id.

The id lives in a context variable that the API's request middleware (api.observability) sets for each request;
`RequestIdFilter`, on every handler, copies it onto the records. It stays here, in kb, so that the logging
configuration `kb serve` hands uvicorn names only kb (dependencies point api → kb)."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from kb.settings import LogFormat


@dataclass(frozen=True, slots=True)
class RequestIds:
    """The server's id of a request (uuid4 hex, sent back as X-Request-ID) and, apart, the X-Request-ID the client
    sent, if any: the client chose that one, so it is only ever logged as `client_request_id`, never taken as ours."""

    request_id: str
    client_request_id: str | None = None


# Set by the request middleware in the request's own task: the value dies with the task. It is not reset when the
# app returns, so that the server's log of an exception that escaped the app still carries it.
_current: ContextVar[RequestIds | None] = ContextVar("kb_request_ids", default=None)


def current_request() -> RequestIds | None:
    """The ids of the request being served in this context; None outside a request."""
    return _current.get()


def enter_request(ids: RequestIds) -> None:
    """Tag the rest of this task (the request's) with `ids`."""
    _current.set(ids)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (and `client_request_id` when the client sent one) to records written inside a request.

    `tag=True` (the text format) also sets `request_tag`, ` request_id=<id>` or nothing, for a format string to end
    with; the JSON formatter needs no tag: a record's extra attributes become fields of its object."""

    def __init__(self, tag: bool = False) -> None:
        super().__init__()
        self._tag = tag

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _current.get()
        if ids is not None:
            record.request_id = ids.request_id
            if ids.client_request_id is not None:
                record.client_request_id = ids.client_request_id
        if self._tag:
            record.request_tag = f" request_id={ids.request_id}" if ids is not None else ""
        return True


# uvicorn's access records carry their parts as arguments: (client, method, path with query, HTTP version, status).
_ACCESS_LOGGER = "uvicorn.access"
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonLineFormatter(JsonFormatter):
    """One JSON object a line: `time` (ISO 8601, UTC), `level`, `logger`, `message`, then the record's extras
    (`request_id`, `client_request_id`, an access line's `client`, `method`, `path`, `status`) and `exc_info`."""

    def __init__(self, use_colors: bool | None = None) -> None:  # uvicorn may pass `use_colors` to any formatter
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            # uvicorn adds `color_message` (the message with ANSI colours) to its records: not a field for a file.
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
        if record.name == _ACCESS_LOGGER and isinstance(record.args, tuple) and len(record.args) == 5:
            log_data.update(zip(_ACCESS_FIELDS, record.args, strict=True))


def logging_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """The `logging.config.dictConfig` of `kb serve` (uvicorn's `log_config`): uvicorn's loggers and kb's own
    (`kb`, `api`, `indexer`) at `level`, everything else at WARNING (httpx would log every webhook delivery at
    INFO), uvicorn's streams kept (access lines on stdout, the rest on stderr), every handler tagging records with
    the request id. `text` keeps uvicorn's look (`INFO:     ...`), with ` request_id=<id>` at the end of lines
    written inside a request; `json` writes one JSON object a line."""
    if log_format == "json":
        formatters: dict[str, Any] = {
            "default": {"()": f"{__name__}.JsonLineFormatter"},
            "access": {"()": f"{__name__}.JsonLineFormatter"},
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s%(request_tag)s",
                "use_colors": None,
            },
            "named": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(name)s: %(message)s%(request_tag)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s%(request_tag)s',
                "use_colors": None,
            },
        }
    request_ids = {"()": f"{__name__}.RequestIdFilter", "tag": log_format == "text"}
    ours = {"level": level, "handlers": ["named"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,  # kb's module loggers exist before this runs
        "formatters": formatters,
        "filters": {"request_ids": request_ids},
        "handlers": {
            name: {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["request_ids"],
                "stream": stream,
            }
            for name, formatter, stream in (
                ("default", "default", "ext://sys.stderr"),
                ("named", "named" if log_format == "text" else "default", "ext://sys.stderr"),
                ("access", "access", "ext://sys.stdout"),
            )
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "kb": dict(ours),
            "api": dict(ours),
            "indexer": dict(ours),
        },
        "root": {"handlers": ["named"], "level": "WARNING"},
    }
