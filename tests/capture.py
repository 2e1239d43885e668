"""Everything the suite's apps say: every log record made and every response body they send,
kept for tests/test_zz_no_secrets.py to search once all other tests have run. (A module of its
own so that it is imported once, whatever name pytest gives the conftest.)"""

from __future__ import annotations

import logging
from typing import Any

import httpx

RECORDS: list[logging.LogRecord] = []
BODIES: list[str] = []
_make_record = logging.getLogRecordFactory()


def _keep_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    RECORDS.append(record)
    return record


def start() -> None:
    if logging.getLogRecordFactory() is not _keep_record:
        logging.setLogRecordFactory(_keep_record)


async def keep_body(response: httpx.Response) -> None:
    await response.aread()
    BODIES.append(response.text)
