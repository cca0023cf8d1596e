"""The mock must serve Mercado Pago's official Python SDK unchanged (docs/mercadopago.md).

Starts the standalone mock binary on a free loopback port, points the SDK's
base URL at it, and drives sdk.order().create/get/cancel/refund, the
idempotency-key rules, Mercado Pago's path-id and cancel rules, asynchronous
refunds (processing, then processed and notified; refund_in_progress
meanwhile), and the webhook signature through the SDK's own
WebhookSignatureValidator; then a second mock started with MP_MOCK_ACCESS_TOKEN
accepts only the SDK's configured token.
Exits non-zero on the first broken expectation; prints "sdk-compat: N passed, 0 failed".
"""
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import os

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "ci"))
import mercadopago  # noqa: E402
from checks import Checks, free_port  # noqa: E402
from mercadopago.config import Config, RequestOptions  # noqa: E402
from mercadopago.webhook.validator import (  # noqa: E402
    InvalidWebhookSignatureError,
    WebhookSignatureValidator,
)

SECRET = "sdk-compat-secret"
# Well-formed (ORD + 26) and unknown to any mock.
UNKNOWN_ORDER = "ORD00000000000000000000000000"
check = Checks()


def until(probe, within=5.0):
    """Calls probe() every 50 ms until it returns something truthy, at most `within` s."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s")
        time.sleep(0.05)


def settled(sdk, order_id, count):
    """The order once it lists `count` refunds, none still processing."""
    def probe():
        order = sdk.order().get(order_id)["response"]
        refunds = order.get("transactions", {}).get("refunds", [])
        done = len(refunds) == count and all(r["status"] == "processed" for r in refunds)
        return order if done else None
    return until(probe)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Collects webhooks the mock sends."""
    received = []

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        Receiver.received.append((self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def order_body(reference):
    return {
        "type": "qr",
        "external_reference": reference,
        "total_amount": "25.90",
        "description": "X-Burger x2",
        "expiration_time": "PT15M",
        "config": {"qr": {"external_pos_id": "POS001", "mode": "dynamic"}},
        "transactions": {"payments": [{"amount": "25.90"}]},
        "items": [{"title": "X-Burger", "unit_price": "12.95", "quantity": 2,
                   "unit_measure": "unit", "external_code": "XB"}],
    }


def main(mock_binary):
    receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    notification_url = f"http://127.0.0.1:{receiver.server_port}/webhook"

    port = free_port()
    mock = subprocess.Popen(
        [mock_binary, "--port", str(port), "--notification-url", notification_url],
        env={**os.environ, "MP_WEBHOOK_SECRET": SECRET},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base)
        # The SDK has no public base-URL option; its Config holds the root URL.
        Config._Config__api_base_url = base
        sdk = mercadopago.SDK("TEST-sdk-compat-token")
        keyed = RequestOptions(custom_headers={"x-idempotency-key": "pay_sdk_1"})

        created = sdk.order().create(order_body("pay_sdk_1"), keyed)
        check(created["status"] == 201, f"create: {created}")
        order = created["response"]
        check(order["id"].startswith("ORD"), "order id")
        check(order["type_response"]["qr_data"], "qr_data present")
        check(order["transactions"]["payments"][0]["id"], "payment id present")

        again = sdk.order().create(order_body("pay_sdk_1"), keyed)
        check(again["status"] == 201 and again["response"]["id"] == order["id"],
              "same key + same body returns the same order")
        other = sdk.order().create(order_body("pay_sdk_2"), keyed)
        check(other["status"] == 409, f"same key + other body is 409: {other['status']}")

        # Without custom options the SDK sends a fresh key of its own per call.
        fresh = sdk.order().create(order_body("pay_sdk_3"))
        check(fresh["status"] == 201 and fresh["response"]["id"] != order["id"], "fresh key, new order")

        bad = order_body("pay_sdk_4")
        bad["total_amount"] = "25.9O"
        rejected = sdk.order().create(bad)
        check(rejected["status"] == 400, "invalid amount is 400")
        check(rejected["response"]["errors"][0]["code"], "MP error shape")

        read = sdk.order().get(order["id"])
        check(read["status"] == 200 and read["response"]["status"] == "created", f"get: {read}")
        check(read["response"]["external_reference"] == "pay_sdk_1", "external_reference")
        check(sdk.order().get(UNKNOWN_ORDER)["status"] == 404, "unknown order is 404")
        malformed = sdk.order().get("ORD01MISSING")
        check(malformed["status"] == 400
              and malformed["response"]["errors"][0]["code"] == "invalid_path_param",
              f"an id not ORD + 26 characters is 400 invalid_path_param: {malformed}")

        canceled = sdk.order().cancel(fresh["response"]["id"])
        check(canceled["status"] == 200 and canceled["response"]["status"] == "canceled", f"cancel: {canceled}")
        # The SDK sends a fresh key per call: a second cancel is a new request.
        again = sdk.order().cancel(fresh["response"]["id"])
        check(again["status"] == 409
              and again["response"]["errors"][0]["code"] == "order_already_canceled",
              f"only an order still created can be canceled: {again}")

        # Pay through the control endpoint; the mock sends a signed webhook.
        request = urllib.request.Request(
            f"{base}/mock/orders/{order['id']}/pay", data=b'{"outcome": "approved"}',
            headers={"content-type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).read()
        check(len(Receiver.received) == 1, "one webhook delivered")
        path, headers, body = Receiver.received[0]
        headers = {k.lower(): v for k, v in headers.items()}
        check(f"data.id={order['id']}" in path and "type=order" in path, f"webhook query: {path}")
        check(json.loads(body)["data"]["id"] == order["id"], "webhook body names the order")
        ts = headers["x-signature"].split(",")[0].split("=")[1]
        check(len(ts) == 13, "ts in milliseconds, as MP documents")
        # MP's docs lowercase an alphanumeric data.id in the manifest; the SDK's
        # validator signs what it is given, so it is given the documented form.
        WebhookSignatureValidator.validate(
            headers["x-signature"], headers["x-request-id"], order["id"].lower(), SECRET)
        check(True, "the SDK's validator accepts the mock's signature")
        rejected = False
        try:
            WebhookSignatureValidator.validate(
                headers["x-signature"], headers["x-request-id"], order["id"].lower(), "wrong")
        except InvalidWebhookSignatureError:
            rejected = True
        check(rejected, "the validator rejects a wrong secret")
        check(sdk.order().get(order["id"])["response"]["status"] == "processed", "order processed")

        # Refunds through the SDK's own method: partial, then the rest. The mock
        # settles refunds after --refund-settle-ms (500 by default), as Mercado
        # Pago settles them later: first "processing", the order unchanged.
        payment_id = order["transactions"]["payments"][0]["id"]
        part = sdk.order().refund(
            order["id"], {"transactions": [{"id": payment_id, "amount": "10.00"}]})
        check(part["status"] == 201, f"partial refund: {part}")
        refunds = part["response"]["transactions"]["refunds"]
        check(len(refunds) == 1 and refunds[0]["amount"] == "10.00"
              and refunds[0]["transaction_id"] == payment_id
              and refunds[0]["id"].startswith("REF")
              and refunds[0]["status"] == "processing", f"refund taken, processing: {refunds}")
        check(part["response"]["status"] == "processed"
              and part["response"]["status_detail"] == "processed",
              f"the order waits for the refund: {part['response']['status_detail']}")
        busy = sdk.order().refund(order["id"])
        check(busy["status"] == 409
              and busy["response"]["errors"][0]["code"] == "refund_in_progress",
              f"one refund at a time: {busy}")
        read = settled(sdk, order["id"], 1)
        check(read["status"] == "processed" and read["status_detail"] == "partially_refunded",
              f"partially refunded once settled: {read['status_detail']}")
        notified = until(lambda: len(Receiver.received) >= 2)
        check(notified and json.loads(Receiver.received[1][2])["action"] == "order.refunded",
              "the settled refund is notified")

        rest = sdk.order().refund(order["id"])
        check(rest["status"] == 201, f"full refund of the rest: {rest}")
        check(rest["response"]["transactions"]["refunds"][1]["status"] == "processing",
              "the rest is processing")
        read = settled(sdk, order["id"], 2)
        check(read["status"] == "refunded" and read["status_detail"] == "refunded", "order refunded")
        refunds = read["transactions"]["refunds"]
        check([r["amount"] for r in refunds] == ["10.00", "15.90"], f"refunds: {refunds}")
        again = sdk.order().refund(order["id"])
        check(again["status"] == 409
              and again["response"]["errors"][0]["code"] == "order_already_refunded",
              f"a refunded order cannot be refunded again: {again}")
        unpaid = sdk.order().refund(fresh["response"]["id"])
        check(unpaid["status"] == 409
              and unpaid["response"]["errors"][0]["code"] == "cannot_refund_order",
              f"a canceled order cannot be refunded: {unpaid}")
    finally:
        mock.terminate()
        mock.wait(timeout=10)
        receiver.shutdown()
    check_access_token(mock_binary)
    print(check.summary("sdk-compat"))


def check_access_token(mock_binary):
    """With MP_MOCK_ACCESS_TOKEN, the SDK's configured token works and another gets 401."""
    port = free_port()
    mock = subprocess.Popen(
        [mock_binary, "--port", str(port)],
        env={**os.environ, "MP_MOCK_ACCESS_TOKEN": "TEST-sdk-compat-token"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base)
        Config._Config__api_base_url = base
        created = mercadopago.SDK("TEST-sdk-compat-token").order().create(order_body("pay_sdk_token"))
        check(created["status"] == 201, f"the configured token is accepted: {created['status']}")
        read = mercadopago.SDK("TEST-sdk-compat-token").order().get(created["response"]["id"])
        check(read["status"] == 200, "get with the configured token")
        refused = mercadopago.SDK("TEST-another-token").order().get(created["response"]["id"])
        check(refused["status"] == 401, f"another token is refused: {refused['status']}")
        check(refused["response"]["errors"][0]["code"] == "unauthorized", "401 in MP's error shape")
    finally:
        mock.terminate()
        mock.wait(timeout=10)


def wait_for(base):
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/mock/stats", timeout=1)
            return
        except OSError:
            time.sleep(0.1)


if __name__ == "__main__":
    main(sys.argv[1])
