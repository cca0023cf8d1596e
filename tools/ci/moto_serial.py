"""moto's server, applying one request at a time.

moto applies a TransactWriteItems by deep-copying the table, writing item by item,
and restoring the copy if a condition fails, with no lock. Under concurrent
requests a failed transaction can then undo another's committed writes or leave
its own behind, which real DynamoDB (serializable transactions) never does.
Handling requests one by one gives back DynamoDB's all-or-nothing behaviour, so
the concurrency tests test our conditions, not moto's races. Connections are
still accepted concurrently; only the handling is serialized.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""
import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneAtATime:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Drain the response inside the lock: the whole request is atomic.
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, OneAtATime(app), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
