"""What the sandbox can see: the interpreter's own files, nothing else.

The interpreter, its standard library and the shared libraries they link are found
once per interpreter (``ldd``) and bind-mounted read-only at their usual paths.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass

WORK_DIR = "/tmp"  # small tmpfs: the only writable place


# Extension modules whose shared libraries are mounted. Every bind mount costs bwrap
# start-up time (56 binds for all of lib-dynload vs ~12 here; see the benchmark), and
# programs judged on tests do not need ssl, sqlite, curses, readline or dbm.
EXTENSION_LIBS = frozenset({"_bz2", "_lzma", "zlib", "pyexpat", "_ctypes", "_decimal", "_uuid"})


class SandboxUnavailable(RuntimeError):
    """bubblewrap (or the interpreter) cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class Interpreter:
    executable: str
    paths: tuple[str, ...]  # files and directories to bind read-only
    world_readable: bool  # can an unprivileged host uid open every path?


def default_python() -> str:
    """The system python3 if there is one (world-readable), else this interpreter."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate):
            return candidate
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=8)
def interpreter(python: str | None) -> Interpreter:
    """Resolve the files ``python`` needs; cached because ldd is slow."""
    exe = os.path.realpath(python or default_python())
    if not os.access(exe, os.X_OK):
        raise SandboxUnavailable(f"sandbox interpreter {exe!r} is not executable")
    probe = "import sys,sysconfig;print(sysconfig.get_paths()['stdlib']);print(sys.platlibdir)"
    try:
        out = subprocess.run(
            [exe, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(f"cannot probe sandbox interpreter {exe!r}: {exc}") from exc
    stdlib = os.path.realpath(out[0].strip())
    binaries = [exe]
    dynload = os.path.join(stdlib, "lib-dynload")
    if os.path.isdir(dynload):
        binaries += [os.path.join(dynload, f) for f in sorted(os.listdir(dynload))
                     if f.endswith(".so") and f.split(".")[0] in EXTENSION_LIBS]
    paths = {exe, stdlib, *_shared_libs(binaries)}
    return Interpreter(exe, tuple(sorted(paths)), all(_world_readable(p) for p in paths))


def _shared_libs(binaries: list[str]) -> set[str]:
    try:
        text = subprocess.run(["ldd", *binaries], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(f"ldd failed on the sandbox interpreter: {exc}") from exc
    libs: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        token = line.split("=>", 1)[1].strip() if "=>" in line else line
        path = token.split(" (", 1)[0].strip()
        if path.startswith("/") and os.path.exists(path):
            libs.add(path)  # where the loader looks; binding the realpath too would double the cost
    return libs


def _world_readable(path: str) -> bool:
    """True when 'others' may traverse every parent and read ``path``."""
    current = os.path.realpath(path)
    mode = os.stat(current).st_mode
    if not mode & stat.S_IROTH:
        return False
    while current != "/":
        current = os.path.dirname(current)
        if not os.stat(current).st_mode & stat.S_IXOTH:
            return False
    return True


def bwrap_argv(bwrap: str, interp: Interpreter, tmpfs_bytes: int, info_fd: int) -> list[str]:
    """The bubblewrap command line for one run (the program's argv is appended)."""
    argv = [
        bwrap,
        "--info-fd", str(info_fd),  # tells us the sandboxed pid, to kill it first
        "--unshare-all",  # user, pid, net, ipc, uts, cgroup namespaces: no network
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        # No --as-pid-1: bwrap's own small init is the namespace's pid 1 and the program an
        # ordinary process under it, so a kill of its own process group acts as on a judge.
        # The init outlives the outer bwrap briefly; the runner is a child subreaper and
        # reaps it (see reap.py), so no zombie is left to a host pid 1 that does not reap.
        "--new-session",
        "--uid", "1000", "--gid", "1000",
        "--cap-drop", "ALL",
        "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "MALLOC_ARENA_MAX", "1",
        "--setenv", "HOME", WORK_DIR,
        "--setenv", "LANG", "C.UTF-8",
    ]
    for path in interp.paths:
        argv += ["--ro-bind", path, path]
    # No /proc and no full /dev: each mount costs start-up time and programs judged on
    # stdin/stdout need neither. The program arrives on an inherited fd, not a mount.
    argv += ["--dev-bind", "/dev/null", "/dev/null"]
    argv += ["--size", str(tmpfs_bytes), "--tmpfs", WORK_DIR, "--chdir", WORK_DIR]
    argv += ["--remount-ro", "/"]  # bwrap's root tmpfs holds the mount points: no writes there
    return argv
