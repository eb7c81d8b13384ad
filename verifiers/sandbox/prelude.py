"""Trusted in-sandbox start-up: lock the rlimits, then run the untrusted program.

This file's text is run by the sandbox interpreter as ``python -I -S -c <text>``, so it
must only use the standard library and must not import anything from this repository. The untrusted code runs after the hard
limits are set and cannot raise them (no CAP_SYS_RESOURCE).

argv: -c MODE CPU_S AS_BYTES FSIZE_BYTES NOFILE NPROC SOURCE_FD [FN_NAME]
SOURCE_FD is an inherited (memfd) descriptor holding the program; it is closed before
the program runs.
MODE is ``script`` (stdin/stdout program) or ``call`` (stdin holds a JSON array of
positional args; the result goes to the original stdout as ``JSON <text>`` or
``NONJSON <type>``; the program's own prints go to stderr).

Running under ``-S`` there is no ``site``, so the prelude provides ``exit``/``quit``
builtins (they raise SystemExit, as site's do) without importing site's other effects.
"""

import builtins
import posix  # built in; importing os would cost ~1 ms of start-up under -S
import resource
import sys


class _Quitter:
    """site's exit()/quit(): close stdin, raise SystemExit(code)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

    def __call__(self, code=None):
        try:
            sys.stdin.close()
        except Exception:
            pass
        raise SystemExit(code)


def _limit(which, value):
    if value < 0:
        return
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        pass


def _lock(cpu_s, as_bytes, fsize, nofile, nproc):
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, fsize)
    _limit(resource.RLIMIT_NOFILE, nofile)
    _limit(resource.RLIMIT_NPROC, nproc)
    _limit(resource.RLIMIT_STACK, min(64 << 20, as_bytes) if as_bytes > 0 else 64 << 20)
    _limit(resource.RLIMIT_AS, as_bytes)
    # soft limit sends SIGXCPU; the hard limit one second later is SIGKILL
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    except (ValueError, OSError):
        pass


def _is_json(value, depth=0):
    if depth > 200:
        return False
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_is_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _call(code, fn_name):
    import json

    args = json.loads(sys.stdin.read())
    if not isinstance(args, list):
        args = [args]
    private = posix.dup(1)
    posix.dup2(2, 1)  # the program's prints cannot reach the result channel by accident
    import typing

    # LeetCode-style starter code annotates with List, Optional, ... without importing them;
    # the judges (LiveCodeBench, APPS) run call-based solutions with typing's names in scope.
    ns = {name: getattr(typing, name) for name in typing.__all__}
    ns.update({"__name__": "solution", "__builtins__": __builtins__})
    exec(code, ns)
    fn = None
    cls = ns.get("Solution")
    if isinstance(cls, type):
        fn = getattr(cls(), fn_name, None)
    if fn is None:
        fn = ns.get(fn_name)
    if not callable(fn):
        raise NameError("no function %r (nor Solution.%s) defined" % (fn_name, fn_name))
    result = fn(*args)
    sys.stdout.flush()
    if _is_json(result):
        line = "JSON " + json.dumps(result)
    else:
        line = "NONJSON " + type(result).__name__
    data = line.encode("utf-8", "replace")
    while data:
        data = data[posix.write(private, data):]


def main():
    posix.write(2, b"\x1e")  # start marker: the sandbox and the interpreter came up
    mode = sys.argv[1]
    cpu_s, as_bytes, fsize, nofile, nproc, fd = (int(x) for x in sys.argv[2:8])
    with open(fd, "rb") as fh:
        source = fh.read()
    _lock(cpu_s, as_bytes, fsize, nofile, nproc)
    code = compile(source, "solution.py", "exec", dont_inherit=True)
    builtins.exit, builtins.quit = _Quitter("exit"), _Quitter("quit")
    del sys.argv[:]
    sys.argv.append("solution.py")
    if mode == "call":
        _call(code, FN_NAME)
    else:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})


FN_NAME = sys.argv[8] if len(sys.argv) > 8 else ""
main()
