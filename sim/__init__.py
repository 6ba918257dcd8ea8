"""freemium-sim: agent-based simulation of a freemium music-streaming market.

Importing the package first picks where numba caches the compiled kernels (:func:`numba_cache_dir`)
and where matplotlib keeps its font cache (:func:`matplotlib_config_dir`): an install in a read-only
place (a system prefix, a user without a writable home) would otherwise die on its first kernel with
numba's "no locator available", and matplotlib would warn on every run. It also lets the C allocator
keep freed memory for reuse (:func:`keep_freed_memory`).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import platform
import shutil
import sys
import tempfile

__version__ = "0.1.0"


def _writable(folder: str, private: bool = False) -> bool:
    """Whether files can be created in ``folder`` (made if missing): numba's own test of a cache folder.

    ``private``: also owned by this user and closed to others, as a folder in the shared temporary
    folder must be (numba's cache files are pickles: whoever can write them runs code in this process).
    """
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        st = os.stat(folder)
        return not private or (st.st_uid == os.getuid() and not st.st_mode & 0o022)
    except OSError:
        return False


def _own_folder(name: str) -> str | None:
    """A writable folder ``name`` of this package's own: in the user's cache (``$XDG_CACHE_HOME`` or
    ``~/.cache``), else in a private folder of the temporary folder; None where neither can be written."""
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if _writable(folder := os.path.join(user, "freemium-sim", name)):
        return folder
    try:  # gettempdir raises where there is none
        private = os.path.join(tempfile.gettempdir(), f"freemium-sim-{os.getuid()}")
    except OSError:
        return None
    return os.path.join(private, name) if _writable(private, private=True) and _writable(os.path.join(private, name)) else None


def numba_cache_dir() -> str | None:
    """The folder for numba's cache, set in ``NUMBA_CACHE_DIR``, or None where numba's own first choice,
    next to the package's modules, is writable (or the user set ``NUMBA_CACHE_DIR``).

    Else :func:`_own_folder`; with none writable, the kernels compile uncached (:func:`_compile_uncached`)
    and one line on stderr says so (once: the worker processes a run starts inherit ``FREEMIUM_SIM_UNCACHED``).
    """
    if os.environ.get("NUMBA_CACHE_DIR") or _writable(os.path.join(os.path.dirname(__file__), "__pycache__")):
        return None
    folder = _own_folder("numba")
    if folder is None:
        _compile_uncached()
        if not os.environ.get("FREEMIUM_SIM_UNCACHED"):
            print("freemium-sim: no writable folder for the compiled kernels (the package's, ~/.cache, the temporary folder): "
                  "compiling them without a cache in every process (tens of seconds each); "
                  "set NUMBA_CACHE_DIR (and MPLCONFIGDIR) to a writable folder to keep them", file=sys.stderr)
            os.environ["FREEMIUM_SIM_UNCACHED"] = "1"
        return None
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # numba read its settings when imported
        sys.modules["numba"].config.CACHE_DIR = folder
    return folder


def _compile_uncached() -> None:
    """Make the kernels' ``@njit(cache=True)`` act as ``cache=False``: a dispatcher keeps the empty cache it
    starts with. ``cache=True`` calls ``Dispatcher.enable_caching``, which with no folder to write would
    raise numba's "no locator available" on the first kernel (numba is pinned below 0.69 in pyproject.toml)."""
    from numba.core.dispatcher import Dispatcher

    Dispatcher.enable_caching = lambda self: None


def matplotlib_config_dir() -> str | None:
    """The folder for matplotlib's settings and font cache, set in ``MPLCONFIGDIR``, where its own
    (``$XDG_CONFIG_HOME/matplotlib`` or ``~/.config/matplotlib``) is not writable: else matplotlib
    warns on every run and rebuilds its font cache in a new temporary folder. Where no folder of ours can
    be written either, a temporary one of this process's, removed at exit. None where its own is writable (or set)."""
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    if os.environ.get("MPLCONFIGDIR") or _writable(os.path.join(config, "matplotlib")):
        return None
    folder = _own_folder("matplotlib")
    if folder is None:  # what matplotlib does then, without its two lines of warning on every run
        try:
            folder = tempfile.mkdtemp(prefix="freemium-sim-matplotlib-")
        except OSError:
            return None
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["MPLCONFIGDIR"] = folder
    return folder


def keep_freed_memory() -> bool:
    """Let the C allocator keep freed blocks for reuse, however large (glibc's ``mallopt``); True where set. Left to
    itself glibc maps a block of a few MB or more afresh and hands it back when it is freed, so every step's
    per-listener temporaries would come as new pages from the kernel: a page fault per page and system time in
    every month (at 1M listeners they are a few MB; at 10M the users' lists and utilities are 40 MB, past the
    largest threshold glibc lets a program set, so no block is mapped on its own). Kept, they are reused; the peak
    grows little (the heap's free top is capped at :data:`TRIM_THRESHOLD`). ``FREEMIUM_SIM_MALLOC=0`` in the
    environment leaves the allocator's defaults; elsewhere than glibc nothing changes."""
    if os.environ.get("FREEMIUM_SIM_MALLOC", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's malloc.h
TRIM_THRESHOLD = 64 << 20  # bytes: the free memory the heap keeps at its top before handing it back

numba_cache_dir()
matplotlib_config_dir()
keep_freed_memory()
