"""Outputs appear whole or not at all: write to a temporary name, rename it into place."""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.outputs import check_output, clean_stale, write_marker, writer_lock


@contextmanager
def replaced_atomically(out_dir: Path, kind: str = "result") -> Iterator[Path]:
    """Yield a temporary folder beside ``out_dir``; on success it replaces ``out_dir``.

    ``out_dir`` must be new or hold an earlier result of this tool (see :mod:`sim.outputs`;
    ScenarioError otherwise, before anything is written). Under its writer lock, stale
    temporaries of dead writers are cleaned, the block writes into ``.NAME.tmp-<pid>-<hex>``,
    the marker that lists what was written is added, and the folder is renamed into place
    only then: a crash never leaves a half-written result that looks complete, and the
    previous result stays until the new one is whole. On failure the temporary folder is
    removed and any previous ``out_dir`` is left as it was.
    """
    out_dir = Path(out_dir)
    with writer_lock(out_dir):
        check_output(out_dir, kind)
        clean_stale(out_dir)
        tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        os.mkdir(tmp)  # mode 0o777 less the umask, like any folder the user makes (mkdtemp would give 0700)
        try:
            yield tmp
            write_marker(tmp, kind)
            check_output(out_dir, kind)  # nothing foreign appeared while we wrote
            if out_dir.exists():
                old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
                os.replace(out_dir, old)
                os.replace(tmp, out_dir)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes so that ``path`` holds either its old content or all of ``data`` (fsynced)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
