#!/usr/bin/env bash
# Runs a command with a moto server (AWS API emulator) on a free 127.0.0.1 port,
# exported to the AWS SDK as AWS_ENDPOINT_URL. moto is stopped however the
# command ends, and the command's exit status is returned.
set -euo pipefail

venv="${VENV:-.venv}"
# On a fresh clone the venv (moto, cargo-lambda) is not there yet: make it.
if [ ! -f "$venv/.installed" ]; then
    make --no-print-directory venv VENV="$venv" >&2
fi
port="$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
log="$(mktemp -t moto.XXXXXX.log)"

# moto_serial.py: moto's server handling one request at a time (see its header).
MOTO_PORT="$port" "$venv/bin/python" "$(dirname "$0")/moto_serial.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
stop_moto() {
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
    rm -f "$log"
}
trap stop_moto EXIT INT TERM

for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then
        echo "moto server failed to start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing" AWS_SESSION_TOKEN="testing"
export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
echo "moto server on $AWS_ENDPOINT_URL (pid $moto_pid)"

set +e
"$@"
status=$?
set -e
exit "$status"
