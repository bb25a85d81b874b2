import os
import socket
from pathlib import Path

import pytest

from agents.sandbox import SandboxLimits, namespace_wrapper, run_python

NO_LAYERS = {"use_namespaces": False, "use_landlock": False, "use_audit_hook": False}
ONLY_NAMESPACES = {**NO_LAYERS, "use_namespaces": True}
ONLY_LANDLOCK = {**NO_LAYERS, "use_landlock": True}
ONLY_AUDIT_HOOK = {**NO_LAYERS, "use_audit_hook": True}


def landlock_abi() -> int:
    """The Landlock ABI the sandbox applies on this machine (0: none)."""
    protections = run_python("pass", SandboxLimits(**ONLY_LANDLOCK)).protections
    abis = [int(p.rsplit("-", 1)[1]) for p in protections if p.startswith("landlock-abi-")]
    return abis[0] if abis else 0


def require(layers: dict) -> None:
    """Skip a test of one kernel layer on a machine that does not offer it."""
    if layers.get("use_namespaces") and not namespace_wrapper():
        pytest.skip("unprivileged user/network/PID namespaces are not available here")
    if layers.get("use_landlock") and not landlock_abi():
        pytest.skip("Landlock is not available here")


def test_a_normal_computation_runs_in_another_process():
    result = run_python("import math, os\nprint(math.factorial(20))\nprint(os.getpid())")
    factorial, pid = result.stdout.split()
    assert factorial == "2432902008176640000"
    assert int(pid) != os.getpid()
    assert (result.exit_code, result.timed_out, result.memory_exceeded) == (0, False, False)
    assert result.stderr == ""
    assert "rlimits" in result.protections
    assert "audit-hook" in result.protections
    assert result.to_tool_text() == "stdout:\n2432902008176640000\n" + pid


def test_numpy_is_usable_under_the_default_limits():
    result = run_python("import numpy as np\nprint(int(np.arange(10).sum()))")
    assert result.stdout == "45\n", result.stderr


def test_an_exception_shows_the_codes_traceback_and_exit_code():
    result = run_python("def f():\n    return 1 / 0\nf()")
    assert result.exit_code == 1
    assert 'File "<python>", line 2, in f' in result.stderr
    assert "return 1 / 0" in result.stderr
    assert result.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "_sandbox_child" not in result.stderr
    assert result.to_tool_text().endswith("[exit code 1]")


def test_sys_exit_status_is_kept():
    assert run_python("import sys\nsys.exit(3)").exit_code == 3


def test_an_infinite_loop_is_killed_at_the_wall_clock_timeout():
    result = run_python("while True:\n    pass", SandboxLimits(wall_seconds=1.5, cpu_seconds=60))
    assert result.timed_out
    assert result.exit_code is None
    assert 1.5 <= result.duration_seconds < 6
    assert "[timed out after" in result.to_tool_text()


def test_a_sleeping_process_group_is_killed_at_the_timeout():
    code = "import time\nprint('started', flush=True)\ntime.sleep(60)"
    result = run_python(code, SandboxLimits(wall_seconds=1.0))
    assert result.timed_out
    assert result.stdout == "started\n"  # what it wrote before the kill is kept


def test_cpu_time_is_limited():
    result = run_python("while True:\n    pass", SandboxLimits(cpu_seconds=1, wall_seconds=20))
    assert not result.timed_out
    assert result.cpu_time_exceeded
    assert "[CPU time limit exceeded" in result.to_tool_text()


@pytest.mark.parametrize(
    "code",
    [
        "blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))",
        "x = bytearray(10**10)",
    ],
)
def test_a_memory_bomb_hits_the_memory_limit(code):
    result = run_python(code, SandboxLimits(memory_mb=200))
    assert result.memory_exceeded
    assert not result.timed_out
    assert "MemoryError" in result.stderr
    assert "[memory limit exceeded" in result.to_tool_text()


