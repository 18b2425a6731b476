"""The CDK app synthesised once per test run: `cdk synth` (the CLI from scripts/cdk, on the
Node.js 22 installed there) with no AWS credentials in its environment, into a directory every
xdist worker shares (the first one to get the lock synthesises, the others read).

The Lambda asset is a directory holding one file: the template tests check the template, not
the code in it (scripts/package_lambda builds the real asset before a deployment).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SES_FROM = "alerts@fleet.example"  # the synthesised stacks send email from it
CDK_BIN = ROOT / "scripts" / "cdk" / "node_modules" / ".bin"
STAGES = ("dev", "staging", "prod")


def _digest() -> str:
    files = [*sorted((ROOT / "infra").glob("*")), ROOT / "cdk.json"]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files if f.is_file())).hexdigest()[:16]


def cdk_env() -> dict[str, str]:
    """The environment of `cdk`: its Node.js first on PATH, no AWS credentials or profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{CDK_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["JSII_NODE"] = str(CDK_BIN / "node")
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (CDK_BIN / "cdk").exists():  # pragma: no cover - environment problem
        pytest.fail("the CDK CLI is not installed: run scripts/setup")
    shared = tmp_path_factory.getbasetemp().parent / f"cdk-{_digest()}"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = shared / "out"
        if not (out / "manifest.json").exists():
            asset = shared / "asset"
            asset.mkdir(exist_ok=True)
            (asset / "README").write_text("the template tests' stand-in for build/lambda\n")
            done = subprocess.run(
                [
                    str(CDK_BIN / "cdk"),
                    "synth",
                    "--no-notices",
                    "--no-version-reporting",
                    "-q",
                    "-c",
                    f"asset={asset}",
                    "-c",
                    "notifySenders=ses,sns",
                    "-c",
                    f"sesFrom={SES_FROM}",
                    "-o",
                    str(out),
                ],
                cwd=ROOT,
                env=cdk_env(),
                capture_output=True,
                text=True,
                check=False,
                timeout=240,
            )
            if done.returncode != 0:
                pytest.fail(f"cdk synth failed:\n{done.stderr[-3000:]}")
    return out


@pytest.fixture(scope="session")
def templates(cdk_out: Path) -> dict[str, dict[str, Any]]:
    """Each stage's template as JSON."""
    return {
        stage: json.loads((cdk_out / f"Fleetwatch-{stage}.template.json").read_text())
        for stage in STAGES
    }
