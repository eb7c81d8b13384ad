"""Run one untrusted Python program in a fresh sandbox and collect what it did.

Layers (each reported in ``RunResult.isolation``): bubblewrap namespaces (user, pid,
net, ipc, uts, cgroup) with only the interpreter's files mounted read-only and a small
tmpfs; a fresh unprivileged host uid per run (so RLIMIT_NPROC applies even when the
caller is root); rlimits set by a trusted prelude before the program starts; bwrap's
own init as the namespace's pid 1, so the program is an ordinary process; a wall-clock
deadline that kills the whole tree (stretched while a loaded machine starves the program
of CPU, see ``starvation``); capped output. Nothing here judges.
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from verifiers.sandbox.config import SandboxConfig
from verifiers.sandbox.mounts import SandboxUnavailable, bwrap_argv, find_bwrap, interpreter
from verifiers.sandbox.reap import become_subreaper, inner_pid, kill_tree, reap_adopted, sweep_uid, wait_until
from verifiers.sandbox.starvation import Extension

PRELUDE = Path(__file__).with_name("prelude.py").read_text()
MARKER = b"\x1e"
_CHUNK = 65536


@dataclass
class RunResult:
    """Raw facts about one run; ``status`` classifies them without looking at answers."""

    stdout: bytes
    stderr: bytes
    exit_code: int | None
    wall_s: float
    cpu_s: float
    timed_out: bool = False
    output_limited: bool = False
    infra_error: str | None = None
    isolation: list[str] = field(default_factory=list)

    def status(self, time_limit_s: float) -> str:
        """ok, timeout, output_limit, memory_limit, syntax_error, runtime_error or sandbox_error."""
        if self.infra_error:
            return "sandbox_error"
        if self.output_limited:
            return "output_limit"
        if self.timed_out or self.exit_code == 128 + signal.SIGXCPU or self.cpu_s > time_limit_s + 0.05:
            return "timeout"
        if self.exit_code == 0:
            return "ok"
        tail = self.stderr[-2000:].decode("utf-8", "replace")
        last = tail.strip().splitlines()[-1] if tail.strip() else ""
        if "MemoryError" in last:
            return "memory_limit"
        if last.startswith(("SyntaxError", "IndentationError", "TabError")):
            return "syntax_error"
        return "runtime_error"


def run_python(
    source: str,
    stdin: bytes,
    config: SandboxConfig,
    fn_name: str | None = None,
) -> RunResult:
    """Run ``source`` once (as a script, or as a call of ``fn_name``) under ``config``."""
    bwrap = find_bwrap()
    if bwrap is None and not config.allow_weak:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed; install the Debian package 'bubblewrap' "
            "or set allow_weak=True to accept rlimit-only isolation"
        )
    interp = interpreter(config.python)
    root = os.geteuid() == 0
    uid = config.uid_base + secrets.randbelow(config.uid_span) if root and interp.world_readable else None
    if bwrap is not None and root and uid is None and not config.allow_weak:
        raise SandboxUnavailable(
            f"sandbox interpreter {interp.executable!r} is not world-readable, so it cannot run "
            "under an unprivileged uid; point SandboxConfig.python at a system python3"
        )
    src_fd = _memfd(source.encode("utf-8", "surrogatepass"))
    fds = [src_fd]
    work = None
    try:
        prog = [*_prelude_args(config, fn_name, src_fd)]
        isolation = ["rlimits", "deadline_kill", "output_cap"]
        if bwrap is not None:
            info_r, info_w = os.pipe()
            fds += [info_r, info_w]
            argv = bwrap_argv(bwrap, interp, config.tmpfs_mb << 20, info_w)
            argv += [interp.executable, "-I", "-S", "-B", "-c", PRELUDE, *prog]
            isolation += ["bwrap", "ns:user,pid,net,ipc,uts,cgroup", "ro_interpreter_only", "fresh_tmpfs",
                          "cleared_env", "no_caps", "die_with_parent"]
            cwd = "/"
        else:
            info_r = info_w = None
            work = tempfile.mkdtemp(prefix="zaya-sbx-")
            if uid is not None:
                os.chown(work, uid, uid)
            argv = [interp.executable, "-I", "-S", "-B", "-c", PRELUDE, *prog]
            cwd = work
            isolation += ["weak_no_bwrap", "fresh_tmpdir"]
        if uid is not None:
            isolation += ["host_uid", "nproc"]
        return _execute(argv, cwd, stdin, config, uid, isolation, (src_fd, info_w), info_r, weak=bwrap is None)
    finally:
        for fd in fds:
            os.close(fd)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _memfd(data: bytes) -> int:
    """The program as an anonymous in-memory file, inherited by the sandbox (no mounts, no disk)."""
    fd = os.memfd_create("solution.py", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


_PREFLIGHT: dict[tuple[str | None, bool], str] = {}


def preflight(config: SandboxConfig) -> None:
    """Start one trivial sandbox (once per process and interpreter); raise if it cannot.

    This is the loud failure the verifiers rely on: a host without a working bwrap is
    reported at construction, not discovered as thousands of zero rewards.
    """
    key = (config.python, config.allow_weak)
    if key in _PREFLIGHT:
        return
    result = run_python("print(6*7)", b"", config)
    if result.infra_error or result.stdout.strip() != b"42":
        raise SandboxUnavailable(
            "the code sandbox cannot start (is bubblewrap installed and are user namespaces "
            f"allowed?): {result.infra_error or result.stderr[-300:]!r}"
        )
    _PREFLIGHT[key] = "ok"


def _prelude_args(config: SandboxConfig, fn_name: str | None, src_fd: int) -> list[str]:
    cpu = max(1, int(config.time_limit_s + 0.999))
    as_bytes = (config.memory_limit_mb + config.as_slack_mb) << 20
    mode = "call" if fn_name else "script"
    args = [mode, str(cpu), str(as_bytes), str(config.file_size_mb << 20), str(config.open_files),
            str(config.max_processes if os.geteuid() == 0 else -1), str(src_fd)]
    return args + ([fn_name] if fn_name else [])


def _execute(
    argv: list[str], cwd: str, stdin: bytes, config: SandboxConfig, uid: int | None,
    isolation: list[str], pass_fds: tuple[int | None, ...], info_r: int | None, weak: bool,
) -> RunResult:
    ids = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
    if not weak:
        become_subreaper()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd, env={}, start_new_session=True, close_fds=True,
            pass_fds=tuple(fd for fd in pass_fds if fd is not None), **ids,
        )
    except OSError as exc:
        return RunResult(b"", b"", None, 0.0, 0.0, infra_error=f"spawn failed: {exc}", isolation=isolation)
    seen = bytearray()

    def root() -> int | None:  # the sandboxed tree's top host pid
        return proc.pid if weak else inner_pid(info_r, seen)

    extend = Extension(root, config.time_limit_s, start + config.wall_deadline_s * config.starved_wall_factor)
    out, err, timed_out, limited = _pump(proc, stdin, config, start + config.wall_deadline_s, extend)
    if not (timed_out or limited):
        deadline: float | None = start + config.wall_deadline_s
        while deadline is not None and not wait_until(proc.pid, deadline):
            deadline = extend()
        timed_out = deadline is None
    if timed_out or limited:
        kill_tree(proc.pid, root() if not weak else None)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    adopted_cpu = reap_adopted(root(), time.monotonic() + 1.0) if not weak else 0.0
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()
    wall = time.monotonic() - start
    if uid is not None and (weak or timed_out or limited):
        sweep_uid(uid)
    code = proc.returncode if not (timed_out or limited) else None
    if code is not None and code < 0:
        code = 128 - code
    infra = None
    if timed_out and extend.starved:
        infra = (f"starved: the machine is overloaded (used {extend.cpu_s:.2f} of {config.time_limit_s:g} CPU s "
                 f"in {wall:.1f} s wall)")
    elif not err.startswith(MARKER) and not timed_out and not limited:
        infra = "sandbox did not start: " + err.decode("utf-8", "replace")[:500].strip()
    return RunResult(
        out, err[1:] if err.startswith(MARKER) else err, code, wall, usage.ru_utime + usage.ru_stime + adopted_cpu,
        timed_out=timed_out, output_limited=limited, infra_error=infra, isolation=isolation,
    )


def _pump(proc: subprocess.Popen, stdin: bytes, config: SandboxConfig, deadline: float,
          extend: Extension) -> tuple[bytes, bytes, bool, bool]:
    """Feed stdin and read both pipes until EOF, the output cap, or the deadline (which
    ``extend`` may move on while the program is starved of CPU)."""
    out, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    assert proc.stdin and proc.stdout and proc.stderr
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    view, pos = memoryview(stdin), 0
    if stdin:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin, selectors.EVENT_WRITE, "in")
    else:
        proc.stdin.close()
    try:
        while any(k.data != "in" for k in sel.get_map().values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                later = extend()
                if later is None:
                    return bytes(out), bytes(err), True, False
                deadline, remaining = later, later - time.monotonic()
            for key, _ in sel.select(remaining):
                if key.data == "in":
                    try:
                        pos += os.write(key.fd, view[pos:pos + _CHUNK])
                    except BlockingIOError:
                        continue
                    except OSError:  # the program closed stdin early: its business
                        pos = len(view)
                    if pos >= len(view):
                        sel.unregister(key.fileobj)
                        key.fileobj.close()
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                if key.data == "out":
                    out += chunk
                    if len(out) > config.stdout_limit_bytes:
                        return bytes(out[: config.stdout_limit_bytes]), bytes(err), False, True
                elif len(err) < config.stderr_limit_bytes:
                    err += chunk[: config.stderr_limit_bytes - len(err)]
        return bytes(out), bytes(err), False, False
    finally:
        sel.close()
