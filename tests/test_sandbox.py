"""Adversarial suite for the code sandbox: each attack is contained, the host is
unaffected and no process outlives its run. Limits are tiny so bombs stay cheap."""

from __future__ import annotations

import os
import socket
import time

import pytest
from sandbox_leftovers import no_sandbox_leftovers

from verifiers.sandbox import SandboxConfig, run_python
from verifiers.sandbox.mounts import find_bwrap

pytestmark = pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")

# A uid range of its own: the leftover check below then sees this module's processes only, not
# those of sandboxes that tests on the other pytest-xdist worker run at the same time.
CFG = SandboxConfig(time_limit_s=1.0, wall_slack_s=0.5, memory_limit_mb=64, max_processes=12,
                    stdout_limit_bytes=64 << 10, tmpfs_mb=4, file_size_mb=2, starved_wall_factor=2.0,
                    uid_base=300_000, uid_span=10_000)
# The longest a CPU-bound run may take: a program starved of CPU by a loaded machine gets
# up to starved_wall_factor x the wall deadline, then is an infra failure, not a timeout.
LONGEST_S = CFG.wall_deadline_s * CFG.starved_wall_factor + 1.5


def no_credit_timeout(r) -> bool:
    """A timeout, or (only on an overloaded machine) the infra failure 'starved'."""
    status = r.status(CFG.time_limit_s)
    return status == "timeout" or (status == "sandbox_error" and r.infra_error.startswith("starved"))


@pytest.fixture(autouse=True)
def no_leftovers():
    with no_sandbox_leftovers(CFG.uid_base, CFG.uid_span):
        yield


def run(src: str, stdin: bytes = b"", cfg: SandboxConfig = CFG):
    return run_python(src, stdin, cfg)


def test_plain_program_runs_and_reports_isolation_layers():
    r = run("print(int(input()) * 2)", b"21\n")
    assert r.status(CFG.time_limit_s) == "ok" and r.stdout == b"42\n"
    for layer in ("bwrap", "ns:user,pid,net,ipc,uts,cgroup", "rlimits", "host_uid", "cleared_env"):
        assert layer in r.isolation


def test_network_is_unreachable_even_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    src = f"""
import socket
for host in ("127.0.0.1", "1.1.1.1"):
    try:
        socket.create_connection((host, {port}), timeout=0.5); print("CONNECTED", host)
    except OSError as e:
        print("blocked", host)
"""
    r = run(src)
    assert b"CONNECTED" not in r.stdout and r.stdout.count(b"blocked") == 2
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()


def test_filesystem_is_private_and_read_only(tmp_path):
    target = tmp_path / "escaped.txt"
    src = f"""
import os
print(sorted(os.listdir("/")))
for p in ["{target}", "/usr/evil", "/sandbox/solution.py", "/etc/passwd"]:
    try:
        open(p, "w").write("x"); print("WROTE", p)
    except OSError:
        print("denied")
open("/tmp/ok", "w").write("fine"); print("tmp ok")
"""
    r = run(src)
    assert b"WROTE" not in r.stdout and b"tmp ok" in r.stdout
    assert not target.exists() and not os.path.exists("/usr/evil")
    assert b"'etc'" not in r.stdout and b"'root'" not in r.stdout and b"'work'" not in r.stdout


