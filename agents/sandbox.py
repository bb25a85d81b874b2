"""The `python` tool's sandbox: model-written code runs in a separate, limited process.

Never in the caller's process. Each run gets a fresh temporary directory (its working
directory, HOME and TMPDIR), deleted afterwards, and a minimal environment (no proxies, no
credentials, one BLAS thread). The interpreter runs in isolated mode (`-I`: no PYTHON*
variables, no user site, not the project on sys.path) and writes no bytecode (`-B`).

Protections, from the strongest:
- enforced by the kernel, always: the wall-clock timeout (the whole process group is
  killed), RLIMIT_AS (memory), RLIMIT_CPU (CPU time), RLIMIT_FSIZE (largest file written),
  RLIMIT_NOFILE; output is read with a bound on what is kept.
- enforced by the kernel where the machine allows it (`SandboxResult.protections` says
  which applied): fresh user, network and PID namespaces through util-linux `unshare`
  (no network at all, not even loopback; no signal reaches a process outside; every process
  the code starts dies with it; and the limits cannot be raised even when the caller is
  root), and Landlock (writes and file creation only under the temporary directory; from
  Landlock ABI 4 no TCP connect/bind, from ABI 6 no signals or abstract Unix sockets
  outside).
- best effort, in Python: an audit hook in the sandboxed interpreter refuses opening files
  for writing and changing paths outside the temporary directory, starting processes,
  sending signals, socket connect/bind/send and name lookups, ctypes calls and raising
  limits. Native code (a C extension, or a ctypes handle obtained otherwise) can get past
  it, which is why the kernel layers above matter.
Reading files is not restricted; the code can read what the caller's user can read.
"""

import codecs
import contextlib
import functools
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CHILD_SCRIPT = Path(__file__).with_name("_sandbox_child.py")
_MEMORY_ERROR_EXIT = 86  # _sandbox_child.MEMORY_ERROR_EXIT (that script is not importable)
_NAMESPACE_FLAGS = ("--user", "--net", "--pid")
_NAMESPACE_PROBE_TIMEOUT_SECONDS = 10.0
_READ_CHUNK_BYTES = 65536
_KILL_GRACE_SECONDS = 2.0  # to read what a killed process group had already written
_POLL_SECONDS = 0.01


@dataclass(frozen=True)
class SandboxLimits:
    """How much one run may use, and which protection layers to apply."""

    wall_seconds: float = 30.0
    cpu_seconds: int = 20
    memory_mb: int = 512  # address space; numpy imports fine under 256 MiB
    file_size_mb: int = 64  # the largest file the code may write
    open_files: int = 256
    max_output_chars: int = 20_000  # of stdout and of stderr, each; head and tail are kept
    max_code_chars: int = 200_000
    # Layers that can be switched off for tests and diagnostics; never needed otherwise.
    use_namespaces: bool = True
    use_landlock: bool = True
    use_audit_hook: bool = True

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds", "memory_mb", "file_size_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive")
        if self.open_files < 16 or self.max_output_chars < 2 or self.max_code_chars < 1:
            raise ValueError("SandboxLimits: open_files ≥ 16, max_output_chars ≥ 2, code ≥ 1")


@dataclass(frozen=True)
class SandboxResult:
    """What one run produced and how it ended."""

    stdout: str  # truncated to max_output_chars with a "[truncated N chars]" note
    stderr: str
    exit_code: int | None  # negative: killed by that signal; None: no status (timed out)
    timed_out: bool
    memory_exceeded: bool
    cpu_time_exceeded: bool
    duration_seconds: float
    protections: tuple[str, ...]  # the layers that were in force, e.g. "landlock-abi-7"

    def to_tool_text(self) -> str:
        """The result as the `python` tool's response text."""
        parts = []
        if self.stdout:
            parts.append(f"stdout:\n{self.stdout.rstrip()}")
        if self.stderr:
            parts.append(f"stderr:\n{self.stderr.rstrip()}")
        if self.timed_out:
            parts.append(f"[timed out after {self.duration_seconds:.0f} s: the code was stopped]")
        elif self.memory_exceeded:
            parts.append("[memory limit exceeded: the code was stopped]")
        elif self.cpu_time_exceeded:
            parts.append("[CPU time limit exceeded: the code was stopped]")
        elif self.exit_code:
            parts.append(f"[exit code {self.exit_code}]")
        if not parts:
            parts.append("[no output: print() the values you want to see]")
        return "\n".join(parts)


