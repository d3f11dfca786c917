"""terraform fmt, init (against the local provider mirror), validate and `terraform test` in every module and the
example. Collected only where terraform and the mirror exist (conftest.py); plans run with a mocked aws provider,
so no credentials and no network are needed, and nothing is created anywhere."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.terraform import toolchain
from tests.deploy.terraform.layout import ROOTS, TERRAFORM, label, parse

# The module fixture runs terraform in every root at once (about a minute of CPU time in all); on a machine
# shared with other work that can take longer than the suite's default per-test timeout.
pytestmark = pytest.mark.timeout(900)


def found_toolchain() -> toolchain.Toolchain:
    found = toolchain.find()
    assert isinstance(found, toolchain.Toolchain), found  # conftest.py does not collect this file otherwise
    return found


TOOLCHAIN = found_toolchain()


@dataclass(frozen=True)
class Step:
    command: str
    returncode: int
    output: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of deploy/terraform (init writes lock files next to the code) and the environment for terraform."""
    base = tmp_path_factory.mktemp("terraform")
    shutil.copytree(TERRAFORM, base / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    config = base / "mirror.tfrc"
    config.write_text(TOOLCHAIN.cli_config())
    return base, toolchain.quiet_env(TF_CLI_CONFIG_FILE=str(config))


def terraform(directory: Path, env: dict[str, str], *args: str) -> Step:
    result = subprocess.run(
        [TOOLCHAIN.terraform, *args, "-no-color"], cwd=directory, env=env, capture_output=True, text=True
    )
    return Step(" ".join(args), result.returncode, result.stdout + result.stderr)


def check_root(base: Path, env: dict[str, str], root: Path) -> list[Step]:
    """init → validate → test in a copy of the root, stopping at the first step that fails."""
    directory = base / "terraform" / label(root)
    env = {**env, "TF_DATA_DIR": str(base / "data" / label(root))}
    steps = []
    for args in (("init", "-backend=false", "-input=false"), ("validate",), ("test",)):
        steps.append(terraform(directory, env, *args))
        if steps[-1].returncode != 0:
            break
    return steps


@pytest.fixture(scope="module")
def results(workspace: tuple[Path, dict[str, str]]) -> dict[str, list[Step]]:
    """Every root checked at once, as many at a time as there are cores: each `terraform test` spends most of
    its time starting the aws provider, so this is what keeps the suite's terraform part short."""
    base, env = workspace
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        checked = pool.map(lambda root: check_root(base, env, root), ROOTS)
        return dict(zip(map(label, ROOTS), checked, strict=True))


def test_fmt_check(workspace: tuple[Path, dict[str, str]]) -> None:
    _, env = workspace
    step = terraform(TERRAFORM, env, "fmt", "-check", "-recursive", "-diff")
    assert step.returncode == 0, f"run `terraform fmt -recursive deploy/terraform`:\n{step.output}"


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_init_against_the_mirror_and_validate(results: dict[str, list[Step]], root: Path) -> None:
    init, *rest = results[label(root)]
    assert init.returncode == 0, init.output
    assert re.search(r"Installed hashicorp/aws v[0-9.]+", init.output), init.output
    assert rest, "validate did not run"
    validate = rest[0]
    assert validate.returncode == 0, validate.output
    assert "The configuration is valid" in validate.output


@pytest.mark.parametrize("root", ROOTS, ids=label)
def test_terraform_test_runs_every_run_block(results: dict[str, list[Step]], root: Path) -> None:
    steps = results[label(root)]
    assert len(steps) == 3, steps[-1].output
    test = steps[2]
    runs = sum(len(parse(path).get("run", [])) for path in (root / "tests").glob("*.tftest.hcl"))
    assert runs >= 2, "each root has a tests/*.tftest.hcl with its runs"
    assert test.returncode == 0, test.output
    assert f"Success! {runs} passed, 0 failed." in test.output, test.output
