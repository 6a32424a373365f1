"""Every ```bash block in README.md and docs/*.md is run here, so the docs cannot drift.

``docs/tested_commands.toml`` lists each block by its document and its key (the block's first
command line) and says how it is tested; a block missing from the list, or a listed block that
no longer exists, fails ``test_every_block_is_listed``. Fields of an entry:

* ``skip = true`` with ``why``: not run (installs packages, trains for hours, rewrites tracked
  files, …); the reason shows in the test report;
* ``large = true``: marked ``pytest.mark.large`` (left out unless ``-m large``);
* ``expect``: a substring (or list of them) the block's output must contain;
* ``requires``: a path (or list), relative to the repository root, that must exist, else skip;
* ``background = true`` with ``port``: a server: started, waited for until the port answers,
  then stopped (SIGTERM to its process group);
* ``server = "KEY"``: a client: run while the background block KEY of the same document serves;
* ``port``: the test replaces this number in the block (and in its server's) by a free port;
* ``timeout``: seconds (default 600; 1800 for large blocks).

Blocks run with the repository root as working directory and first on PYTHONPATH, ``lipkeras``
and ``python`` resolved to this tree's ``python -m lipkeras.cli`` and this interpreter (shims on
PATH), in document order (README first, then docs/ by name): a block may read what an earlier one
wrote. Files the blocks leave behind (new untracked or ignored files, e.g. under runs/ or
tfrecords/) are deleted after the module; a block that changes a tracked file or leaves a file
git would not ignore fails.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIST = REPO / "docs" / "tested_commands.toml"
FIELDS = {"doc", "key", "skip", "why", "large", "expect", "requires", "background", "server", "port", "timeout"}


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def block_key(line: str) -> str:
    """A command line without its trailing comment and continuation, spaces collapsed."""
    line = re.sub(r"\s+#\s.*$", "", line).rstrip().removesuffix("\\")
    return " ".join(line.split())


def bash_blocks(path: Path) -> list[tuple[str, str]]:
    """``(key, text)`` of each fenced ```bash block; the key is its first command line."""
    blocks, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)```bash\s*$", lines[i])
        i += 1
        if not m:
            continue
        indent, body = len(m.group(1)), []
        while i < len(lines) and not lines[i].strip().startswith("```"):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        text = "\n".join(body) + "\n"
        commands = [line.strip() for line in body if line.strip() and not line.strip().startswith("#")]
        blocks.append((block_key(commands[0]) if commands else "", text))
    return blocks


def listed() -> list[dict]:
    entries = tomllib.loads(LIST.read_text())["block"]
    for e in entries:
        for field in ("key", "server"):
            if field in e:
                e[field] = block_key(e[field])
    return entries


def all_blocks() -> dict[tuple[str, str], str]:
    found = {}
    for doc in documents():
        for key, text in bash_blocks(doc):
            found.setdefault((doc.relative_to(REPO).as_posix(), key), text)
    return found


def test_every_block_is_listed():
    found = all_blocks()
    entries = {(e["doc"], block_key(e["key"])) for e in listed()}
    unlisted = [f"{doc}: {key}" for doc, key in found if (doc, key) not in entries]
    stale = [f"{doc}: {key}" for doc, key in entries if (doc, key) not in found]
    assert not unlisted, f"bash blocks not in {LIST.relative_to(REPO)} (add an entry):\n" + "\n".join(unlisted)
    assert not stale, f"entries in {LIST.relative_to(REPO)} whose block is gone:\n" + "\n".join(stale)


def test_no_two_blocks_share_a_key():
    for doc in documents():
        keys = [k for k, _ in bash_blocks(doc)]
        assert len(keys) == len(set(keys)), f"{doc.name}: two bash blocks start with the same command line"


def test_entries_are_well_formed():
    entries = listed()
    keys = {(e["doc"], e["key"]) for e in entries}
    assert len(keys) == len(entries), "an entry is listed twice"
    for e in entries:
        where = f"{e.get('doc')}: {e.get('key')}"
        assert {"doc", "key"} <= set(e) and set(e) <= FIELDS, f"{where}: fields {sorted(set(e) - FIELDS)}"
        assert not e.get("skip") or e.get("why"), f"{where}: a skipped block needs a why"
        assert not e.get("background") or e.get("port"), f"{where}: a background block needs its port"
        if e.get("server"):
            server = next((s for s in entries if s["doc"] == e["doc"] and s["key"] == e["server"]), None)
            assert server and server.get("background"), f"{where}: server {e['server']!r} is no background block"