def run_python(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `code` in a fresh sandboxed process under `limits` and return what happened."""
    limits = limits or SandboxLimits()
    if len(code) > limits.max_code_chars:
        return _refused(f"the code is longer than {limits.max_code_chars} characters")
    root = Path(tempfile.mkdtemp(prefix="sailyard-sandbox-")).resolve()
    try:
        return _run_in(root, code, limits)
    finally:
        _remove_tree(root)


def _run_in(root: Path, code: str, limits: SandboxLimits) -> SandboxResult:
    """Run `code` with `root/work` as its working directory; `root` holds the code file and
    the status the sandbox reports back, out of the code's reach."""
    workdir = root / "work"
    workdir.mkdir()
    code_path, status_path = root / "code.py", root / "status.jsonl"
    code_path.write_text(code, encoding="utf-8")
    config = {
        "code_path": str(code_path),
        "status_path": str(status_path),
        "workdir": str(workdir),
        "memory_bytes": limits.memory_mb << 20,
        "cpu_seconds": limits.cpu_seconds,
        "file_size_bytes": limits.file_size_mb << 20,
        "open_files": limits.open_files,
        "landlock": limits.use_landlock,
        "audit_hook": limits.use_audit_hook,
    }
    wrapper = namespace_wrapper() if limits.use_namespaces else ()
    command = [
        *wrapper,
        sys.executable,
        "-I",
        "-B",
        "-X",
        "utf8",
        str(_CHILD_SCRIPT),
        json.dumps(config),
    ]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=_sandbox_environment(workdir),
        start_new_session=True,  # its own process group, killed as a whole
    )
    stdout, stderr = _Capture(limits.max_output_chars), _Capture(limits.max_output_chars)
    try:
        timed_out = _collect(process, stdout, stderr, started + limits.wall_seconds)
    finally:
        _kill_group(process)
        process.wait()
        process.stdout.close()
        process.stderr.close()
    duration = time.monotonic() - started
    report = _read_status(status_path)
    exit_code = None if timed_out else report.get("exit_code", process.returncode)
    # SIGXCPU comes only from RLIMIT_CPU; a SIGKILL is the hard CPU limit (a PID-namespace
    # init ignores SIGXCPU) when the CPU used reached the limit: the kernel's accounting
    # (ticks) and rusage differ a little, 0.95 s measured for a 1 s limit.
    cpu_used = report.get("cpu_seconds", 0.0)
    cpu_time_exceeded = exit_code == -signal.SIGXCPU or (
        exit_code == -signal.SIGKILL and cpu_used >= 0.9 * limits.cpu_seconds
    )
    return SandboxResult(
        stdout=stdout.text(),
        stderr=stderr.text(),
        exit_code=exit_code,
        timed_out=timed_out,
        memory_exceeded=exit_code == _MEMORY_ERROR_EXIT,
        cpu_time_exceeded=cpu_time_exceeded,
        duration_seconds=duration,
        protections=_protections(report, bool(wrapper)),
    )


def _protections(report: dict, namespaces: bool) -> tuple[str, ...]:
    """The layers that were in force, from what the sandbox reported."""
    layers = ["rlimits"] if report.get("rlimits") else []
    if namespaces:
        layers.append("namespaces:" + "+".join(flag[2:] for flag in _NAMESPACE_FLAGS))
    if report.get("landlock_abi"):
        layers.append(f"landlock-abi-{report['landlock_abi']}")
    if report.get("audit_hook"):
        layers.append("audit-hook")
    return tuple(layers)


