"""Which SQLite library this process runs, and whether Knocker shares it with ``sqlite3``.

POSIX file locks belong to the process, so two copies of SQLite in one process that open the
same file can break each other's WAL locking (closing one copy's connection releases the other
copy's locks and may checkpoint and delete ``-wal``/``-shm`` under it). Knocker's wheel links
the interpreter's shared ``libsqlite3`` so that there is one copy; this module checks it.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from . import _native

__all__ = ["sqlite_sharing"]


def _loaded_sqlite_libraries() -> Optional[List[str]]:
    """Real paths of every libsqlite3 mapped into this process (Linux), or None if unknown."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    found: List[str] = []
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) == 6 and "libsqlite3" in os.path.basename(parts[5]):
            p = os.path.realpath(parts[5].strip())
            if p not in found:
                found.append(p)
    return found


def sqlite_sharing() -> Dict[str, Any]:
    """Reports Knocker's SQLite and the interpreter's ``sqlite3`` SQLite, and whether they are one library.

    Keys: ``knocker_version``, ``knocker_library``, ``bundled``, ``python_version``,
    ``python_library``, ``shared`` (True, False, or None when it cannot be told), ``message``.
    When ``shared`` is False, do not open the Knocker file with the ``sqlite3`` module in this
    process (use Knocker's API, or a separate process, for your own reads and writes).
    """
    info = _native.sqlite_info()
    try:
        import sqlite3

        py_version: Optional[str] = sqlite3.sqlite_version
    except ImportError:  # an interpreter without sqlite3: nothing to share with
        py_version = None
    libs = _loaded_sqlite_libraries()
    ours = info.get("library_path")
    ext = info.get("extension_path")
    py_lib: Optional[str] = None
    if libs is not None:
        others = [p for p in libs if p != ext]
        py_lib = others[0] if others else None
    shared: Optional[bool]
    if py_version is None:
        shared = True
        message = "the interpreter has no sqlite3 module; Knocker's SQLite is the only one"
    elif info["bundled"] or (ours is not None and ours == ext):
        shared = False
        message = (
            f"knocker was built with a bundled SQLite {info['version']} while Python's sqlite3 uses "
            f"SQLite {py_version}{' from ' + py_lib if py_lib else ' (compiled in)'}: two SQLite copies in one "
            "process. Do not open the Knocker database file with the sqlite3 module in this process "
            "(closing such a connection can drop Knocker's WAL locks); read it from another process "
            "or through Knocker's API, or install a knocker build that links the shared libsqlite3."
        )
    elif libs is None:
        shared = None
        message = "cannot tell which SQLite libraries are loaded on this platform"
    elif py_lib is None or py_lib == ours:
        if py_lib is None and len(libs) == 1 and ours in libs:
            shared = True
        else:
            shared = py_lib == ours
        message = f"Knocker and Python's sqlite3 share one SQLite library ({ours}, {info['version']})"
    else:
        shared = False
        message = (
            f"Knocker uses {ours} but Python's sqlite3 uses {py_lib}: two SQLite copies in one process; "
            "do not open the Knocker database file with the sqlite3 module in this process"
        )
    return {
        "knocker_version": info["version"],
        "knocker_library": ours,
        "bundled": bool(info["bundled"]),
        "python_version": py_version,
        "python_library": py_lib,
        "shared": shared,
        "message": message,
    }
