"""The process side of agents/sandbox.py: run as a script, `python -I -B -X utf8 THIS CONFIG`.

Standard library only (isolated mode puts neither this directory nor the project on
sys.path). The process is a supervisor: it forks one child, which applies the limits and
runs the model's code, then waits for it and writes the child's exit status and resource use
to `status_path` (the child cannot, as it may not write outside its working directory). In a
fresh PID namespace the child is its PID 1, so every process it starts dies with it.

The child, in order: resource limits (RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE,
no core files); Landlock (kernel ≥ 5.13), which leaves writes and file creation allowed only
under the working directory (and /dev/null), and where the kernel's Landlock ABI allows it
(v4, v6) denies TCP connect/bind and signals or abstract Unix sockets reaching outside the
sandbox; then a Python audit hook that refuses writes outside the working directory,
process creation, signals, network calls, ctypes calls and raising resource limits; then
the code, as __main__.
"""

import builtins
import json
import linecache
import os
import resource
import sys
import traceback
import types

MEMORY_ERROR_EXIT = 86  # the child's exit status when the code died of MemoryError
_CHILD_SETUP_FAILED_EXIT = 87
_FILENAME = "<python>"  # the code's name in tracebacks

# Landlock: syscall numbers are shared by all Linux architectures (asm-generic/unistd.h).
_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_FS_WRITE_FILE = 1 << 1
_FS_WRITE_RIGHTS_V1 = (
    _FS_WRITE_FILE
    | (1 << 4)  # REMOVE_DIR
    | (1 << 5)  # REMOVE_FILE
    | (1 << 6)  # MAKE_CHAR
    | (1 << 7)  # MAKE_DIR
    | (1 << 8)  # MAKE_REG
    | (1 << 9)  # MAKE_SOCK
    | (1 << 10)  # MAKE_FIFO
    | (1 << 11)  # MAKE_BLOCK
    | (1 << 12)  # MAKE_SYM
)
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Audit events whose arguments at these positions are paths that get created or changed.
_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.symlink": (1,),
    "os.link": (1,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
}
_BLOCKED_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "pty.spawn",
        "socket.bind",
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.call_function",
        "resource.setrlimit",
        "resource.prlimit",
        "webbrowser.open",
    }
)


def main() -> None:
    config = json.loads(sys.argv[1])
    with open(config["code_path"], encoding="utf-8") as source:
        code = source.read()
    pid = os.fork()
    if pid == 0:
        try:
            _run_child(code, config)
        except BaseException:  # noqa: BLE001 - setup failed, the code never ran: say why
            traceback.print_exc()
        finally:
            os._exit(_CHILD_SETUP_FAILED_EXIT)  # _run_child itself never returns
    _, status, usage = os.wait4(pid, 0)
    report = {
        "exit_code": os.waitstatus_to_exitcode(status),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }
    with open(config["status_path"], "a", encoding="utf-8") as out:
        out.write(json.dumps(report) + "\n")
    exit_code = report["exit_code"]  # negative: killed by that signal, mapped as shells do
    os._exit(exit_code if exit_code >= 0 else 128 - exit_code)


def _run_child(code: str, config: dict) -> None:
    workdir = config["workdir"]
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    _set_limits(config)
    report = {"rlimits": True, "landlock_abi": 0, "audit_hook": False}
    with open(config["status_path"], "a", encoding="utf-8") as out:  # opened before Landlock
        if config["landlock"]:
            report["landlock_abi"] = _apply_landlock(workdir)
        if config["audit_hook"]:
            sys.addaudithook(_audit_hook(workdir))
            report["audit_hook"] = True
        out.write(json.dumps(report) + "\n")
    os._exit(_execute(code))


