"""`make contract`: schemathesis against payments-local, from the openapi.yaml
the stack serves. Fails on any 5xx, any answer whose status, content type,
headers or body the document does not describe, and any schema-violating
request the service accepts. Everything it starts is stopped on the way out.

The local stack authenticates no caller, so the run uses the document without
its IAM requirement (on AWS, API Gateway refuses an unsigned call before any
of this code runs).
"""
import os
import subprocess
import sys
import tempfile
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from checks import ROOT, start_local, stop  # noqa: E402

VENV_BIN = os.path.join(ROOT, os.environ.get("VENV", ".venv"), "bin")
# Per operation; with the stateful phase the run stays well under three minutes.
MAX_EXAMPLES = os.environ.get("CONTRACT_MAX_EXAMPLES", "250")
# Every check but ignored_auth (nothing to authenticate locally, see above).
# A valid request may still meet 404 or 409 (schemathesis.toml).
EXCLUDED_CHECKS = "ignored_auth"


def seed_arguments():
    """CONTRACT_SEED=<n> replays a run's generation (its summary prints the seed)."""
    seed = os.environ.get("CONTRACT_SEED")
    return ["--seed", seed] if seed else []


def without_security(document):
    document = dict(document)
    document.pop("security", None)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    document.get("components", {}).pop("securitySchemes", None)
    return document


def main():
    with tempfile.TemporaryDirectory() as scratch:
        with open(os.path.join(scratch, "payments-local.log"), "w") as log:
            process, api = start_local(log, env={**os.environ, "RUST_LOG": "warn"})
            try:
                with urllib.request.urlopen(f"{api}/openapi.yaml", timeout=10) as response:
                    served = response.read()
                with open(os.path.join(ROOT, "openapi.yaml"), "rb") as f:
                    if served != f.read():
                        raise SystemExit("GET /openapi.yaml is not the repository's openapi.yaml")
                spec = os.path.join(scratch, "openapi-local.yaml")
                with open(spec, "w") as f:
                    yaml.safe_dump(without_security(yaml.safe_load(served)), f, sort_keys=False)
                result = subprocess.run(
                    [
                        os.path.join(VENV_BIN, "schemathesis"),
                        "--config-file", os.path.join(ROOT, "tools", "ci", "schemathesis.toml"),
                        "run", spec,
                        "--url", api,
                        "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
                        "--max-examples", MAX_EXAMPLES,
                        "--workers", "2",
                        "--request-timeout", "10",
                        "--suppress-health-check", "filter_too_much,too_slow",
                        "--report-dir", os.path.join(scratch, "report"),
                        *seed_arguments(),
                    ],
                    cwd=scratch,
                    env={
                        **os.environ,
                        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
                        "PYTHONPATH": os.path.dirname(os.path.abspath(__file__)),
                    },
                )
            finally:
                exit_code = stop(process)
            if exit_code not in (0, -15):
                log.flush()
                with open(log.name) as f:
                    sys.stderr.write(f.read()[-4000:])
                raise SystemExit(f"payments-local exited with {exit_code}")
    if result.returncode != 0:
        raise SystemExit(f"contract: schemathesis found failures (exit {result.returncode})")
    print("contract: schemathesis found no failure")


if __name__ == "__main__":
    main()
