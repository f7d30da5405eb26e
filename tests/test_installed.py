"""shopbot as a merchant installs it: from a built wheel, run outside the checkout.

The wheel is built from this checkout and unpacked into a folder that comes
first on PYTHONPATH; the commands run from an empty working directory, so
nothing of ``tests/`` or the source tree is reachable. ``shopbot finetune``
must judge its adapter on cases made from the merchant's store (not on the
demo store's held-out cases, which are not in the package), and ``shopbot eval
answers`` must score the merchant's own cases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_LLM

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(ROOT)],
        check=True,
    )  # fmt: skip
    wheel = next(wheels.glob("shopbot-*.whl"))
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(wheel)],
        check=True,
    )  # fmt: skip
    work = root / "cwd"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    return {"site": site, "cwd": work, "env": env, "root": root}


def _shopbot(installed: dict, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[type-arg]
    code = "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=installed["cwd"],
        env=installed["env"],
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_the_package_runs_from_the_wheel_not_the_checkout(installed: dict) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import bot, knowledge_base, training; print(bot.__file__)"],
        cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip().startswith(str(installed["site"]))
    assert not (Path(installed["site"]) / "tests").exists()


def test_finetune_and_eval_answers_run_from_an_installed_wheel(installed: dict) -> None:
    store = Path(installed["root"]) / "coffee"
    shutil.copytree(ROOT / "tests" / "data" / "stores" / "faq_coffee", store,
                    ignore=shutil.ignore_patterns(".shopbot"))  # fmt: skip
    out = Path(installed["root"]) / "adapter"
    done = _shopbot(installed, "finetune", "--store", str(store), "--out", str(out),
                    "--base", TEST_LLM, "--steps", "1", "--batch-size", "1")  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    manifest = json.loads((out / "shopbot-adapter.json").read_text())
    # Judged on the store's own held-out entries, made in the run's folder.
    assert manifest["gate"]["cases"] == str(out / "data" / "gate_cases.jsonl")
    assert manifest["gate"]["current"]["cases"] >= 8

    cases = Path(installed["root"]) / "cases.jsonl"
    cases.write_text(
        json.dumps({"id": "grind", "turns": ["do you grind beans for a cafetiere?"],
                    "expect_any": ["grind", "french press", "cafetiere"]}) + "\n"
    )  # fmt: skip
    report = Path(installed["root"]) / "eval.json"
    done = _shopbot(installed, "eval", "answers", "--store", str(store), "--cases", str(cases),
                    "--llm-backend", "none", "--json", str(report))  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads(report.read_text())["cases"] == 1
