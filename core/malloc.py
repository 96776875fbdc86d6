"""Keep freed activation memory in the process instead of handing it back to the kernel (glibc, command line only).

glibc's ``malloc`` serves every block above its mmap threshold (adaptive, at most 32 MiB on 64-bit) with its own
``mmap`` and gives it back with ``munmap`` when freed. A CPU training step of a width-128 ConvNet on a batch of 256
28 × 28 images allocates activations of about 100 MiB each, so each step maps and unmaps them again, and the kernel
zero-fills every fresh page: measured on one expert epoch of PneumoniaMNIST (the ``cpu`` profile, 1 thread), 8.2 of
its 27.3 CPU s were kernel time from page faults. With mmap off and the heap's top kept (``M_MMAP_MAX`` 0,
``M_TRIM_THRESHOLD`` 2 GiB) the same epoch took 21.2 CPU s (0.8 s kernel), -22 %, for a peak RSS 1.45 → 1.89 GB,
and wrote the same expert file byte for byte.

:func:`keep_freed_memory` sets both for this process (``mallopt``) and, through glibc's environment variables
(``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``), for the processes it starts (``--workers`` / ``--expert-workers``
spawn fresh interpreters). Only the ``condensekit`` command calls it (:func:`condensekit.core.cli.console`): a
library import never changes its host process's allocator. It does nothing where the C library is not glibc (no
``mallopt`` / ``gnu_get_libc_version``), when ``CONDENSEKIT_MALLOC=default`` asks for glibc's own behaviour, and
for a variable the user set already (``MALLOC_*``, or a ``glibc.malloc.*`` tunable in ``GLIBC_TUNABLES``: glibc
read it when the process started). GPU memory is not concerned (CUDA's
caching allocator keeps its blocks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["MALLOC_ENV", "keep_freed_memory"]

#: glibc's ``mallopt`` parameters (malloc.h) and the environment variables that set them in a new process
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_TRIM_BYTES = 2**31 - 1  # mallopt takes an int: 2 GiB
MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(_TRIM_BYTES)}


def keep_freed_memory(environ: dict[str, str] | None = None) -> bool:
    """Turn glibc's per-block mmap off and keep the heap's top for this process and its children; ``True`` if this
    process's allocator was changed. ``environ`` (default ``os.environ``) receives the variables the children read;
    ``CONDENSEKIT_MALLOC=default`` in it leaves everything as it is (``keep``, or unset: change it; anything else
    raises ``ValueError``)."""
    env = os.environ if environ is None else environ
    mode = env.get("CONDENSEKIT_MALLOC", "keep").strip().lower() or "keep"
    if mode not in ("keep", "default"):
        raise ValueError(
            f"Invalid value {env['CONDENSEKIT_MALLOC']!r} for the environment variable CONDENSEKIT_MALLOC. "
            "Valid values are keep (the default: freed memory stays in the process) and default (glibc's own behaviour)"
        )
    if mode == "default" or not sys.platform.startswith("linux"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    if "glibc.malloc." in env.get("GLIBC_TUNABLES", ""):  # the user tuned malloc the modern way: theirs wins
        return False
    changed = False
    for (name, value), param in zip(MALLOC_ENV.items(), (_M_MMAP_MAX, _M_TRIM_THRESHOLD), strict=True):
        if name in env:  # the user's own value: glibc read it when this process started, and the children will
            continue
        env[name] = value
        changed |= bool(libc.mallopt(param, int(value)))
    return changed


def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc (it has ``gnu_get_libc_version`` and ``mallopt``), else ``None``."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl and others: their allocators have no such switch
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc
