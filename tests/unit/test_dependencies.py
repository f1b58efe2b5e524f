"""What a plain install (`pip install .`, as the run script does) must bring.

Every module postventa imports, outside the standard library, comes from a
distribution that the project's base dependencies require, directly or through
theirs; the one exception, psycopg, is the PostgreSQL extra's, and the
embedded default must start without it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "postventa"
OPTIONAL = {"psycopg"}


def _base_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _installed_closure() -> set[str]:
    """The distributions the base dependencies bring, with their extras."""
    seen: set[str] = set()
    pending = [(requirement, "") for requirement in _base_requirements()]
    while pending:
        requirement, parent_extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate(
            {"extra": parent_extra}
        ):
            continue
        name = canonicalize_name(requirement.name)
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for extra in ["", *requirement.extras]:
            for text in metadata.requires(requirement.name) or []:
                pending.append((Requirement(text), extra))
    return {key.split("[")[0] for key in seen}


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"postventa", "__future__"}


def test_every_imported_module_comes_with_the_base_dependencies() -> None:
    closure = _installed_closure()
    providers = metadata.packages_distributions()
    missing = {
        module: providers.get(module, ["(not installed)"])
        for module in sorted(_imported_top_level_modules() - OPTIONAL)
        if not {canonicalize_name(d) for d in providers.get(module, [])} & closure
    }

    assert missing == {}


def test_the_embedded_default_builds_its_app_without_psycopg(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.modules['psycopg'] = None\n"
        "import postventa.cli\n"
        "from postventa.bootstrap import build_app\n"
        "from postventa.config import Settings\n"
        f"settings = Settings.from_env({{'POSTVENTA_DATA_DIR': {str(tmp_path)!r}}})\n"
        "app, database = build_app(settings)\n"
        "database.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
