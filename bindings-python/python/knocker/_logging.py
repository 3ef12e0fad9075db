"""Knocker's core log events, routed into the standard ``logging`` module (logger ``knocker``).

The bridge is installed once per process when ``knocker`` is imported. Each record's message is
the core's message followed by its fields (``event dead-lettered event_id=7 endpoint=stripe
attempt=3 error=...``); the fields are also on the record as ``record.knocker_fields`` (a dict)
and the emitting Rust module as ``record.knocker_target``. Configure it like any logger::

    logging.getLogger("knocker").setLevel(logging.INFO)
"""

from __future__ import annotations

import logging
from typing import List, Tuple

from . import _native

logger = logging.getLogger("knocker")

_LEVELS = {"ERROR": logging.ERROR, "WARN": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG, "TRACE": 5}


def _forward(level: str, target: str, message: str, fields: List[Tuple[str, str]]) -> None:
    levelno = _LEVELS.get(level, logging.INFO)
    if not logger.isEnabledFor(levelno):
        return
    suffix = "".join(f" {k}={v}" for k, v in fields)
    logger.log(levelno, "%s%s", message, suffix, extra={"knocker_target": target, "knocker_fields": dict(fields)})


def install() -> bool:
    """Installs the bridge (idempotent; False when a bridge or other subscriber was already set)."""
    return bool(_native.install_log_bridge(_forward))