# ------------------------------------------------------------------------------------- running them

def _params():
    params = []
    for e in listed():
        marks = [pytest.mark.large] if e.get("large") else []
        params.append(pytest.param(e, marks=marks, id=f"{e['doc']}:{e['key'][:60]}"))
    return params


def _files() -> set[str]:
    """Untracked files, ignored ones included (not Python's bytecode caches)."""
    out = subprocess.run(["git", "ls-files", "--others", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return {p for p in out.decode().split("\0") if p and "__pycache__" not in p}


def _status() -> str:
    """What git reports as changed or new (ignored files left out)."""
    return subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """PATH with ``lipkeras`` and ``python`` shims for this tree; the files blocks leave are removed after."""
    before = _files()
    bin_dir = tmp_path_factory.mktemp("bin")
    shims = {"lipkeras": f'exec "{sys.executable}" -m lipkeras.cli "$@"\n', "python": f'exec "{sys.executable}" "$@"\n'}
    for name, body in shims.items():
        shim = bin_dir / name
        shim.write_text("#!/bin/sh\n" + body)
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    e = dict(os.environ)
    e["PATH"] = f"{bin_dir}{os.pathsep}{e.get('PATH', '')}"
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), *([e["PYTHONPATH"]] if e.get("PYTHONPATH") else [])])
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    yield e
    for rel in sorted(_files() - before, reverse=True):
        (REPO / rel).unlink(missing_ok=True)
        parent = (REPO / rel).parent
        while parent != REPO and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script(text: str, port: int | None, new_port: int | None) -> str:
    if port and new_port:
        text = re.sub(rf"(?<!\d){port}(?!\d)", str(new_port), text)
    return "set -e -o pipefail\n" + text


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def _start_server(text: str, entry: dict, new_port: int, env: dict, timeout: float) -> subprocess.Popen:
    proc = subprocess.Popen(["bash", "-c", _script(text, entry["port"], new_port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server block exited ({proc.returncode}) before listening:\n{_stop(proc)[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", new_port), timeout=1):
                return proc
        except OSError:
            time.sleep(1)
    out = _stop(proc)
    pytest.fail(f"server block did not listen on port {new_port} within {timeout:.0f} s:\n{out[-3000:]}")


@pytest.mark.parametrize("entry", _params())
def test_doc_block(entry, env):
    if entry.get("skip"):
        pytest.skip(entry["why"])
    requires = entry.get("requires", [])
    for path in [requires] if isinstance(requires, str) else requires:
        if not (REPO / path).exists():
            pytest.skip(f"needs {path}")
    blocks = all_blocks()
    text = blocks.get((entry["doc"], entry["key"]))
    assert text is not None, f"no such block: {entry['doc']}: {entry['key']}"
    timeout = float(entry.get("timeout", 1800 if entry.get("large") else 600))
    status = _status()
    server = None
    if entry.get("server"):
        server_entry = next(e for e in listed() if e["doc"] == entry["doc"] and e["key"] == entry["server"])
        port = _free_port()
        server = _start_server(blocks[(entry["doc"], entry["server"])], server_entry, port, env, timeout)
        entry = {**entry, "port": server_entry["port"]}
    else:
        port = _free_port() if entry.get("port") else None
    try:
        if entry.get("background"):
            out = _stop(_start_server(text, entry, port, env, timeout))
            rc = 0
        else:
            run = subprocess.run(["bash", "-c", _script(text, entry.get("port"), port)], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=timeout)
            out, rc = run.stdout + run.stderr, run.returncode
    finally:
        if server is not None:
            _stop(server)
    assert rc == 0, f"block failed ({rc}):\n{text}\n--- output (end) ---\n{out[-4000:]}"
    expect = entry.get("expect", [])
    for want in [expect] if isinstance(expect, str) else expect:
        assert want in out, f"{want!r} not in the output of:\n{text}\n--- output (end) ---\n{out[-4000:]}"
    assert _status() == status, f"the block changed the tree (git status):\n{_status()}"
