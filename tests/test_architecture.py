"""The sans-I/O boundary, enforced: the core packages import no I/O, clocks, threads or nets."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "openapiopenai"
CORE = ["models", "audio", "turns", "protocol"]
FORBIDDEN = {
    "asyncio",
    "threading",
    "multiprocessing",
    "concurrent",
    "time",
    "socket",
    "selectors",
    "ssl",
    "starlette",
    "uvicorn",
    "websockets",
    "httpx",
    "onnxruntime",
    "prometheus_client",
    "subprocess",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_no_io(package: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_roots(path) & FORBIDDEN)
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_only_vad_runs_the_neural_net() -> None:
    users = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "onnxruntime" in imported_roots(path)
    }
    assert users and all(user.startswith("vad/") for user in users)


def test_only_the_shell_runs_a_denoiser() -> None:
    """The core gets its denoise stage handed in (``Session(denoiser=...)``), never imports one."""
    users = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("openapiopenai.denoise")
            ):
                users.add(str(path.relative_to(PACKAGE)).split("/")[0])
    assert users and not users & set(CORE)
