"""Re-signs events/payment-webhook.json for a data.id, now, and a secret.

A webhook signature is only valid for 5 minutes (the replay window), so the
stored sample cannot carry a lasting one. Usage:
    python3 tools/ci/sign_webhook_event.py events/payment-webhook.json \
        --secret local-webhook-secret --data-id ORD01... > /tmp/webhook.json
Signs as Mercado Pago documents: HMAC-SHA256 over
`id:{data.id lowercased};request-id:{x-request-id};ts:{ms};`.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time


def x_signature(secret, data_id, request_id, now_ms=None):
    """The `x-signature` header Mercado Pago sends: `ts=…,v1=…`, the v1 an
    HMAC-SHA256 of the manifest, whose pairs with no value are left out."""
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    manifest = ""
    if data_id:
        manifest += f"id:{data_id};"
    if request_id:
        manifest += f"request-id:{request_id};"
    manifest += f"ts:{ts};"
    v1 = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={v1}"


def signed_event(template, secret, data_id, now_ms=None):
    event = json.loads(json.dumps(template))
    request_id = event["headers"]["x-request-id"]
    manifest_id = data_id.lower() if data_id.isalnum() else data_id
    event["headers"]["x-signature"] = x_signature(secret, manifest_id, request_id, now_ms)
    event["rawQueryString"] = f"data.id={data_id}&type=order"
    event["queryStringParameters"] = {"data.id": data_id, "type": "order"}
    body = json.loads(event["body"])
    body["data"]["id"] = data_id
    event["body"] = json.dumps(body, separators=(",", ":"))
    return event


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("template")
    # From the environment by default: a secret on the command line is
    # visible to anyone who can list processes.
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"),
                        help="the webhook secret (default: $WEBHOOK_SECRET)")
    parser.add_argument("--data-id", required=True)
    args = parser.parse_args()
    if not args.secret:
        parser.error("give --secret or set WEBHOOK_SECRET")
    with open(args.template) as f:
        template = json.load(f)
    json.dump(signed_event(template, args.secret, args.data_id), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
