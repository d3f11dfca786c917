"""Giving back the memory start-up used and no longer needs.

Building the app (pydantic schemas, SQLAlchemy mappers, route tables) frees a few MiB of temporary objects that
glibc's malloc keeps in the process's heap; `malloc_trim(0)` returns those free pages to the system once, after
start-up (about 2 MiB of an idle instance; many instances share a host). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform


def release_free_heap() -> None:
    if platform.libc_ver()[0] != "glibc":
        return
    name = ctypes.util.find_library("c")
    if name is not None:
        ctypes.CDLL(name).malloc_trim(0)