def _set_limits(config: dict) -> None:
    cpu = config["cpu_seconds"]
    # The soft CPU limit sends SIGXCPU; the hard one, a second later, SIGKILL (which even a
    # PID-namespace init, deaf to SIGXCPU, cannot ignore).
    limits = {
        resource.RLIMIT_AS: (config["memory_bytes"],) * 2,
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_FSIZE: (config["file_size_bytes"],) * 2,
        resource.RLIMIT_NOFILE: (config["open_files"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for kind, (soft, hard) in limits.items():
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:  # never above what this process may have
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))


def _apply_landlock(workdir: str) -> int:
    """Restrict this process (and all it starts) to writing under `workdir`; the Landlock
    ABI version applied, or 0 when the kernel has none (nothing applied)."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    abi = syscall(
        _SYS_LANDLOCK_CREATE_RULESET,
        ctypes.c_void_p(None),
        ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
    )
    if abi < 1:
        return 0

    class RulesetAttr(ctypes.Structure):
        _fields_ = (
            ("handled_access_fs", ctypes.c_uint64),
            ("handled_access_net", ctypes.c_uint64),
            ("scoped", ctypes.c_uint64),
        )

    class PathBeneathAttr(ctypes.Structure):
        _pack_ = 1
        _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))

    fs_rights = _FS_WRITE_RIGHTS_V1
    fs_rights |= _FS_REFER if abi >= 2 else 0
    fs_rights |= _FS_TRUNCATE if abi >= 3 else 0
    attr = RulesetAttr(handled_access_fs=fs_rights)
    size = 8  # the struct grew with the ABI: pass only the fields this kernel knows
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP  # no rule: all denied
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = syscall(
        _SYS_LANDLOCK_CREATE_RULESET,
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    if ruleset < 0:
        return 0
    file_rights = _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0)
    for path, rights in ((workdir, fs_rights), (os.devnull, file_rights)):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        added = syscall(
            _SYS_LANDLOCK_ADD_RULE,
            ctypes.c_int(ruleset),
            ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
        os.close(fd)
        if added < 0:
            os.close(ruleset)
            return 0
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        os.close(ruleset)
        return 0
    restricted = syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    os.close(ruleset)
    return abi if restricted == 0 else 0


def _audit_hook(workdir: str):
    """An audit hook that refuses what the sandbox forbids, raising PermissionError."""
    root = os.path.realpath(workdir)

    def inside(path) -> bool:
        if isinstance(path, int):  # an already open file descriptor
            return True
        resolved = os.path.realpath(os.fsdecode(path))
        return resolved in (root, os.devnull) or resolved.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and path is not None and not inside(path):
                raise PermissionError(f"sandbox: writing outside the working directory: {path}")
        elif event in _PATH_EVENTS:
            for position in _PATH_EVENTS[event]:
                path = args[position] if position < len(args) else None
                if path is not None and not inside(path):
                    raise PermissionError(
                        f"sandbox: changing files outside the working directory: {path}"
                    )
        elif event in _BLOCKED_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed")

    return hook


def _execute(code: str) -> int:
    """Run `code` as __main__; its exit status."""
    linecache.cache[_FILENAME] = (len(code), None, code.splitlines(keepends=True), _FILENAME)
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    sys.argv = [_FILENAME]
    status = 0
    try:
        exec(compile(code, _FILENAME, "exec"), module.__dict__)
    except SystemExit as stop:
        status = _exit_status(stop.code)
    except MemoryError:
        sys.stderr.write("MemoryError: the sandbox's memory limit was reached\n")
        status = MEMORY_ERROR_EXIT
    except BaseException as error:  # noqa: BLE001 - the code failed: its traceback, as Python's
        frames = traceback.extract_tb(error.__traceback__)
        user_frames = [frame for frame in frames if frame.filename != __file__]
        sys.stderr.write("Traceback (most recent call last):\n")
        sys.stderr.write("".join(traceback.format_list(user_frames)))
        sys.stderr.write("".join(traceback.format_exception_only(error)))
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 1
    return status


def _exit_status(code: object) -> int:
    """The process status for `sys.exit(code)`, as Python itself maps it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    sys.stderr.write(f"{code}\n")
    return 1


if __name__ == "__main__":
    main()