@pytest.fixture
def listener():
    """A TCP server on the loopback interface of the test's own network namespace."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def connect_code(port: int) -> str:
    return (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(2)\n"
        f"s.connect(('127.0.0.1', {port}))\n"
        "print('connected')"
    )


def test_without_any_layer_the_listener_is_reachable(listener):
    # The control for the tests below: the connection they expect refused does work.
    assert run_python(connect_code(listener), SandboxLimits(**NO_LAYERS)).stdout == "connected\n"


@pytest.mark.parametrize(
    ("layers", "error"),
    [
        ({}, "sandbox: socket.connect is not allowed"),
        (ONLY_NAMESPACES, "Network is unreachable"),  # an empty network namespace
        (ONLY_LANDLOCK, "Permission denied"),  # Landlock ABI ≥ 4 denies TCP connect
        (ONLY_AUDIT_HOOK, "sandbox: socket.connect is not allowed"),
    ],
    ids=["all-layers", "namespaces", "landlock", "audit-hook"],
)
def test_network_access_is_refused_by_each_layer(listener, layers, error):
    require(layers)
    if layers == ONLY_LANDLOCK and landlock_abi() < 4:
        pytest.skip("this kernel's Landlock has no network rules (ABI < 4)")
    result = run_python(connect_code(listener), SandboxLimits(**layers))
    assert "connected" not in result.stdout
    assert error in result.stderr
    assert result.exit_code == 1


def test_name_lookups_are_refused():
    result = run_python("import socket\nsocket.getaddrinfo('example.org', 80)")
    assert "sandbox: socket.getaddrinfo is not allowed" in result.stderr


def test_without_any_layer_a_file_outside_can_be_written(tmp_path):
    target = tmp_path / "outside.txt"
    run_python(f"open({str(target)!r}, 'w').write('x')", SandboxLimits(**NO_LAYERS))
    assert target.read_text() == "x"  # the control for the tests below


@pytest.mark.parametrize(
    ("layers", "error"),
    [
        ({}, "outside the working directory"),
        (ONLY_LANDLOCK, "Permission denied"),
        (ONLY_AUDIT_HOOK, "outside the working directory"),
    ],
    ids=["all-layers", "landlock", "audit-hook"],
)
def test_writing_outside_the_working_directory_is_refused(tmp_path, layers, error):
    require(layers)
    target = tmp_path / "outside.txt"
    for code in (
        f"open({str(target)!r}, 'w').write('x')",
        f"import os\nos.close(os.open({str(target)!r}, os.O_CREAT | os.O_WRONLY))",
        f"import os\nos.mkdir({str(tmp_path / 'made')!r})",
    ):
        result = run_python(code, SandboxLimits(**layers))
        assert error in result.stderr, code
    assert not target.exists()
    assert not (tmp_path / "made").exists()


def test_changing_files_outside_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    for code in (f"import os\nos.remove({str(victim)!r})", f"open({str(victim)!r}, 'a')"):
        result = run_python(code)
        assert "sandbox:" in result.stderr, code
    assert victim.read_text() == "keep"


def test_starting_processes_and_signalling_are_refused():
    result = run_python("import subprocess\nsubprocess.run(['echo', 'hi'])")
    assert "sandbox: subprocess.Popen is not allowed" in result.stderr
    assert "sandbox: os.system is not allowed" in run_python("import os\nos.system('ls')").stderr
    assert "sandbox: os.kill is not allowed" in run_python("import os\nos.kill(1, 0)").stderr


def test_the_working_directory_is_writable_and_deleted_afterwards():
    code = (
        "import os\n"
        "open('notes.txt', 'w').write('hello')\n"
        "os.makedirs('sub/dir')\n"
        "open('sub/dir/data.bin', 'wb').write(b'1234')\n"
        "os.chmod('sub', 0o500)\n"
        "print(open('notes.txt').read())\n"
        "print(os.getcwd())"
    )
    result = run_python(code)
    content, workdir = result.stdout.split()
    assert content == "hello"
    assert not Path(workdir).exists()
    assert not Path(workdir).parent.exists()  # the whole run directory is gone


def test_the_callers_environment_does_not_leak(monkeypatch):
    monkeypatch.setenv("SAILYARD_TEST_SECRET", "s3cret")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    code = "import os\nprint(os.environ.get('SAILYARD_TEST_SECRET'), os.environ.get('HTTPS_PROXY'))"
    assert run_python(code).stdout == "None None\n"


def test_long_output_is_truncated_with_a_count():
    result = run_python("print('x' * 100_000)\nprint('tail')", SandboxLimits(max_output_chars=1000))
    # 100,001 + 5 characters written: the first 500 and the last 500 are kept
    assert result.stdout.startswith("x" * 500 + "\n[truncated 99006 chars]\n")
    assert result.stdout.endswith("x" * 494 + "\ntail\n")
    assert len(result.stdout) == 1000 + len("\n[truncated 99006 chars]\n")


def test_short_output_and_stderr_are_kept_whole():
    code = "import sys\nprint('é' * 9)\nsys.stderr.write('warn')"
    result = run_python(code, SandboxLimits(max_output_chars=10))
    assert result.stdout == "é" * 9 + "\n"  # 10 characters (not bytes): fits
    assert result.stderr == "warn"


def test_code_longer_than_the_limit_is_not_run():
    result = run_python("print(1)\n" * 10, SandboxLimits(max_code_chars=20))
    assert result.exit_code is None
    assert "not run: the code is longer than 20 characters" in result.stderr


def test_limits_are_validated():
    with pytest.raises(ValueError, match="wall_seconds must be positive"):
        SandboxLimits(wall_seconds=0)
