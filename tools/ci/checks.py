"""Small helpers shared by the Python-side checks (sdk-compat, invoke-smoke)."""
import socket


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
