"""Numbers the documentation quotes, read from files that commands write (``docs/numbers/*.json``).

A doc never types a figure of the model by hand. It links the figure to its file and key:

    the baseline reaches [815M](numbers/guide.json#mau_2024_12) monthly active users

and a whole generated table or console output sits between two markers:

    <!-- numbers/validation.json#fit_table -->
    ...
    <!-- end numbers/validation.json#fit_table -->

A numbers file is written by one command (its ``command`` field says which) through
:func:`write`, with the SHA-256 of the files it read (``inputs``). :func:`refresh` puts the
file's current text into a doc (``python -m sim.docs``); ``tests/test_docs.py`` fails when a
quoted number differs from its file, names a missing key, or when a file's inputs changed
since it was written (rerun its command).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from sim.atomic import write_atomic

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = ROOT / "docs" / "numbers"
# the documents that may quote numbers (paths relative to the repository root)
DOCUMENTS = ("README.md", "docs/user-guide.md", "docs/validation.md", "docs/teaching.md", "docs/architecture.md",
             "docs/odd.md", "docs/evidence.md")

_REF = r"(?:\.\./)?(?:docs/)?numbers/(?P<name>[\w-]+)\.json#(?P<key>[\w.-]+)"
LINK = re.compile(r"\[(?P<text>[^\]\n]*)\]\((?P<ref>" + _REF + r")\)")
BLOCK = re.compile(r"(?P<open><!-- (?P<ref>" + _REF + r") -->\n)(?P<body>.*?)(?P<close><!-- end (?P=ref) -->)", re.S)


class NumbersError(ValueError):
    """A doc refers to a numbers file or key that does not exist."""


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write(name: str, command: str, numbers: dict[str, str], inputs: list[Path] = ()) -> Path:
    """Write ``docs/numbers/<name>.json`` atomically: the command that made it, its inputs' digests and
    ``numbers`` (key -> the exact text a doc quotes; a table or console block ends with a newline)."""
    bad = [k for k in numbers if not re.fullmatch(r"[\w.-]+", k)]
    if bad:
        raise NumbersError(f"numbers/{name}.json: keys may hold only letters, digits, '_', '.', '-': {bad}")
    body = {"command": command,
            "inputs": {str(Path(p).resolve().relative_to(ROOT)): digest(p) for p in inputs},
            "numbers": {k: str(v) for k, v in numbers.items()}}
    NUMBERS.mkdir(parents=True, exist_ok=True)
    target = NUMBERS / f"{name}.json"
    write_atomic(target, (json.dumps(body, indent=1, ensure_ascii=False) + "\n").encode())  # mode as any file the user makes
    return target


def load(name: str) -> dict:
    """The content of ``docs/numbers/<name>.json`` (``command``, ``inputs``, ``numbers``)."""
    path = NUMBERS / f"{name}.json"
    if not path.exists():
        raise NumbersError(f"docs/numbers/{name}.json does not exist: run the command that writes it")
    return json.loads(path.read_text())


def _value(files: dict, doc: str, name: str, key: str) -> str:
    if name not in files:
        files[name] = load(name)["numbers"]
    if key not in files[name]:
        raise NumbersError(f"{doc}: numbers/{name}.json has no key '{key}' (it has: {', '.join(sorted(files[name]))})")
    return files[name][key]


def _known(files: dict, doc: str, name: str, key: str, old: str) -> str:
    """The file's text, or ``old`` while the file or key does not exist yet (its writer has not run)."""
    try:
        return _value(files, doc, name, key)
    except NumbersError:
        return old


def refresh(text: str, doc: str = "doc") -> str:
    """``text`` with every linked number and every generated block replaced by its file's current text; a quote
    whose file or key does not exist yet is left as it is (``stale_quotes``, the test, names it)."""
    files: dict[str, dict] = {}
    text = BLOCK.sub(lambda m: m["open"] + _known(files, doc, m["name"], m["key"], m["body"]) + m["close"], text)
    return LINK.sub(lambda m: f"[{_known(files, doc, m['name'], m['key'], m['text'])}]({m['ref']})", text)


def stale_quotes(text: str, doc: str = "doc") -> list[str]:
    """One line per quoted number or block of ``text`` that differs from its file."""
    files: dict[str, dict] = {}
    out = [f"{doc}: [{m['text']}]({m['ref']}) but the file says {_value(files, doc, m['name'], m['key'])!r}"
           for m in LINK.finditer(text) if m["text"] != _value(files, doc, m["name"], m["key"])]
    out += [f"{doc}: the block {m['ref']} differs from the file" for m in BLOCK.finditer(text)
            if m["body"] != _value(files, doc, m["name"], m["key"])]
    return out


def stale_inputs() -> list[str]:
    """One line per numbers file whose inputs changed since its command wrote it."""
    out = []
    for path in sorted(NUMBERS.glob("*.json")):
        body = json.loads(path.read_text())
        changed = [p for p, h in body.get("inputs", {}).items() if not (ROOT / p).exists() or digest(ROOT / p) != h]
        if changed:
            out.append(f"docs/numbers/{path.name} was written from other {', '.join(changed)}: rerun `{body['command']}`")
    return out


def refresh_documents() -> list[Path]:
    """Refresh every document of :data:`DOCUMENTS` in place; the paths changed."""
    changed = []
    for rel in DOCUMENTS:
        path = ROOT / rel
        if path.exists():
            text = path.read_text()
            new = refresh(text, rel)
            if new != text:
                write_atomic(path, new.encode())  # a crash leaves the doc as it was, never cut
                changed.append(path)
    return changed
