"""Output folders that never destroy: which folder a command may write, and one writer at a time.

``--out OUT`` may name a new folder, or one that holds an earlier result of this tool.
Every result folder carries a marker file, ``.freemium-sim.json``, that lists what the tool
wrote there; a folder is replaceable only if the marker is there and nothing else is (a
folder written before the marker existed is recognised by its own record: ``manifest.json``,
``comparison.json`` or ``fit.json``). Everything else is refused with a ScenarioError
(exit 2) *before* anything is simulated: a folder holding other files, the current folder
or one that contains it, a file, a link, the results folder itself. Nothing here ever
deletes what the tool did not write.

One writer per folder: ``.OUT.lock`` beside ``OUT`` is locked (``fcntl.lockf``) while a
command simulates and writes. The kernel releases the lock when its process dies, however
it dies, so a stale lock of a dead process is simply taken over; a live holder makes the
second writer stop at once with its pid in the message. The writer also checks that it can write beside
``OUT`` and that the disk has room for the estimated result.

The replacement itself (:func:`sim.atomic.replaced_atomically`) happens under the lock:
temporary folders are named ``.OUT.tmp-<pid>-<hex>``, so those of dead writers are
recognised and cleaned by the next writer of ``OUT``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sim.resources import human
from sim.scenario import ScenarioError, cut

MARKER = ".freemium-sim.json"
RESULTS = Path("results")
SWEEP = "sweep"  # a sweep folder is a resumable store, updated in place and never replaced
# results written before the marker existed: the record file, how to recognise it, and what else the tool wrote
_LEGACY = {
    "manifest.json": ("run", lambda d: d.get("package") == "freemium-sim",
                      {"scenario.yaml", "timeseries.parquet", "cohorts.parquet", "summary.json", "report.html", "figures"}),
    "comparison.json": ("compare", lambda d: {"a", "b", "kpis"} <= set(d), {"comparison.html", "figures"}),
    "fit.json": ("calibrate", lambda d: "calibration" in d, {"trials.csv", "calibrated.yaml", "figures"}),
}
_MAX_RECORD_BYTES = 10_000_000
_MAX_TREE = 100_000  # paths listed in a marker at most
_held: dict[Path, int] = {}  # lock files this process holds -> their descriptors


def earlier_result(folder: Path) -> tuple[str, set[str] | None] | None:
    """``(kind, paths the tool wrote)`` if ``folder`` holds a result of this tool, else None.

    The paths are relative (``figures/mau.png``); None for a sweep folder, whose store
    manages its own content.
    """
    marker = _json(folder / MARKER)
    if marker is not None and marker.get("package") == "freemium-sim":
        files = marker.get("files")
        return str(marker.get("kind")), (None if files is None else {str(f) for f in files})
    for record, (kind, is_ours, names) in _LEGACY.items():
        data = _json(folder / record)
        if data is not None and is_ours(data):
            figures = folder / "figures"
            pngs = {f"figures/{n}" for n in os.listdir(figures) if n.endswith(".png")} if figures.is_dir() else set()
            return kind, {record, *names, *pngs}
    if (folder / "sweep.json").is_file() and (folder / "design.parquet").is_file():
        return SWEEP, None
    return None


def write_marker(folder: Path, kind: str) -> None:
    """Record in ``folder`` that this tool wrote it, and every path it wrote there (a sweep's store: none)."""
    import sim

    files = None if kind == SWEEP else _tree(folder)
    record = {"package": "freemium-sim", "version": sim.__version__, "kind": kind, "files": files}
    (folder / MARKER).write_text(json.dumps(record, indent=2) + "\n")


def _tree(folder: Path, limit: int = _MAX_TREE) -> list[str]:
    """Every path under ``folder`` (files, folders, links; relative, ``/``-separated), the marker left out.

    Stops after ``limit`` paths: no result of this tool holds that many.
    """
    out: list[str] = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        out += [(rel / n).as_posix() for n in (*dirs, *files)]
        if len(out) > limit:
            break
    return sorted(n for n in out if n != MARKER)


def check_output(out: str | Path, kind: str, need_bytes: int = 0) -> Path:
    """Raise ScenarioError unless ``out`` may receive a ``kind`` result; return it as a Path.

    Checks, in order: not a link or a file; not the current folder or one containing it;
    not the results folder itself; empty, absent, or an earlier result of this tool with
    nothing foreign in it (a sweep only into a sweep folder, and no other result into one);
    writable beside it; ``need_bytes`` free on its disk.
    """
    where = f"output folder {cut(str(out))}"
    try:
        return _check_output(Path(out), kind, need_bytes, where)
    except (OSError, ValueError) as exc:  # a name the system cannot take (too long), a folder we may not read
        raise ScenarioError(f"{where}: cannot use this folder ({getattr(exc, 'strerror', None) or exc})") from None


def _check_output(p: Path, kind: str, need_bytes: int, where: str) -> Path:
    if p.is_symlink():
        raise ScenarioError(f"{where}: is a symbolic link; name a folder (the link is left as it is)")
    if p.exists() and not p.is_dir():
        raise ScenarioError(f"{where}: is a file, not a folder; name a new folder (the file is left as it is)")
    target, here = p.resolve(), Path.cwd().resolve()
    if target == here or target in here.parents:
        raise ScenarioError(f"{where}: is the current folder or contains it; name a new folder, e.g. results/NAME")
    if target == RESULTS.resolve():
        raise ScenarioError(f"{where}: is the results folder itself; a result goes in a folder inside it")
    if p.is_dir():
        _check_replaceable(p, kind, where)
    _check_writable(p, kind, need_bytes, where)
    return p


def _check_replaceable(p: Path, kind: str, where: str) -> None:
    entries = sorted(os.listdir(p))
    if not entries or (kind == SWEEP and entries == [".lock"]):  # new, or a sweep stopped before it began
        return
    damage = _marker_damage(p / MARKER)
    if damage:
        raise ScenarioError(f"{where}: its record {MARKER} is {damage}, so what this tool wrote there is not known; "
                            "move the folder aside, or name a new folder (nothing was changed)")
    found = earlier_result(p)
    if found is None:
        raise ScenarioError(f"{where}: holds files this tool did not write ({_few(entries)}); "
                            "name a new folder (nothing was changed)")
    prior, names = found
    if (prior == SWEEP) != (kind == SWEEP):
        raise ScenarioError(f"{where}: holds a {prior} result, which a {kind} does not replace; name another folder")
    foreign = [] if names is None else [e for e in _tree(p) if e not in names]
    if foreign:
        raise ScenarioError(f"{where}: holds an earlier {prior} result and files this tool did not write "
                            f"({_few(foreign)}); move them away or name a new folder (nothing was changed)")


def _check_writable(p: Path, kind: str, need_bytes: int, where: str) -> None:
    parent = p.parent
    existing = next(a for a in (parent, *parent.parents) if a.exists())
    if not existing.is_dir():
        raise ScenarioError(f"{where}: {cut(str(existing))} is a file, so this folder cannot be made there")
    if existing == parent:
        for folder in (parent, p) if kind == SWEEP and p.is_dir() else (parent,):
            _probe(folder, p.name, where)
    elif not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError(f"{where}: cannot make folders in {cut(str(existing))} (not writable)")
    free = shutil.disk_usage(existing).free
    if need_bytes > free:
        raise ScenarioError(f"{where}: the result needs about {human(need_bytes)} of disk; "
                            f"{cut(str(existing))} has {human(free)} free")


def _probe(folder: Path, name: str, where: str) -> None:
    """Create and remove a file in ``folder``: the one sure test that it is writable."""
    probe = folder / f".{name}.probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot write in {cut(str(folder))} ({exc.strerror})") from None


