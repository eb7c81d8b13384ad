"""Trusted in-sandbox start-up: lock the rlimits, then run the untrusted program.

This file is copied into each run's read-only code directory and executed by the
sandbox interpreter (``python -I -S``), so it must only use the standard library and
must not import anything from this repository. The untrusted code runs after the hard
limits are set and cannot raise them (no CAP_SYS_RESOURCE).

argv: prelude.py MODE CPU_S AS_BYTES FSIZE_BYTES NOFILE NPROC [FN_NAME]
MODE is ``script`` (stdin/stdout program) or ``call`` (stdin holds a JSON array of
positional args; the result goes to the original stdout as ``JSON <text>`` or
``NONJSON <type>``; the program's own prints go to stderr).
"""

import resource
import sys

SOLUTION = __file__.rsplit("/", 1)[0] + "/solution.py"  # /sandbox/solution.py under bwrap


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
    import os

    args = json.loads(sys.stdin.read())
    if not isinstance(args, list):
        args = [args]
    private = os.dup(1)
    os.dup2(2, 1)  # the program's prints cannot reach the result channel by accident
    ns = {"__name__": "solution", "__builtins__": __builtins__}
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
        data = data[os.write(private, data):]


def main():
    import os

    os.write(2, b"\x1e")  # start marker: the sandbox and the interpreter came up
    mode = sys.argv[1]
    cpu_s, as_bytes, fsize, nofile, nproc = (int(x) for x in sys.argv[2:7])
    with open(SOLUTION, "rb") as fh:
        source = fh.read()
    _lock(cpu_s, as_bytes, fsize, nofile, nproc)
    code = compile(source, "solution.py", "exec", dont_inherit=True)
    del sys.argv[:]
    sys.argv.append("solution.py")
    if mode == "call":
        _call(code, FN_NAME)
    else:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})


FN_NAME = sys.argv[7] if len(sys.argv) > 7 else ""
main()
