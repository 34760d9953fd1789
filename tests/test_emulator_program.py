"""The emulator is a separate program: its own requirements, no import of it from the product, clear start-up
errors (a host or port that cannot be bound, a state folder it cannot write)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

SERVER_PACKAGES = ("starlette", "uvicorn", "python-multipart")


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(line.split(">")[0].split("=")[0].split("<")[0].strip().lower())
    return names


def test_pulumi_virtualenv_does_not_install_the_emulator_server() -> None:
    # Pulumi's python runtime installs requirements.txt into the virtualenv for every `pulumi up`.
    runtime = _requirement_names(REPO / "requirements.txt")
    assert not runtime & set(SERVER_PACKAGES)
    assert set(SERVER_PACKAGES) <= _requirement_names(REPO / "emulator" / "requirements.txt")
    dev = (REPO / "requirements-dev.txt").read_text(encoding="utf-8").split()
    assert "-r" in dev and "emulator/requirements.txt" in dev and "requirements.txt" in dev


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, at any depth, except what sits under ``if TYPE_CHECKING:`` (never imported at run time)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path, *, type_checking: bool = False) -> set[str]:
    """Every module a file imports at run time, at any depth (function-level imports included); with
    ``type_checking``, also those under ``if TYPE_CHECKING:``."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in (ast.walk(tree) if type_checking else _runtime_nodes(tree)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_the_product_never_imports_the_emulator() -> None:
    # The offline rehearsal starts it, by design; so do `playground --rehearsal` (the README's first command
    # points to it) and `chat --rehearsal`: all through the offline lab of the `rehearsal` package, never the
    # emulator directly.
    allowed = {"jobs/commands/rehearse.py", "jobs/commands/playground.py", "jobs/commands/chat.py"}
    offenders = []
    for path in sorted((REPO / "jobs").rglob("*.py")) + sorted((REPO / "infra").rglob("*.py")):
        imports = _imports(path, type_checking=True)
        if any(m.split(".")[0] == "emulator" for m in imports):
            offenders.append(str(path.relative_to(REPO)))
        if str(path.relative_to(REPO)) not in allowed and any(m.split(".")[0] == "rehearsal" for m in imports):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


# The runner's leaf modules: facts and helpers with no session, client or flow behind them.
RUNNER_LEAVES = {"jobs", "jobs.models", "jobs.contract", "jobs.tokens", "jobs.dataset", "jobs.dataset_rules",
                 "jobs.stand_in", "jobs.atomic", "jobs.errors"}


def test_the_emulator_imports_only_the_runners_leaf_modules() -> None:
    # The emulator is a separate program: it shares the runner's facts (models, contract, token counts, the
    # dataset rules, the stand-in label, atomic writes, errors), never its session, flow, commands, deploy,
    # client, api or cli, nor the rehearsal that drives it. TYPE_CHECKING imports count too.
    offenders = []
    for path in sorted((REPO / "emulator").rglob("*.py")):
        for module in _imports(path, type_checking=True):
            top = module.split(".")[0]
            if top == "rehearsal" or (top == "jobs" and not _leaf(module)):
                offenders.append(f"{path.relative_to(REPO)}: {module}")
    assert offenders == []


def _leaf(module: str) -> bool:
    """``jobs.x`` or ``jobs.x.name`` (an imported name) of a leaf module."""
    return module in RUNNER_LEAVES or module.rpartition(".")[0] in RUNNER_LEAVES - {"jobs"}


def test_the_leaf_rule_can_fail() -> None:
    assert not _leaf("jobs.session") and not _leaf("jobs.session.Session") and not _leaf("jobs.flow.crash")
    assert _leaf("jobs.models") and _leaf("jobs.errors.UsageError")


