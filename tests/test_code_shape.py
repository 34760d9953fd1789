"""Rules of the code's shape that a reviewer would otherwise check by hand: commands are thin shells over
flow steps, no function takes a dozen keyword arguments, one spelling of the stack contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO

PRODUCT = ("jobs", "infra")
MAX_PARAMETERS = 8


def _functions(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args]
    count = len(names) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)
    return count - (1 if names[:1] in (["self"], ["cls"]) else 0)


def test_no_function_outside_the_cli_takes_more_than_eight_parameters() -> None:
    offenders = [f"{p.relative_to(REPO)}:{fn.lineno} {fn.name} ({_parameters(fn)})"
                 for top in PRODUCT for p in sorted((REPO / top).rglob("*.py")) if p != REPO / "jobs" / "cli.py"
                 for fn in _functions(p) if _parameters(fn) > MAX_PARAMETERS]
    assert offenders == []


def test_commands_never_import_each_other() -> None:
    shared = {"jobs.commands._control"}  # cancel, pause and resume share one core on purpose
    offenders = []
    for path in sorted((REPO / "jobs" / "commands").glob("*.py")):
        me = f"jobs.commands.{path.stem}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
            targets = [module] if module else names
            if module == "jobs.commands":
                targets = [f"jobs.commands.{n}" for n in names]
            for t in targets:
                if t and t.startswith("jobs.commands.") and t != me and t not in shared:
                    offenders.append(f"{path.name} imports {t}")
    assert offenders == []


def test_the_cli_spells_the_contract_the_same_way() -> None:
    from jobs import cli, contract

    assert cli._SUFFIX == contract.SUFFIX
    assert tuple(cli._TRAINING_TYPES.choices) == contract.TRAINING_TYPE_NAMES


def test_the_contract_is_spelled_out_only_in_jobs_contract() -> None:
    """`ft-travel` and Azure's training-type words appear in product code only in jobs/contract.py (docstrings,
    comments and help texts aside: those are for people)."""
    words = ("-ft-travel", "developerTier", "globalstandard")
    offenders = []
    for top in PRODUCT + ("emulator",):
        for path in sorted((REPO / top).rglob("*.py")):
            if path == REPO / "jobs" / "contract.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                          and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    for w in words:
                        if w in node.value and "help" not in node.value and " " not in node.value.strip():
                            offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {node.value!r}")
    assert offenders == []


def _constants(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are code, not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_contract_config_keys_and_the_suffix_are_spelled_only_in_jobs_contract() -> None:
    """The config keys both sides share, Azure's trainingType field and the model suffix are never string literals
    of product code outside jobs/contract.py (inside a longer text, an f-string or a help text is for people)."""
    from jobs import contract

    names = {contract.FINE_TUNE_MODEL, contract.TRAINING_TYPE, contract.FINE_TUNED_MODEL,
             contract.FINE_TUNED_DEPLOYMENT_NAME, contract.FINE_TUNED_DEPLOYMENT_SKU, contract.BASE_DEPLOYMENT_NAME,
             contract.TOPOLOGY, contract.ALLOW_TOPOLOGY_CHANGE, contract.TRAINING_TYPE_FIELD, contract.SUFFIX}
    offenders = [f"{p.relative_to(REPO)}:{line} {value!r}"
                 for top in PRODUCT + ("emulator",) for p in sorted((REPO / top).rglob("*.py"))
                 if p != REPO / "jobs" / "contract.py" for line, value in _constants(p) if value in names]
    assert offenders == []


def test_the_cli_and_the_region_table_take_the_training_types_from_the_contract() -> None:
    """jobs/cli.py and infra/regions.py name no training type themselves (both once copied them)."""
    from jobs import contract

    names = set(contract.TRAINING_TYPE_NAMES) | {w.lower() for w in contract.TRAINING_TYPE_NAMES}
    offenders = []
    for rel in ("jobs/cli.py", "infra/regions.py"):
        tree_values = _constants(REPO / rel)
        if rel == "infra/regions.py":  # the deployment SKU tables share the words; only the training code counts
            source = (REPO / rel).read_text(encoding="utf-8")
            start = source.index("def training_regions")
            first = source[:start].count("\n") + 1
            tree_values = [(line, v) for line, v in tree_values if line >= first]
        offenders += [f"{rel}:{line} {value!r}" for line, value in tree_values if value in names]
    assert offenders == []


@pytest.mark.subprocess
def test_help_imports_only_click_and_the_contract_of_the_package() -> None:
    """`python -m jobs --help` stays fast: of this package it loads the CLI, the errors and the (stdlib-only) contract."""
    import subprocess
    import sys

    code = ("import sys, jobs.cli\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('jobs', 'infra', 'emulator'))))\n"
            "print(' '.join(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('pulumi', 'openai', 'httpx', 'tiktoken', 'yaml', 'pydantic'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.splitlines() == ["jobs jobs.cli jobs.contract jobs.errors", ""]


def test_stack_outputs_are_exported_in_the_contracts_names_and_order() -> None:
    from jobs import contract

    values = {name: i for i, name in enumerate(reversed(contract.OUTPUTS))}
    assert list(contract.output_values(**values)) == list(contract.OUTPUTS)
    with pytest.raises(TypeError, match=r"unknown \['hub'\], missing \['hub_name'\]"):
        contract.output_values(**{("hub" if k == "hub_name" else k): v for k, v in values.items()})


def _reads_os_environ(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv", "environb")
               and isinstance(n.value, ast.Name) and n.value.id == "os" for n in ast.walk(tree))


def test_every_module_that_reads_the_environment_is_named_in_the_runner_docs() -> None:
    """docs/runner.md says where the environment is read: jobs/settings.py, and each other reader by its path."""
    doc = (REPO / "docs" / "runner.md").read_text(encoding="utf-8")
    built = doc[doc.index("## How the runner is built"):].split("\n## ", 1)[0]
    readers = [str(p.relative_to(REPO)) for p in sorted((REPO / "jobs").rglob("*.py")) if _reads_os_environ(p)]
    assert "jobs/settings.py" in readers
    assert [r for r in readers if f"`{r}`" not in built] == []
    assert "nothing else reads" not in built


def test_every_variable_the_runner_names_is_in_settings_and_documented() -> None:
    """Each FTJOBS_* variable is a constant of jobs/settings.py and is described in docs/runner.md."""
    import re

    from jobs import settings

    doc = (REPO / "docs" / "runner.md").read_text(encoding="utf-8")
    named = {m for p in sorted((REPO / "jobs").rglob("*.py"))
             for m in re.findall(r"\bFTJOBS_[A-Z0-9_]*[A-Z0-9]\b", p.read_text(encoding="utf-8"))}
    constants = {v for k, v in vars(settings).items() if k.isupper() and isinstance(v, str) and v.startswith("FTJOBS_")}
    assert sorted(named - constants) == []
    assert sorted(v for v in named if f"`{v}" not in doc) == []


MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 300


def _code_outside_tests() -> list[Path]:
    """Every Python file of the project except tests/ and bench/ (and the venv): the Pulumi program, the runner,
    the emulator, the rehearsal package when there is one, and the tools."""
    tops = [REPO / t for t in ("jobs", "infra", "emulator", "rehearsal", "tools") if (REPO / t).is_dir()]
    return [REPO / "__main__.py"] + [p for top in tops for p in sorted(top.rglob("*.py"))]


def _too_long(kinds: tuple[type[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef], ...], limit: int) -> list[str]:
    """``file:line name (N lines)`` of each definition of these kinds longer than ``limit`` lines (def to end)."""
    found = []
    for path in _code_outside_tests():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and isinstance(node, kinds):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_outside_tests_is_longer_than_a_screen() -> None:
    """A function of more than 60 lines (its docstring included) is split into named steps."""
    assert _too_long((ast.FunctionDef, ast.AsyncFunctionDef), MAX_FUNCTION_LINES) == []


def test_no_class_outside_tests_is_over_300_lines() -> None:
    assert _too_long((ast.ClassDef,), MAX_CLASS_LINES) == []


def test_the_runners_lower_layers_never_import_the_layers_above() -> None:
    """jobs/*.py (session, client, api, retry, state, contract, models, ...) import nothing from the flow steps,
    the commands or the CLI, not even under TYPE_CHECKING or inside a function (jobs/session.py once imported
    the crash hook from jobs/flow/)."""
    above = ("jobs.flow", "jobs.commands", "jobs.cli")
    offenders = []
    for path in sorted((REPO / "jobs").glob("*.py")):
        if path.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == a or n.startswith(a + ".") for n in names for a in above):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
