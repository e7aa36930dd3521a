"""Packaging: the README's commands, CI's command and the wheel's contents agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)[:2]


def test_readme_opens_with_two_commands_and_ci_runs_the_second() -> None:
    install_and_solve, install_and_test = _readme_commands()
    assert install_and_solve.endswith('xolver solve "What is 17 * 23?"')
    assert install_and_test.endswith("python -m pytest")
    ci = (REPO / ".ci" / "run").read_text()
    assert install_and_test in ci.splitlines()


@pytest.mark.slow
def test_wheel_contains_subpackages_and_prompts(tmp_path: Path) -> None:
    if shutil.which("git") is None:  # pragma: no cover
        pytest.skip("git missing")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("xolver-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("agents", "graph", "memory", "models", "tools", "ui"):
        assert f"xolver/{package}/__init__.py" in names
    prompts = {n for n in names if n.startswith("xolver/agents/prompts/")}
    assert {"xolver/agents/prompts/solver.md", "xolver/agents/prompts/judge.md"} <= prompts
    # The sandbox worker runs by path, so its script and package must be in the wheel as files.
    assert {"xolver/tools/sandbox/_worker_main.py", "xolver/tools/sandbox/_worker/kernel.py"} <= names
    assert not any(n.startswith("tests/") for n in names)
    # The licence and the typing marker (mypy users get no import-untyped), and the metadata around them.
    assert {"xolver/py.typed", "xolver-" + wheel.name.split("-")[1] + ".dist-info/licenses/LICENSE"} <= names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata and "Classifier: Typing :: Typed" in metadata
    assert "Classifier: Programming Language :: Python :: 3.10" in metadata and "Project-URL: " in metadata


@pytest.mark.slow
def test_sdist_carries_the_license(tmp_path: Path) -> None:
    import tarfile

    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (sdist,) = tmp_path.glob("xolver-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    root = sdist.name.removesuffix(".tar.gz")
    assert {f"{root}/LICENSE", f"{root}/xolver/py.typed", f"{root}/pyproject.toml"} <= set(names)


def test_project_urls_are_known_addresses_only() -> None:
    """The paper's address, and no guessed repository URL (pyproject.toml says why there is none yet)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    urls = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]
    assert urls["Paper"] == "https://arxiv.org/abs/2506.14234"
    assert all(url.startswith("https://") for url in urls.values()), urls
