"""Named points where a test may have this process killed, to show that a crash there loses nothing.

``CRM_FAULT=<point>:<marker file>`` makes the first process that reaches ``<point>`` create the
marker file and kill itself with SIGKILL — no clean-up, no ``finally``, exactly as an OOM kill or a
power cut would leave things. The marker makes it happen once: the restarted process (a gunicorn
worker respawned, a worker run again) goes past the point. Unset, as in production, ``reach`` is
one dictionary look-up. ``tests/test_crash_safety.py`` lists the points and what each proves.
"""
from __future__ import annotations

import os
import signal


def reach(point: str) -> None:
    wanted = os.environ.get("CRM_FAULT")
    if not wanted:
        return
    name, _, marker = wanted.partition(":")
    if name != point or not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # once: the marker says it happened
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