def test_the_stand_in_emulator_never_imports_torch(tmp_path: Path) -> None:
    # The stand-in backend serves canned answers: starting it (and answering) must not load a model package.
    code = (
        "import sys, httpx\n"
        "from emulator.server import EmulatorServer\n"
        f"with EmulatorServer({str(tmp_path)!r}) as em:\n"
        "    r = httpx.post(em.url + '/openai/v1/chat/completions', headers={'api-key': 'k'},\n"
        "                   json={'model': 'gpt-4.1', 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
        "    assert r.status_code == 200, r.text\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'peft')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_no_product_code_names_the_emulator_admin_routes() -> None:
    offenders = [str(p.relative_to(REPO)) for p in sorted((REPO / "jobs").rglob("*.py")) + [REPO / "__main__.py"]
                 if "/++/" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_no_import_cycles_in_the_tree() -> None:
    """No circle among the modules, counting every import: top-level, function-level and ``TYPE_CHECKING`` ones
    (a circle closed only through those still ties the layers together)."""
    tops = [top for top in ("jobs", "emulator", "infra", "rehearsal") if (REPO / top).is_dir()]
    files = [p for top in tops for p in (REPO / top).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, type_checking=True):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets

    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    # a package importing its own submodules (jobs -> jobs.x) is not a cycle worth reporting
    real = [c for c in cycles if not any(a == b.rpartition(".")[0] or b == a.rpartition(".")[0]
                                         for a, b in zip(c, c[1:]))]
    assert real == [], real


def _serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobs", "emulator", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.subprocess
def test_a_host_that_does_not_resolve_is_named(tmp_path: Path) -> None:
    r = _serve("--host", "not-a-host.invalid", "--port", "0", "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "host 'not-a-host.invalid' does not resolve" in r.stderr
    assert "--host" in r.stderr and "--port" not in r.stderr.split("fix:")[1]


@pytest.mark.subprocess
def test_a_host_that_is_not_ours_is_named(tmp_path: Path) -> None:
    r = _serve("--host", "192.0.2.1", "--port", "0", "--state-dir", str(tmp_path / "s"))  # TEST-NET-1
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "host 192.0.2.1 is not an address of this machine" in r.stderr
    assert "--host" in r.stderr.split("fix:")[1]


@pytest.mark.subprocess
def test_a_port_in_use_is_named(tmp_path: Path, emulator) -> None:
    r = _serve("--port", str(emulator.port), "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"port {emulator.port} on 127.0.0.1 is already in use" in r.stderr
    assert "--port 0" in r.stderr.split("fix:")[1]


def _read_only_run(state: Path) -> subprocess.CompletedProcess[str]:
    """Start the emulator on a read-only folder: as root (who can write anywhere), on a read-only tmpfs in a
    private mount namespace; otherwise on a folder without write permission."""
    state.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir", str(state)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if os.geteuid() != 0:
        state.chmod(0o500)
        try:
            return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=30, env=env)
        finally:
            state.chmod(0o700)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("running as root without `unshare` (util-linux): cannot make a read-only folder")
    script = f'mount -t tmpfs -o ro tmpfs "{state}" && exec "$@"'
    return subprocess.run([unshare, "--mount", "sh", "-c", script, "sh", *cmd], cwd=REPO, capture_output=True,
                          text=True, timeout=30, env=env)


@pytest.mark.subprocess
def test_a_read_only_state_folder_stops_start_up(tmp_path: Path) -> None:
    state = tmp_path / "read-only"
    r = _read_only_run(state)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert f"emulator state folder {state} is not writable" in r.stderr
    assert "--state-dir" in r.stderr.split("fix:")[1]


def test_missing_server_packages_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from emulator.serve import require_server_packages
    from jobs.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    with pytest.raises(UsageError) as info:
        require_server_packages()
    assert "uvicorn" in info.value.message and "emulator/requirements.txt" in (info.value.hint or "")


def test_no_long_functions_or_classes_in_the_emulator_and_the_rehearsal() -> None:
    # One screen per function (60 lines), at most 300 lines per class (nested functions count in their parent).
    long = []
    for top in ("emulator", "rehearsal"):
        for path in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    continue
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > (300 if isinstance(node, ast.ClassDef) else 60):
                    long.append(f"{path.relative_to(REPO)}: {node.name} ({size} lines)")
    assert long == []


@pytest.mark.subprocess
def test_an_unreadable_today_is_refused_at_start(tmp_path: Path) -> None:
    """The lifecycle checks (retired models: 400 at job creation, 410 on chat) read FTJOBS_TODAY: a bad value is
    named when the emulator starts, not a 500 on every request."""
    r = subprocess.run([sys.executable, "-m", "jobs", "emulator", "--port", "0", "--state-dir", str(tmp_path / "s")],
                       cwd=REPO, capture_output=True, text=True, timeout=30,
                       env={**os.environ, "PYTHONPATH": str(REPO), "FTJOBS_TODAY": "next tuesday"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "FTJOBS_TODAY" in r.stderr and "YYYY-MM-DD" in r.stderr
