"""`make package-check`: the deployable zips `make package` left, as Lambda
would take them. Each `target/lambda/<function>/bootstrap.zip` must hold an
executable `bootstrap` alone, an ELF program for the architecture asked
(`--arch`, the template's `Architecture`) that needs no glibc newer than
provided.al2023's; its size is printed. get-payment's is then unpacked and
run under a stand-in of the Lambda Runtime API on 127.0.0.1, against moto
(AWS_ENDPOINT_URL, set by with-moto.sh): a read of an unknown payment must
answer 404 (`--run`). Everything it starts is stopped on the way out.

`make package` ends with the zips' checks (no moto needed); `--run` is the
run alone, which `make package-check` adds.
"""
import argparse
import http.server
import json
import os
import stat
import struct
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

# ELF e_machine of each value of the template's Architecture parameter.
MACHINES = {"x86_64": 62, "arm64": 183}
# provided.al2023 ships glibc 2.34: a bootstrap that needs a newer symbol
# version (one linked on a newer distribution) fails at its first start.
RUNTIME_GLIBC = (2, 34)
SHT_GNU_VERNEED = 0x6FFFFFFE


def elf_machine(program):
    """The ELF header's machine of a 64-bit little-endian program, else None."""
    if len(program) < 64 or program[:4] != b"\x7fELF" or program[4] != 2 or program[5] != 1:
        return None
    return struct.unpack_from("<H", program, 18)[0]


def glibc_versions(program):
    """The GLIBC_x.y versions the program's dynamic symbols need, from its
    .gnu.version_r section (ELF64, little-endian)."""
    shoff, = struct.unpack_from("<Q", program, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", program, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", program, shoff + i * shentsize)
                for i in range(shnum)]
    versions = set()
    for _, kind, _, _, offset, _, link, count, _, _ in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strings = sections[link][4]
        need = offset
        for _ in range(count):
            _, _, _, aux, next_need = struct.unpack_from("<HHIII", program, need)
            entry = need + aux
            while True:
                _, _, _, name, next_aux = struct.unpack_from("<IHHII", program, entry)
                end = program.index(b"\0", strings + name)
                label = program[strings + name:end].decode()
                if label.startswith("GLIBC_"):
                    versions.add(tuple(int(part) for part in label[6:].split(".")))
                if not next_aux:
                    break
                entry += next_aux
            if not next_need:
                break
            need += next_need
    return versions


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


def zips(arch, folder):
    """Each function's zip: it holds an executable `bootstrap` for `arch`
    that runs on provided.al2023's glibc; its sizes."""
    for function in FUNCTIONS:
        path = os.path.join(ROOT, folder, function, "bootstrap.zip")
        check(os.path.isfile(path), f"{function}: {path} exists (make package ARCH={arch})")
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            check(names == ["bootstrap"], f"{function}: the zip holds bootstrap alone: {names}")
            info = archive.getinfo("bootstrap")
            mode = info.external_attr >> 16
            check(mode & stat.S_IXUSR, f"{function}: bootstrap is executable ({oct(mode)})")
            program = archive.read("bootstrap")
        machine = elf_machine(program)
        check(machine == MACHINES[arch],
              f"{function}: bootstrap is a 64-bit ELF program for {arch} (e_machine {machine},"
              f" want {MACHINES[arch]}); build it with make package ARCH={arch}")
        newest = max(glibc_versions(program), default=(0, 0))
        check(newest <= RUNTIME_GLIBC,
              f"{function}: bootstrap needs glibc {'.'.join(map(str, newest))}, newer than"
              f" provided.al2023's {'.'.join(map(str, RUNTIME_GLIBC))}")
        print(f"package: {function:16} zip {os.path.getsize(path) / 1048576:5.2f} MiB,"
              f" bootstrap {info.file_size / 1048576:5.2f} MiB ({arch}, glibc >="
              f" {'.'.join(map(str, newest))})")


def run_get_payment(folder):
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
        with zipfile.ZipFile(os.path.join(ROOT, folder, "get-payment",
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(MACHINES), default="x86_64")
    parser.add_argument("--dir", default=os.path.join("target", "lambda"),
                        help="where the zips are: <dir>/<function>/bootstrap.zip")
    parser.add_argument("--run", action="store_true",
                        help="run get-payment's bootstrap against moto (make package"
                             " checked the zips)")
    options = parser.parse_args()
    if options.run:
        run_get_payment(options.dir)
    else:
        zips(options.arch, options.dir)
    print(check.summary("package-check"))


if __name__ == "__main__":
    main()
