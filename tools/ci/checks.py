"""Small helpers shared by the Python-side checks (sdk-compat, invoke-smoke,
contract, kiosk-browser)."""
import os
import re
import socket
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Checks:
    """Counts expectations; the first broken one raises."""

    def __init__(self):
        self.passed = 0

    def __call__(self, condition, message):
        if not condition:
            raise AssertionError(message)
        self.passed += 1

    def summary(self, name):
        return f"{name}: {self.passed} passed, 0 failed"


def free_port():
    """A port nothing listens on right now, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local(log, env=None):
    """target/debug/payments-local on free loopback ports, its output in `log`;
    returns the process and its API's base URL, read off the startup banner."""
    process = subprocess.Popen(
        [os.path.join(ROOT, "target", "debug", "payments-local"), "--port", "0", "--mock-port", "0"],
        stdout=log, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.time() + 30
    banner = []
    while time.time() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        banner.append(line)
        match = re.search(r"API\s+(http://127\.0\.0\.1:\d+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    process.wait()
    raise SystemExit("payments-local did not print its API address:\n" + "".join(banner))


def stop(process):
    """Stops a process started here, waiting for it; returns its exit code."""
    process.terminate()
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