def _collect(
    process: subprocess.Popen, stdout: "_Capture", stderr: "_Capture", deadline: float
) -> bool:
    """Read the process's output until it exits or the deadline passes; True if it timed out
    (the process group is then killed and what it had written is still read)."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, stdout)
    selector.register(process.stderr, selectors.EVENT_READ, stderr)
    timed_out = False
    with selector:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if not selector.get_map():  # both pipes closed: wait for the exit itself
                if _exited(process, remaining):
                    break
                continue
            _read_ready(selector, remaining)
        if timed_out:
            _kill_group(process)
            grace_end = time.monotonic() + _KILL_GRACE_SECONDS
            while selector.get_map() and (left := grace_end - time.monotonic()) > 0:
                _read_ready(selector, left)
    return timed_out


def _read_ready(selector: selectors.BaseSelector, timeout: float) -> None:
    """Read one chunk from each pipe that is ready; unregister pipes at end of file."""
    for key, _ in selector.select(timeout):
        chunk = os.read(key.fd, _READ_CHUNK_BYTES)
        if chunk:
            key.data.feed(chunk)
        else:
            selector.unregister(key.fileobj)


def _exited(process: subprocess.Popen, timeout: float) -> bool:
    """Whether the process exits within `timeout`, leaving it unreaped (a zombie keeps its
    process-group id from being reused until the group has been killed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(_POLL_SECONDS)
    return False


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the sandbox's whole process group (a no-op once it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _read_status(path: Path) -> dict:
    """The lines the sandbox wrote (its layers, then the code's exit status), merged."""
    report: dict = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                report.update(json.loads(line))
    return report


class _Capture:
    """Decoded output with bounded memory: the first and last characters and a count."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.head = ""  # the first max_chars characters
        self.tail = ""  # the latest (at least max_chars) characters after the head
        self.total = 0

    def feed(self, chunk: bytes, final: bool = False) -> None:
        text = self.decoder.decode(chunk, final)
        self.total += len(text)
        room = self.max_chars - len(self.head)
        if room > 0:
            self.head, text = self.head + text[:room], text[room:]
        self.tail += text
        if len(self.tail) > 2 * self.max_chars:
            self.tail = self.tail[-self.max_chars :]

    def text(self) -> str:
        """All output if it fits, else its head and tail around "[truncated N chars]"."""
        self.feed(b"", final=True)
        if self.total <= self.max_chars:
            return self.head
        keep_tail = self.max_chars // 2
        keep_head = self.max_chars - keep_tail
        stream_end = self.head + self.tail if len(self.tail) < keep_tail else self.tail
        ending = stream_end[len(stream_end) - keep_tail :]
        dropped = self.total - keep_head - keep_tail
        return f"{self.head[:keep_head]}\n[truncated {dropped} chars]\n{ending}"


def _sandbox_environment(workdir: Path) -> dict[str, str]:
    """A minimal environment: nothing of the caller's (no proxies, keys or tokens)."""
    home = str(workdir)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


@functools.cache
def namespace_wrapper() -> tuple[str, ...]:
    """The `unshare` command prefix that gives the sandbox fresh user, network and PID
    namespaces, or () where this machine does not allow them without privileges (no
    util-linux, user namespaces disabled, or a seccomp/AppArmor policy that denies them)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    wrapper = (unshare, *_NAMESPACE_FLAGS)
    # The sandbox forks its child into the new PID namespace: probe exactly that.
    probe = "import os\nif os.fork() == 0:\n    os._exit(0)\nos.wait()"
    try:
        done = subprocess.run(
            [*wrapper, sys.executable, "-I", "-c", probe],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_NAMESPACE_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return wrapper if done.returncode == 0 else ()


def _refused(reason: str) -> SandboxResult:
    """A result for code that was not run at all."""
    return SandboxResult(
        stdout="",
        stderr=f"sandbox: not run: {reason}\n",
        exit_code=None,
        timed_out=False,
        memory_exceeded=False,
        cpu_time_exceeded=False,
        duration_seconds=0.0,
        protections=(),
    )


def _remove_tree(root: Path) -> None:
    """Delete the run's directory, even parts the code made unreadable or unwritable."""

    def make_writable_and_retry(function, path, _excinfo) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)

    shutil.rmtree(root, onerror=make_writable_and_retry)
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