def test_secrets_in_files_and_environment_are_invisible(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-FILE")
    monkeypatch.setenv("ZAYA_TEST_SECRET", "TOPSECRET-ENV")
    src = f"""
import os
print(dict(os.environ))
for p in ["{secret}", "/proc/1/environ", "/proc/self/environ", "/root/.bashrc"]:
    try:
        print(open(p, "rb").read())
    except OSError as e:
        print("denied", type(e).__name__)
"""
    r = run(src)
    assert b"TOPSECRET" not in r.stdout + r.stderr
    assert r.stdout.count(b"denied") >= 2


def test_fork_bomb_is_contained():
    src = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    r = run(src)
    assert time.monotonic() - start < LONGEST_S
    assert no_credit_timeout(r)


def test_thread_bomb_is_contained():
    src = "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,)).start()\n"
    r = run(src)
    assert r.status(CFG.time_limit_s) in ("runtime_error", "timeout")


def test_memory_bomb_hits_the_memory_limit():
    r = run("x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n")
    assert r.status(CFG.time_limit_s) == "memory_limit"


def test_disk_bomb_fills_only_the_small_tmpfs():
    src = "f = open('/tmp/big', 'wb')\nwhile True:\n    f.write(b'x' * (1 << 20)); f.flush()\n"
    r = run(src)
    assert r.status(CFG.time_limit_s) == "runtime_error"  # EFBIG/ENOSPC, or SIGXFSZ


def test_output_flood_is_capped():
    r = run("while True:\n    print('y' * 1000)\n")
    assert r.status(CFG.time_limit_s) == "output_limit"
    assert len(r.stdout) <= CFG.stdout_limit_bytes


def test_stderr_flood_is_bounded_in_memory():
    r = run("import sys\nfor _ in range(20000):\n    sys.stderr.write('e' * 1000)\nprint(1)")
    assert r.stdout == b"1\n" and len(r.stderr) <= CFG.stderr_limit_bytes


def test_spinner_ignoring_signals_is_killed_on_time():
    src = """
import signal
for s in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
while True:
    pass
"""
    start = time.monotonic()
    r = run(src)
    assert no_credit_timeout(r)
    assert time.monotonic() - start < LONGEST_S


def test_sleeper_is_stopped_by_the_wall_clock():
    start = time.monotonic()
    r = run("import time\ntime.sleep(30)\nprint(1)")
    assert r.timed_out and r.status(CFG.time_limit_s) == "timeout"
    assert time.monotonic() - start < CFG.wall_deadline_s + 1.0


def test_setsid_daemon_does_not_outlive_the_run():
    src = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(60)
    os._exit(0)
print("parent done")
"""
    r = run(src)
    assert r.stdout == b"parent done\n"
    # the autouse fixture asserts no process of the run is left


def test_daemon_holding_the_pipes_is_cut_at_the_deadline():
    src = "import os, time\nif os.fork() == 0:\n    os.setsid(); time.sleep(60)\nprint('bye')\n"
    r = run(src)
    assert r.status(CFG.time_limit_s) in ("ok", "timeout")


def test_killing_the_parent_or_everything_leaves_the_host_alone():
    src = "import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\nprint('alive')\n"
    r = run(src)
    assert os.getpid() > 0  # we are still here
    assert r.status(CFG.time_limit_s) in ("ok", "runtime_error", "sandbox_error")


def test_cannot_raise_its_own_limits_or_gain_capabilities():
    src = """
import resource, os
try:
    resource.setrlimit(resource.RLIMIT_AS, (-1, -1)); print("RAISED")
except (ValueError, OSError):
    print("kept")
try:
    os.setuid(0); print("ROOT")
except OSError:
    print("unprivileged")
try:
    os.chroot("/tmp"); print("CHROOT")
except OSError:
    print("no-caps")
"""
    r = run(src)
    assert r.stdout.split() == [b"kept", b"unprivileged", b"no-caps"]


def test_missing_bwrap_fails_loudly_unless_weak_mode_is_allowed(monkeypatch):
    import verifiers.sandbox.runner as runner
    from verifiers.sandbox import SandboxUnavailable

    monkeypatch.setattr(runner, "find_bwrap", lambda: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        run_python("print(1)", b"", CFG)
    weak = SandboxConfig(**{**CFG.to_dict(), "allow_weak": True})
    r = run_python("print(1)", b"", weak)
    assert r.stdout == b"1\n" and "weak_no_bwrap" in r.isolation and "bwrap" not in r.isolation


def test_program_is_an_ordinary_process_so_killing_its_own_group_kills_it():
    # As pid 1 it would survive its own group kill and print on; under bwrap's init it dies.
    r = run("import os, signal\nprint(os.getpid() != 1, flush=True)\nos.killpg(0, signal.SIGKILL)\nprint(42)\n")
    assert r.stdout == b"True\n" and r.status(CFG.time_limit_s) == "runtime_error"
    signalled = run("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\nprint(42)\n")
    assert signalled.stdout == b"" and signalled.exit_code == 128 + 15


def test_orphans_are_reaped_and_die_with_the_program():
    src = "import os, time\nif os.fork() == 0:\n    time.sleep(30)\nprint('parent done')\n"
    r = run(src)
    assert r.stdout == b"parent done\n" and r.status(CFG.time_limit_s) == "ok" and r.wall_s < CFG.time_limit_s
