"""`make package-check`: the deployable zips `make package` left, as Lambda
would take them. Each `target/lambda/<function>/bootstrap.zip` must hold an
executable `bootstrap`; its size is printed. get-payment's is unpacked and
run under a stand-in of the Lambda Runtime API on 127.0.0.1, against moto
(AWS_ENDPOINT_URL, set by with-moto.sh): a read of an unknown payment must
answer 404. Everything it starts is stopped on the way out.
"""
import http.server
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile


sys.path.insert(0, os.path.dirname(__file__))
from checks import Checks, free_port  # noqa: E402
from invoke_smoke import ROOT, load_event, moto_table, with_path  # noqa: E402

FUNCTIONS = ["create-payment", "get-payment", "cancel-payment", "refund-payment",
             "payment-webhook", "event-relay", "payment-sweeper"]
check = Checks()


class RuntimeApi(http.server.ThreadingHTTPServer):
    """Hands out one invocation, keeps the function's answer to it."""

    def __init__(self, event):
        super().__init__(("127.0.0.1", free_port()), RuntimeApiHandler)
        self.event = event
        self.handed_out = False
        self.answer = None
        self.init_error = None
        self.answered = threading.Event()


class RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self.send_error(404)
        if self.server.handed_out:
            # One invocation only: the next poll waits until we stop.
            self.server.answered.wait(30)
            time.sleep(30)
            return self.send_error(410)
        self.server.handed_out = True
        body = json.dumps(self.server.event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "package-check-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 20000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:get-payment")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.endswith("/response"):
            self.server.answer = json.loads(body)
        elif self.path.endswith("/error"):
            self.server.init_error = body.decode(errors="replace")
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.answered.set()


def zips():
    """Each function's zip: it holds an executable `bootstrap`; its sizes."""
    for function in FUNCTIONS:
        path = os.path.join(ROOT, "target", "lambda", function, "bootstrap.zip")
        check(os.path.isfile(path), f"{function}: {path} exists (make package)")
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            check(names == ["bootstrap"], f"{function}: the zip holds bootstrap alone: {names}")
            info = archive.getinfo("bootstrap")
            mode = info.external_attr >> 16
            check(mode & stat.S_IXUSR, f"{function}: bootstrap is executable ({oct(mode)})")
            print(f"package: {function:16} zip {os.path.getsize(path) / 1048576:5.2f} MiB,"
                  f" bootstrap {info.file_size / 1048576:5.2f} MiB")


def run_get_payment():
    endpoint, _, table = moto_table("payments-package")
    # The sample, turned into a read of a payment nobody made.
    unknown = "pay_01JD0000000000000000000000"
    event = with_path(load_event("get-payment.json"), f"/payments/{unknown}", unknown)
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event["routeKey"] = "GET /payments/{payment_id}"
    api = RuntimeApi(event)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as unpacked:
        with zipfile.ZipFile(os.path.join(ROOT, "target", "lambda", "get-payment",
                                          "bootstrap.zip")) as archive:
            archive.extractall(unpacked)
        bootstrap = os.path.join(unpacked, "bootstrap")
        os.chmod(bootstrap, 0o755)
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "get-payment",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "PAYMENTS_TABLE": table,
            "RUST_LOG": "info",
        }
        process = subprocess.Popen([bootstrap], env=env, cwd=unpacked,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            answered = api.answered.wait(60)
        finally:
            process.kill()
            output, _ = process.communicate(timeout=10)
            api.shutdown()
            api.server_close()
    check(answered and api.init_error is None,
          f"get-payment answered its invocation: {api.init_error or ''}\n{output[-2000:]}")
    answer = api.answer or {}
    body = json.loads(answer.get("body") or "null") or {}
    check(answer.get("statusCode") == 404 and body.get("type") == "/problems/payment-not-found",
          f"the unpacked get-payment answers 404 for an unknown payment: {answer}")


def main():
    zips()
    run_get_payment()
    print(check.summary("package-check"))


if __name__ == "__main__":
    main()
