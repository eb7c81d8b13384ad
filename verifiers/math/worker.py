"""Worker process for the sympy comparison: JSON lines in on stdin, JSON lines out.

Started by ``pool`` as ``python -m verifiers.math.worker MEMORY_MB``; a worker that
runs past its deadline is killed, which is the only timeout that works for sympy
(math-verify's own uses SIGALRM and breaks off the main thread).
"""

from __future__ import annotations

import json
import logging
import sys


def main() -> None:
    memory_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if memory_mb > 0:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.disable(logging.WARNING)  # math-verify warns that we disabled its timeouts
    out, sys.stdout = sys.stdout, sys.stderr  # nothing but replies may reach the pipe
    from verifiers.math.compare import compare

    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            res = compare(str(req["gold"]), str(req["answer"]))
        except MemoryError:
            res = {"reason": "parse_error", "error": "memory"}
        except Exception as exc:  # noqa: BLE001 - any failure is a verdict, not a crash
            res = {"reason": "parse_error", "error": f"{type(exc).__name__}"[:100]}
        out.write(json.dumps(res) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
