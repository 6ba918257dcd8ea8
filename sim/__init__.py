"""freemium-sim: agent-based simulation of a freemium music-streaming market.

Importing the package first picks where numba caches the compiled kernels (:func:`numba_cache_dir`)
and where matplotlib keeps its font cache (:func:`matplotlib_config_dir`): an install in a read-only
place (a system prefix, a user without a writable home) would otherwise die on its first kernel with
numba's "no locator available", and matplotlib would warn on every run. The kernels are cached per
version of the code they compile from (:func:`kernel_fingerprint`): numba checks only the file of the
kernel itself, so an edit to a helper it inlines from another module would leave it stale. It also lets
the C allocator keep freed memory for reuse (:func:`keep_freed_memory`).
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import platform
import re
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


#: The package's folders whose modules no kernel reaches (the commands, pages and analyses above the model):
#: an edit there keeps the compiled kernels. ``tests/test_install.py`` checks that no kernel imports from them.
NO_KERNELS = ("analysis", "app", "classroom", "cli.py", "commands", "report", "sweep")


def kernel_fingerprint() -> str:
    """A digest of every module a kernel may compile from: the package's sources but :data:`NO_KERNELS`,
    their paths and bytes (16 hex digits)."""
    root = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.blake2b(digest_size=8)
    for folder, subfolders, files in os.walk(root):
        top = folder == root
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__" and not (top and d in NO_KERNELS))
        for name in sorted(f for f in files if f.endswith(".py") and not (top and f in NO_KERNELS)):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as source:
                digest.update(source.read())
    return digest.hexdigest()


def numba_cache_dir() -> str | None:
    """The folder for numba's cache, set in ``NUMBA_CACHE_DIR``: ``freemium-sim-kernels-<fingerprint>`` (:func:`kernel_fingerprint`)
    in the folder the user set in ``NUMBA_CACHE_DIR``, else in the package's ``__pycache__``, else in :func:`_own_folder`,
    the first that can be written; a worker process keeps the one its parent chose. The two most recently
    used other versions stay beside it, older ones are removed (:func:`_prune_versions`).

    With none writable, the kernels compile uncached (:func:`_compile_uncached`) and one line on stderr says
    so (once: the worker processes a run starts inherit ``FREEMIUM_SIM_UNCACHED``); None then.
    """
    version = VERSION_PREFIX + kernel_fingerprint()
    chosen = os.environ.get("NUMBA_CACHE_DIR", "")
    if os.path.basename(os.path.normpath(chosen)) == version:  # chosen by the process that started this one
        return chosen
    if chosen:  # the user's folder: the version's inside it, or theirs as they set it (numba says what is wrong with it)
        return _use_cache(os.path.join(chosen, version)) if _writable(os.path.join(chosen, version)) else None
    folder = next((f for f in _cache_folders(version) if _writable(f)), None)
    if folder is None:
        _compile_uncached()
        if not os.environ.get("FREEMIUM_SIM_UNCACHED"):
            print("freemium-sim: no writable folder for the compiled kernels (the package's, ~/.cache, the temporary folder): "
                  "compiling them without a cache in every process (tens of seconds each); "
                  "set NUMBA_CACHE_DIR (and MPLCONFIGDIR) to a writable folder to keep them", file=sys.stderr)
            os.environ["FREEMIUM_SIM_UNCACHED"] = "1"
        return None
    return _use_cache(folder)


def _cache_folders(version: str):
    """Where the kernels of ``version`` may be cached, in order: the package's ``__pycache__``, then :func:`_own_folder`."""
    yield os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__", version)
    own = _own_folder("numba")
    if own is not None:
        yield os.path.join(own, version)


def _use_cache(folder: str) -> str:
    """Set numba's cache folder to ``folder`` (for this process and those it starts); prune the older versions."""
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # numba read its settings when imported
        sys.modules["numba"].config.CACHE_DIR = folder
    _prune_versions(folder)
    return folder


VERSION_PREFIX = "freemium-sim-kernels-"  # + kernel_fingerprint(): the folder of one version's kernels
KEPT_VERSIONS = 2  # other versions of the kernels kept beside the one in use (switching between checkouts)


def _prune_versions(folder: str) -> None:
    """Remove the kernels of versions other than ``folder`` that this package cached beside it (:data:`VERSION_PREFIX`),
    but the :data:`KEPT_VERSIONS` most recently used; marks ``folder`` as used now. Never raises."""
    root, version = os.path.split(folder)
    ours = re.compile(re.escape(VERSION_PREFIX) + "[0-9a-f]{16}")
    try:
        os.utime(folder)
        others = [e for e in os.scandir(root) if ours.fullmatch(e.name) and e.name != version and e.is_dir(follow_symlinks=False)]
        for entry in sorted(others, key=lambda e: e.stat().st_mtime, reverse=True)[KEPT_VERSIONS:]:
            shutil.rmtree(entry.path, ignore_errors=True)
    except OSError:
        pass


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
