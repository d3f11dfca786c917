"""The terraform checks (test_terraform_cli.py) are collected only where terraform and a filesystem mirror of
the hashicorp/aws provider exist (toolchain.py says why they are not elsewhere). Either way the run ends with
one line saying whether they ran, and checkov and the static checks (test_terraform_static.py) always run."""

from __future__ import annotations

import pytest

from tests.deploy.terraform import toolchain

TOOLCHAIN = toolchain.find()

collect_ignore = [] if isinstance(TOOLCHAIN, toolchain.Toolchain) else ["test_terraform_cli.py"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if isinstance(TOOLCHAIN, toolchain.Toolchain):
        versions = ", ".join(TOOLCHAIN.aws_versions)
        line = (
            f"terraform checks ran: {TOOLCHAIN.terraform}, hashicorp/aws {versions} from the mirror {TOOLCHAIN.mirror}"
        )
    else:
        line = f"terraform checks NOT run: {TOOLCHAIN}; checkov and the static checks ran"
    terminalreporter.write_line(line)
