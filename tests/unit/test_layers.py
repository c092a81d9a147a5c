"""The map of the code, and the test that keeps it true. Read this first.

    cli/            the `seedance` command line                            ┐
    flows/          Prefect flows: resolve blocks once, orchestrate tasks   │ the pipeline:
    tasks/          Prefect tasks: one verb each, blocks handed in          │ Prefect lives here
    blocks/         Prefect blocks: credentials; they hand out clients      ┘
    local_gateway/  the local Ark-compatible gateway and the dev stack (moto): dev only
    seedance/       the core: Ark client and wire models, catalog, validation, specs,
                    submit-once, waiting, downloads, cost, post-processing. No Prefect.

A package imports only packages listed below it in `ALLOWED`. The core imports no Prefect and
nothing above it. The local gateway uses the core's rules and is never imported by the core or the
pipeline; the CLI may import it only inside a function (`seedance gateway ...`, `seedance demo`),
so no other command loads it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ALLOWED: dict[str, set[str]] = {
    "seedance": set(),
    "local_gateway": {"seedance"},
    "blocks": {"seedance"},
    "tasks": {"seedance", "blocks"},
    "flows": {"seedance", "blocks", "tasks"},
    "cli": {"seedance", "blocks", "tasks", "flows"},
}
"""Each package of ours, and the packages of ours it may import."""

LAZY_ONLY: dict[str, set[str]] = {"cli": {"local_gateway"}}
"""Packages a layer may import only inside a function body, when the command that needs them runs."""

NO_PREFECT: set[str] = {"seedance", "local_gateway"}
"""Packages that must run without Prefect."""

PREFECT_PACKAGES = {"prefect", "prefect_aws"}


def imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """Every absolute import in a module: (top-level package, line, made inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name.split(".")[0], child.lineno, in_function
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield child.module.split(".")[0], child.lineno, in_function
            yield from visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    yield from visit(tree, False)


def violations(root: Path) -> list[str]:
    """Every import under `root` that points up the layers, one line each: `file:line: a imports b`."""
    found: list[str] = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            where = path.relative_to(root)
            for imported, line, in_function in imports(path):
                if imported == package:
                    continue
                if (
                    imported in ALLOWED
                    and imported not in allowed
                    and not (in_function and imported in LAZY_ONLY.get(package, set()))
                ):
                    found.append(f"{where}:{line}: {package} imports {imported}")
                if package in NO_PREFECT and imported in PREFECT_PACKAGES:
                    found.append(f"{where}:{line}: {package} imports {imported}, but must run without Prefect")
    return found


def test_no_layer_imports_one_above_it() -> None:
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("seedance/probe.py", "import prefect\n", "seedance/probe.py:1: seedance imports prefect, but must run without Prefect"),
        (
            "seedance/probe.py",
            "from prefect_aws import S3Bucket\n",
            "seedance/probe.py:1: seedance imports prefect_aws, but must run without Prefect",
        ),
        ("seedance/probe.py", "from flows.generate import generate_video\n", "seedance/probe.py:1: seedance imports flows"),
        ("seedance/probe.py", "def f():\n    import local_gateway\n", "seedance/probe.py:2: seedance imports local_gateway"),
        ("tasks/probe.py", "from flows import steps\n", "tasks/probe.py:1: tasks imports flows"),
        ("flows/probe.py", "from local_gateway import LocalGateway\n", "flows/probe.py:1: flows imports local_gateway"),
        ("cli/probe.py", "from local_gateway.devstack import DevStack\n", "cli/probe.py:1: cli imports local_gateway"),
        (
            "local_gateway/probe.py",
            "import prefect.flows\n",
            "local_gateway/probe.py:1: local_gateway imports prefect, but must run without Prefect",
        ),
    ],
)
def test_the_checker_catches_an_import_up_the_layers(tmp_path: Path, module: str, source: str, expected: str) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / module).write_text(source, encoding="utf-8")
    assert violations(tmp_path) == [expected]


def test_the_cli_may_load_the_gateway_inside_a_command(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / "cli" / "probe.py").write_text("def serve():\n    from local_gateway.cli import app\n", encoding="utf-8")
    assert violations(tmp_path) == []


def test_seedance_models_loads_neither_the_gateway_nor_media_libraries_nor_prefect() -> None:
    script = (
        "import sys\n"
        "from cli.main import app\n"
        "app(['models'], standalone_mode=False)\n"
        "print('LOADED', sorted({name.split('.')[0] for name in sys.modules} & {'local_gateway', 'av', 'PIL', 'prefect', 'numpy'}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert "doubao-seedance-2-0-260128" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "LOADED []"


def test_a_local_text_to_video_run_loads_no_s3_database_or_container_library() -> None:
    """boto3, psycopg and PyAV cost 0.1-0.25 s each to import; a command whose run uploads nothing,
    keeps its outputs locally and keeps state in files must not pay for them."""
    script = (
        "import sys\n"
        "import cli.main, cli.prepare, cli.budget, cli.run, flows.generate, flows.batch\n"
        "print('LOADED', sorted({name.split('.')[0] for name in sys.modules} & {'boto3', 'psycopg', 'av'}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip().splitlines()[-1] == "LOADED []"