@contextmanager
def writer_lock(out: str | Path) -> Iterator[None]:
    """Hold ``out``'s writer lock (``.NAME.lock`` beside it); ScenarioError if a live process holds it.

    Re-entrant within a process, so the command and the writer it calls share one lock.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    key = lock.resolve()
    if key in _held:
        yield
        return
    fd = _acquire(lock, out)
    _held[key] = fd
    try:
        yield
    finally:
        del _held[key]
        with suppress(FileNotFoundError):
            os.unlink(lock)  # before closing: a waiting process then sees the file gone and starts over
        os.close(fd)


def _acquire(lock: Path, out: Path) -> int:
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            # a POSIX record lock belongs to this process alone: worker processes forked while it is
            # held do not inherit it, so a killed command's leftover workers never keep its folder locked
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                os.close(fd)
                raise
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise ScenarioError(f"output folder {cut(str(out))}: another freemium-sim process{pid} is writing this folder; "
                                "wait for it to finish or name another folder") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # its holder removed the file between our open and our lock: take the new one


@contextmanager
def claimed(out: str | Path, kind: str, need_bytes: int = 0) -> Iterator[Path]:
    """Check ``out`` (:func:`check_output`) and hold its writer lock while the block simulates and writes."""
    p = check_output(out, kind, need_bytes)
    with writer_lock(p):
        check_output(p, kind, need_bytes)  # again under the lock: another writer may have finished meanwhile
        yield p


def clean_stale(out: Path) -> None:
    """Remove temporary folders of dead writers of ``out`` (call while holding its lock).

    ``.NAME.tmp-<pid>-<hex>`` (and ``.NAME.tmp-<8 chars>`` of earlier versions, which have
    no pid) are unfinished results. ``.NAME.old-<pid>`` is a previous result its writer
    had moved aside: it is put back if ``NAME`` is missing, else removed.
    """
    name = re.escape(out.name)
    tmp = re.compile(rf"\.{name}\.tmp-(?:(\d+)-[0-9a-f]{{8}}|[a-z0-9_]{{8}})")
    old = re.compile(rf"\.{name}\.old-(\d+)")
    if not out.parent.is_dir():
        return
    for entry in os.scandir(out.parent):
        if not entry.is_dir(follow_symlinks=False):
            continue
        if (m := tmp.fullmatch(entry.name)) and not _alive_other(m.group(1)):
            shutil.rmtree(entry.path, ignore_errors=True)
        elif (m := old.fullmatch(entry.name)) and not _alive_other(m.group(1)) and earlier_result(Path(entry.path)):
            if out.exists():
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.replace(entry.path, out)  # its writer died between its two renames


def _alive_other(pid: str | None) -> bool:
    """Whether ``pid`` is a live process other than this one (None, an old name without a pid: no)."""
    if pid is None or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):  # no such process (a pid too large to exist)
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _marker_damage(path: Path) -> str | None:
    """What is wrong with a folder's marker (truncated, another program's, another version's without the
    list of files a result must carry), or None where it is sound or absent. A marker that is not sound
    must not let the folder be replaced: with no list, files of the user's would be deleted with it."""
    if not path.exists() and not path.is_symlink():
        return None
    data = _json(path)
    if data is None:
        return "not readable JSON (a truncated or damaged file?)"
    if data.get("package") != "freemium-sim":
        return "not freemium-sim's (another program's file?)"
    files = data.get("files")
    if data.get("kind") == SWEEP and files is None:
        return None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return f"of freemium-sim {cut(str(data.get('version', '?')), 20)} without the list of files it wrote (another version?)"
    return None


def _json(path: Path) -> dict[str, Any] | None:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_RECORD_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _few(names: list[str]) -> str:
    shown = ", ".join(cut(n, 40) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")
