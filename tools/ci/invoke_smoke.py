"""`make invoke-smoke`: the Lambda binaries under `cargo lambda watch`,
invoked with the sample events in events/ via `cargo lambda invoke --data-file`,
against moto (AWS_ENDPOINT_URL, set by with-moto.sh) and the Mercado Pago mock,
all on 127.0.0.1. Everything it starts is stopped on the way out.
"""
import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import yaml
import zxingcpp
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from checks import Checks, free_port  # noqa: E402
from sign_webhook_event import signed_event  # noqa: E402

SECRET = "smoke-webhook-secret"
KIOSK_ROLE = "arn:aws:iam::123456789012:role/kiosk-backend"
ORDERS_ROLE = "arn:aws:iam::123456789012:role/orders-service"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENV_BIN = os.path.join(ROOT, os.environ.get("VENV", ".venv"), "bin")
check = Checks()


def wait_for_port(port, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


def table_from_template(dynamodb, name):
    """Creates the table exactly as template.yaml declares it."""
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with open(os.path.join(ROOT, "template.yaml")) as f:
        props = yaml.load(f, Loader=Loader)["Resources"]["PaymentsTable"]["Properties"]
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )


def moto_table(prefix):
    """moto's endpoint (loopback, from with-moto.sh), a boto3 session, and a
    new table made as template.yaml declares it."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    check(endpoint.startswith("http://127.0.0.1:"), "moto on loopback")
    session = boto3.session.Session(region_name="us-east-1")
    table = f"{prefix}-{int(time.time())}"
    table_from_template(session.client("dynamodb", endpoint_url=endpoint), table)
    return endpoint, session, table


def invoke_raw(port, function, event):
    """Invokes a non-HTTP function; returns its JSON result."""
    result = run_invoke(port, function, event)
    print(f"invoke {function}: {result}")
    return result


def run_invoke(port, function, event):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(event, f)
        path = f.name
    try:
        out = subprocess.run(
            [os.path.join(VENV_BIN, "cargo-lambda"), "lambda", "invoke", function,
             "--data-file", path, "-A", "127.0.0.1", "-P", str(port), "--output-format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(path)
    check(out.returncode == 0, f"invoke {function} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def invoke(port, function, event):
    """Invokes an HTTP function; returns status, headers and the parsed body."""
    response = run_invoke(port, function, event)
    body = json.loads(response.get("body") or "null")
    print(f"invoke {function}: {response['statusCode']}")
    return response["statusCode"], response.get("headers", {}), body


def load_event(name):
    with open(os.path.join(ROOT, "events", name)) as f:
        return json.load(f)


def mock_pay(mock_url, order, outcome):
    """The customer pays at the mock; the webhook is sent by the test, signed."""
    request = urllib.request.Request(
        f"{mock_url}/mock/orders/{order}/pay",
        # A rejection ends the order (`final`), as the generic Orders API does;
        # a QR order would otherwise stay payable.
        data=json.dumps({"outcome": outcome, "notify": False,
                         **({"final": True} if outcome == "rejected" else {})}).encode(),
        headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def mock_post(mock_url, path, body):
    request = urllib.request.Request(
        f"{mock_url}{path}", data=json.dumps(body).encode(),
        headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def with_path(event, path, payment_id):
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"payment_id": payment_id}
    return event


def mock_order(mock_url, order_id):
    """The order as Mercado Pago's GET answers it."""
    request = urllib.request.Request(f"{mock_url}/v1/orders/{order_id}",
                                     headers={"authorization": "Bearer TEST-smoke-token"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def refund_event(payment_id, key, body):
    event = with_path(load_event("refund-payment.json"), f"/payments/{payment_id}/refunds", payment_id)
    event["headers"]["idempotency-key"] = key
    event["body"] = json.dumps(body)
    return event


def fidelity_checks(port, mock_url):
    """Mercado Pago's answers the service must handle, injected at the mock
    (as strict as Mercado Pago: every write without its key is refused), each
    met by the Lambda binaries on moto."""
    def webhook(order):
        return invoke(port, "payment-webhook", signed_event(load_event("payment-webhook.json"), SECRET, order))

    # An approved payment whose order Mercado Pago will not refund in part.
    status, _, paid = invoke(port, "create-payment", create_event("ord-2001"))
    check(status == 201, f"fidelity create: {status} {paid}")
    order = paid["provider"]["order_id"]
    mock_pay(mock_url, order, "approved")
    status, _, outcome = webhook(order)
    check(status == 200 and outcome["outcome"] == "applied", f"fidelity approval: {status} {outcome}")
    mock_post(mock_url, f"/mock/orders/{order}/partial-refunds", {"supported": False})
    status, _, problem = invoke(port, "refund-payment", refund_event(paid["payment_id"], "part-1", {"amount": 1000}))
    check(status == 422 and problem["type"] == "/problems/partial-refund-not-supported",
          f"unsupported_partially_refunds: 422 partial-refund-not-supported: {status} {problem}")
    mock_post(mock_url, f"/mock/orders/{order}/partial-refunds", {"supported": True})

    # A refund asked while another one is still processing there: kept, 202.
    status, _, first = invoke(port, "refund-payment", refund_event(paid["payment_id"], "part-2", {"amount": 1000}))
    check(status == 202 and first["refund"]["status"] == "pending", f"a refund taken: {status} {first}")
    status, _, second = invoke(port, "refund-payment", refund_event(paid["payment_id"], "part-3", {"amount": 500}))
    check(status == 202 and second["refund"]["status"] == "pending"
          and second["refund"]["provider_refund_id"] is None,
          f"refund_in_progress: 202, pending, asked again later: {status} {second}")

    # 429 with Retry-After: 1 on the read: waited out, then read.
    mock_post(mock_url, "/mock/faults", {"fail_next": 1, "status": 429, "retry_after": 1, "on": "get"})
    started = time.time()
    status, _, outcome = webhook(order)
    waited = time.time() - started
    check(status == 200 and waited >= 1.0, f"429 Retry-After: 1 waited ({waited:.2f}s), then read: {status} {outcome}")

    # An order status Mercado Pago may add later: nothing decided on it.
    status, _, open_payment = invoke(port, "create-payment", create_event("ord-2002"))
    check(status == 201, f"fidelity create 2: {status} {open_payment}")
    unknown_order = open_payment["provider"]["order_id"]
    mock_post(mock_url, f"/mock/orders/{unknown_order}/status", {"status": "something_new"})
    status, _, outcome = webhook(unknown_order)
    check(status == 200 and outcome["outcome"] == "unchanged",
          f"an unknown order status leaves the payment pending: {status} {outcome}")

    # A create answer for another total: canceled there, 502, no QR shown.
    mock_post(mock_url, "/mock/next-create-answer", {"total_amount": "1.00"})
    status, _, problem = invoke(port, "create-payment", create_event("ord-2003"))
    check(status == 502 and problem["type"] == "/problems/provider-mismatch",
          f"a create answer for another total: 502 provider-mismatch: {status} {problem}")
    # One role, two sessions (another task, a credential refresh): the same
    # Idempotency-Key is the same refund, and Mercado Pago makes one.
    def from_session(session, key, body):
        event = refund_event(paid["payment_id"], key, body)
        event["requestContext"]["authorizer"] = {"iam": {
            "accessKey": "ASIAEXAMPLE", "accountId": "123456789012",
            "callerId": f"AROAEXAMPLE:{session}", "userId": f"AROAEXAMPLE:{session}",
            "userArn": f"arn:aws:sts::123456789012:assumed-role/orders-service/{session}"}}
        return event
    refunds_before = len(mock_order(mock_url, order)["transactions"].get("refunds", []))
    status, _, first = invoke(port, "refund-payment", from_session("task-1", "retried", {"amount": 300}))
    check(status in (201, 202), f"a refund from the first session: {status} {first}")
    status, _, again = invoke(port, "refund-payment", from_session("task-2", "retried", {"amount": 300}))
    check(status in (201, 202) and again["refund"]["refund_id"] == first["refund"]["refund_id"],
          f"the same key from another session of the role is the same refund: {status} {again}")
    refunds_after = len(mock_order(mock_url, order)["transactions"].get("refunds", []))
    check(refunds_after == refunds_before + 1,
          f"Mercado Pago made one refund for the key: {refunds_before} -> {refunds_after}")

    named = re.search(r"payment (pay_[0-9A-Z]{26})", problem.get("detail", ""))
    orders = json.loads(urllib.request.urlopen(f"{mock_url}/mock/orders", timeout=10).read())["items"]
    mismatched = [o["status"] for o in orders
                  if named and o["external_reference"] == named.group(1)]
    check(mismatched == ["canceled"], f"the mismatched order is canceled at Mercado Pago: {mismatched}")


def as_caller(event, iam):
    """The event as API Gateway hands it for another IAM context (`iam`:
    the authorizer's `iam` object, or a session ARN)."""
    if isinstance(iam, str):
        session = iam.rsplit("/", 1)[-1]
        iam = {"accessKey": "ASIAEXAMPLE", "accountId": "123456789012",
               "callerId": f"AROAEXAMPLE:{session}", "userId": f"AROAEXAMPLE:{session}",
               "userArn": iam}
    event["requestContext"]["authorizer"] = {"iam": iam}
    return event


def access_checks(port, approved_payment_id):
    """Who may call: ALLOWED_CALLERS admits every session of a listed role
    and refuses anyone else, and an IAM context without a userArn, before
    anything is read or changed; texts with invisible format characters are
    refused."""
    intruder = "arn:aws:sts::123456789012:assumed-role/intruder/session-1"
    for function, event in [
        ("create-payment", create_event("ord-3001")),
        ("get-payment", load_event("get-payment.json")),
        ("cancel-payment", load_event("cancel-payment.json")),
        ("refund-payment", refund_event(approved_payment_id, "intruder-1", {"amount": 100})),
    ]:
        status, _, problem = invoke(port, function, as_caller(json.loads(json.dumps(event)), intruder))
        check(status == 403 and problem["type"] == "/problems/caller-not-allowed",
              f"{function}: a role not in ALLOWED_CALLERS is refused: {status} {problem}")
        no_arn = {"accessKey": "ASIAEXAMPLE", "accountId": "123456789012"}
        status, _, problem = invoke(port, function, as_caller(json.loads(json.dumps(event)), no_arn))
        check(status == 403 and problem["type"] == "/problems/caller-not-allowed",
              f"{function}: an IAM context without userArn is refused: {status} {problem}")
    another_kiosk = "arn:aws:sts::123456789012:assumed-role/kiosk-backend/kiosk-task-9"
    status, _, created = invoke(port, "create-payment", as_caller(create_event("ord-3002"), another_kiosk))
    check(status == 201, f"another session of an allowed role creates: {status} {created}")
    for hidden in ("\u202e", "\u200b"):
        event = create_event("ord-3003")
        body = json.loads(event["body"])
        body["items"][0]["title"] = f"X-Burger{hidden}regruB"
        event["body"] = json.dumps(body)
        status, _, problem = invoke(port, "create-payment", event)
        fields = [e["field"] for e in problem.get("errors", [])]
        check(status == 422 and fields == ["items[0].title"],
              f"a title with U+{ord(hidden):04X} is refused: {status} {problem}")


def init_checks(env_file):
    """A Mercado Pago base URL that would send the token in the clear to
    another host fails init, naming the variable, in every function with a
    Mercado Pago client."""
    with open(env_file) as f:
        env = dict(line.split("=", 1) for line in f.read().splitlines() if line)
    env["MP_API_BASE_URL"] = "http://api.example.com"
    for function in ("create-payment", "cancel-payment", "refund-payment",
                     "payment-webhook", "payment-sweeper"):
        out = subprocess.run([os.path.join(ROOT, "target", "debug", function)],
                             env={**env, "PATH": os.environ.get("PATH", "")},
                             capture_output=True, text=True, timeout=60)
        check(out.returncode != 0 and "MP_API_BASE_URL" in out.stderr,
              f"{function} refuses MP_API_BASE_URL=http://api.example.com at init: "
              f"{out.returncode} {out.stderr[-500:]}")


def create_event(order_id, pos_id="as in the sample"):
    """The create-payment sample for another order (`pos_id=None`: without one)."""
    event = load_event("create-payment.json")
    body = json.loads(event["body"])
    body["order_id"] = order_id
    if pos_id is None:
        body.pop("pos_id", None)
    elif pos_id != "as in the sample":
        body["pos_id"] = pos_id
    event["body"] = json.dumps(body)
    return event


def pos_at_mock(mock_url, order):
    """The external_pos_id Mercado Pago (the mock) was asked to create `order` at."""
    with urllib.request.urlopen(f"{mock_url}/mock/orders", timeout=10) as response:
        orders = json.load(response)["items"]
    return next((o["config"]["qr"]["external_pos_id"] for o in orders if o["id"] == order), None)


def main():
    endpoint, session, table = moto_table("payments-smoke")
    topic = session.client("sns", endpoint_url=endpoint).create_topic(Name=table)["TopicArn"]

    mock_port, invoke_port = free_port(), free_port()
    mock_url = f"http://127.0.0.1:{mock_port}"
    env_file = tempfile.NamedTemporaryFile("w", suffix=".env", delete=False)
    env_file.write("\n".join([
        f"PAYMENTS_TABLE={table}", f"PAYMENTS_TOPIC_ARN={topic}",
        f"MP_API_BASE_URL={mock_url}", "MP_ACCESS_TOKEN=TEST-smoke-token",
        # Two points of sale; the sample names the second (POS001, the
        # template's default), the first is the default here.
        "MP_POS_IDS=SMOKEPOS001,POS001", f"MP_WEBHOOK_SECRET={SECRET}",
        f"AWS_ENDPOINT_URL={endpoint}", "AWS_REGION=us-east-1",
        "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "RUST_LOG=info",
        # The shortest QR lifetime Mercado Pago accepts, so one payment can
        # go overdue and be swept within the run.
        "PAYMENT_EXPIRY=PT30S",
        # Every route admits the two roles the samples and checks call as.
        f"ALLOWED_CALLERS={KIOSK_ROLE},{ORDERS_ROLE}",
    ]) + "\n")
    env_file.close()

    started = []
    try:
        started.append(subprocess.Popen(
            [os.path.join(ROOT, "target", "debug", "mercadopago-mock"), "--port", str(mock_port)],
            env={**os.environ, "MP_WEBHOOK_SECRET": SECRET},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(mock_port, 30)
        watch_log = open(os.path.join(tempfile.gettempdir(), "cargo-lambda-watch.log"), "w")
        started.append(subprocess.Popen(
            [os.path.join(VENV_BIN, "cargo-lambda"), "lambda", "watch", "--ignore-changes",
             "-A", "127.0.0.1", "-P", str(invoke_port), "--env-file", env_file.name],
            cwd=ROOT, stdout=watch_log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_for_port(invoke_port, 300)

        status, headers, payment = invoke(invoke_port, "create-payment", load_event("create-payment.json"))
        check(status == 201, f"create: {status} {payment}")
        check(payment["status"] == "pending" and payment["qr_data"], "pending with QR data")
        check(headers.get("location") == f"/payments/{payment['payment_id']}", "Location header")
        sample_request_id = load_event("create-payment.json")["requestContext"]["requestId"]
        check(headers.get("x-request-id") == sample_request_id,
              f"X-Request-Id is API Gateway's request id: {headers.get('x-request-id')}")
        check(payment["pos_id"] == "POS001", f"the sample's pos_id is the payment's: {payment['pos_id']}")
        check(pos_at_mock(mock_url, payment["provider"]["order_id"]) == "POS001",
              "the sample's pos_id is the order's config.qr.external_pos_id at Mercado Pago")

        status, _, listed = invoke(invoke_port, "get-payment", load_event("get-payment.json"))
        check(status == 200 and [p["payment_id"] for p in listed["items"]] == [payment["payment_id"]],
              f"list by order: {status} {listed}")

        order = payment["provider"]["order_id"]
        mock_pay(mock_url, order, "approved")

        webhook = signed_event(load_event("payment-webhook.json"), SECRET, order)
        status, _, outcome = invoke(invoke_port, "payment-webhook", webhook)
        check(status == 200 and outcome["outcome"] == "applied", f"webhook: {status} {outcome}")
        status, _, outcome = invoke(invoke_port, "payment-webhook", load_event("payment-webhook.json"))
        check(status == 401, f"the stored sample's placeholder signature is refused: {status}")

        one = load_event("get-payment.json")
        one["routeKey"] = "GET /payments/{payment_id}"
        one["rawPath"] = one["requestContext"]["http"]["path"] = f"/payments/{payment['payment_id']}"
        one["rawQueryString"] = ""
        one.pop("queryStringParameters", None)
        one["pathParameters"] = {"payment_id": payment["payment_id"]}
        status, _, read = invoke(invoke_port, "get-payment", one)
        check(status == 200 and read["status"] == "approved", f"get: {status} {read}")
        history = with_path(load_event("get-payment-events.json"),
                            f"/payments/{payment['payment_id']}/events", payment["payment_id"])
        status, _, events = invoke(invoke_port, "get-payment", history)
        check(status == 200 and [(e["event_type"], e["sequence"]) for e in events["items"]]
              == [("payment.approved", 1)], f"the payment's events: {status} {events}")
        status, _, problem = invoke(invoke_port, "get-payment", load_event("get-payment-events.json"))
        check(status == 404, f"the events sample's unknown payment: {status} {problem}")
        approved_event = events["items"][0]["event_id"]
        again = load_event("redeliver-event.json")
        again["rawPath"] = again["requestContext"]["http"]["path"] = f"/events/{approved_event}/redeliver"
        again["pathParameters"] = {"event_id": approved_event}
        status, _, redelivered = invoke(invoke_port, "refund-payment", again)
        check(status == 202 and redelivered["event"]["event_id"] == approved_event,
              f"refund-payment redelivers a stored event: {status} {redelivered}")
        status, _, problem = invoke(invoke_port, "refund-payment", load_event("redeliver-event.json"))
        check(status == 404 and problem["type"] == "/problems/event-not-found",
              f"the redelivery sample's unknown event: {status} {problem}")

        # The kiosk abandons a second order's QR code: canceled at Mercado Pago, then here.
        second = create_event("ord-1043", pos_id=None)
        status, _, abandoned = invoke(invoke_port, "create-payment", second)
        check(status == 201, f"second create: {status} {abandoned}")
        check(abandoned["pos_id"] == "SMOKEPOS001"
              and pos_at_mock(mock_url, abandoned["provider"]["order_id"]) == "SMOKEPOS001",
              f"without pos_id, the first of MP_POS_IDS: {abandoned['pos_id']}")
        status, _, problem = invoke(invoke_port, "create-payment", create_event("ord-1046", "OTHERPOS9"))
        check(status == 422 and [e["field"] for e in problem.get("errors", [])] == ["pos_id"],
              f"a pos_id outside MP_POS_IDS is refused naming pos_id: {status} {problem}")
        cancel = load_event("cancel-payment.json")
        path = f"/payments/{abandoned['payment_id']}/cancel"
        cancel["rawPath"] = cancel["requestContext"]["http"]["path"] = path
        cancel["pathParameters"] = {"payment_id": abandoned["payment_id"]}
        status, _, canceled = invoke(invoke_port, "cancel-payment", cancel)
        check(status == 200 and canceled["status"] == "canceled", f"cancel: {status} {canceled}")
        status, _, problem = invoke(invoke_port, "cancel-payment", load_event("cancel-payment.json"))
        check(status == 404 and problem["type"] == "/problems/payment-not-found",
              f"the sample's unknown payment: {status} {problem}")

        # A fourth order's QR is never paid: the sweeper settles it once overdue.
        overdue_event = create_event("ord-1045")
        status, _, overdue = invoke(invoke_port, "create-payment", overdue_event)
        check(status == 201, f"overdue create: {status} {overdue}")
        overdue_since = time.time()

        # The QR code a kiosk shows, as API Gateway hands the PNG back (base64).
        qr_event = load_event("get-payment-qr.json")
        qr_path = f"/payments/{overdue['payment_id']}/qr.png"
        qr_event["rawPath"] = qr_event["requestContext"]["http"]["path"] = qr_path
        qr_event["pathParameters"] = {"payment_id": overdue["payment_id"]}
        qr = run_invoke(invoke_port, "get-payment", qr_event)
        print(f"invoke get-payment (qr.png): {qr['statusCode']}")
        check(qr["statusCode"] == 200 and qr.get("isBase64Encoded") is True,
              f"qr.png: {qr['statusCode']}, base64 {qr.get('isBase64Encoded')}")
        check(qr["headers"].get("content-type") == "image/png", f"qr.png type: {qr['headers']}")
        image = Image.open(io.BytesIO(base64.b64decode(qr["body"])))
        decoded = [result.text for result in zxingcpp.read_barcodes(image)]
        check(decoded == [overdue["qr_data"]], f"qr.png reads as the payment's qr_data: {decoded}")
        status, _, problem = invoke(invoke_port, "get-payment", load_event("get-payment-qr.json"))
        check(status == 404, f"the QR sample's unknown payment: {status} {problem}")

        # A third order's card is declined: Mercado Pago says so, the webhook records it.
        declined_event = create_event("ord-1044")
        status, _, declined = invoke(invoke_port, "create-payment", declined_event)
        check(status == 201, f"third create: {status} {declined}")
        declined_order = declined["provider"]["order_id"]
        mock_pay(mock_url, declined_order, "rejected")
        status, _, outcome = invoke(invoke_port, "payment-webhook",
                                    signed_event(load_event("payment-webhook.json"), SECRET, declined_order))
        check(status == 200 and outcome["outcome"] == "applied", f"decline webhook: {status} {outcome}")

        # Half of the approved payment goes back, then the sample's unknown payment is 404.
        refund = load_event("refund-payment.json")
        path = f"/payments/{payment['payment_id']}/refunds"
        refund["rawPath"] = refund["requestContext"]["http"]["path"] = path
        refund["pathParameters"] = {"payment_id": payment["payment_id"]}
        # Mercado Pago refunds asynchronously: taken (202, pending with its
        # id there), then settled by the read its notification causes.
        status, _, refunded = invoke(invoke_port, "refund-payment", refund)
        check(status == 202 and refunded["refund"]["status"] == "pending"
              and refunded["refund"]["provider_refund_id"]
              and refunded["payment"]["amount_refunded"] == 0, f"refund: {status} {refunded}")
        time.sleep(1.0)  # the mock's refunds settle after 500 ms
        status, _, outcome = invoke(invoke_port, "payment-webhook",
                                    signed_event(load_event("payment-webhook.json"), SECRET, order))
        check(status == 200 and outcome["outcome"] == "applied", f"refund webhook: {status} {outcome}")
        # A replay answers the key's first status (202) with the refund as it is now.
        status, headers, again = invoke(invoke_port, "refund-payment", refund)
        check(status == 202 and again["refund"]["refund_id"] == refunded["refund"]["refund_id"]
              and again["refund"]["status"] == "succeeded"
              and again["payment"]["amount_refunded"] == 1295
              and headers.get("idempotent-replayed") == "true",
              f"the same Idempotency-Key answers the same refund, now settled: {status} {headers} {again}")
        status, _, problem = invoke(invoke_port, "refund-payment", load_event("refund-payment.json"))
        check(status == 404, f"the sample's unknown payment: {status} {problem}")

        # The scheduled functions: nothing is overdue and the outbox is empty.
        relayed = invoke_raw(invoke_port, "event-relay", load_event("event-relay.json"))
        check(relayed == {"published": 0, "pages": 0}, f"relay: {relayed}")
        # A stream batch: the sample's event is published from its image.
        streamed = invoke_raw(invoke_port, "event-relay", load_event("event-relay-stream.json"))
        check(streamed == {"batchItemFailures": []}, f"stream relay: {streamed}")
        # Only the unpaid fourth payment is overdue: it is expired. The ended
        # ones (approved, canceled, declined) get their first look for money
        # that moved without a webhook, change nothing, and are rescheduled.
        time.sleep(max(0.0, 31 - (time.time() - overdue_since)))
        swept = invoke_raw(invoke_port, "payment-sweeper", load_event("payment-sweeper.json"))
        check(swept == {"examined": 4, "changed": 1, "rescheduled": 3, "failed": 0}, f"sweeper: {swept}")
        order_state = json.loads(urllib.request.urlopen(
            urllib.request.Request(f"{mock_url}/v1/orders/{overdue['provider']['order_id']}",
                                   headers={"authorization": "Bearer TEST-smoke-token"}),
            timeout=10).read())
        check(order_state["status"] == "canceled",
              f"the overdue order is canceled at Mercado Pago, so it can no longer be paid: {order_state}")

        fidelity_checks(invoke_port, mock_url)

        # Logs: JSON lines carrying the Lambda request id, and no secret in them.
        # A function writes its EMF document after it has answered: give the
        # last invocation's document a moment to reach the log.
        watch_log.flush()
        deadline = time.time() + 15
        while True:
            with open(watch_log.name) as f:
                log = f.read()
            if '"PaymentExpired"' in log or time.time() > deadline:
                break
            time.sleep(0.2)
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        transitions = [l for l in lines if l.get("fields", {}).get("message") == "payment transitioned"]
        check(len(transitions) == 5,
              f"two approvals, a cancel, a decline and an expiry logged: {len(transitions)}")
        check(transitions[0].get("span", {}).get("requestId"), "log line carries the request id")
        created_lines = [l for l in lines if l.get("fields", {}).get("message") == "payment created"]
        check(created_lines and all(l.get("span", {}).get("x_request_id") for l in created_lines),
              "a create's log lines carry its X-Request-Id")
        check(any(l["span"]["x_request_id"] == sample_request_id for l in created_lines),
              "the sample create's lines carry API Gateway's request id")
        for secret in (SECRET, "TEST-smoke-token", webhook["headers"]["x-signature"].split("v1=")[1]):
            check(secret not in log, "no secret, token or signature in the logs")

        about_payments = [l for l in lines if "payment_id" in l.get("fields", {})]
        check(about_payments and all("order_id" in l["fields"] for l in about_payments),
              f"every line about a payment names its order: "
              f"{[l['fields'] for l in about_payments if 'order_id' not in l['fields']]}")

        # Metrics: one CloudWatch EMF document per invocation, namespace Payments,
        # dimension Function (and Reason for rejected webhooks).
        emf = [doc for doc in lines if "_aws" in doc]

        def value(function, name):
            return sum(doc.get(name, 0) for doc in emf
                       if doc.get("Function") == function and isinstance(doc.get(name), (int, float)))

        def unit(name):
            for doc in emf:
                for directive in doc["_aws"]["CloudWatchMetrics"]:
                    for metric in directive["Metrics"]:
                        if metric["Name"] == name:
                            return metric.get("Unit")
            return None

        check(emf and all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Payments" for d in emf),
              f"EMF documents in namespace Payments: {len(emf)}")
        check(all(["Function"] == d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][:1] for d in emf),
              "every document has the Function dimension")
        check(value("create-payment", "PaymentCreated") == 7, "create-payment: PaymentCreated 7")
        check(value("create-payment", "ColdStart") == 1, "create-payment: one ColdStart")
        check(value("payment-webhook", "PaymentApproved") == 2, "payment-webhook: PaymentApproved 2")
        check(value("payment-webhook", "PaymentDeclined") == 1, "payment-webhook: PaymentDeclined 1")
        check(value("payment-sweeper", "PaymentExpired") == 1, "payment-sweeper: PaymentExpired 1")
        rejected = [d for d in emf if d.get("Function") == "payment-webhook" and "WebhookRejected" in d]
        check(rejected and rejected[0].get("Reason") == "mismatch",
              f"WebhookRejected with Reason mismatch: {rejected}")
        check(value("cancel-payment", "PaymentCanceled") == 1, "cancel-payment: PaymentCanceled 1")
        # Refunds settle on the webhook's read (Mercado Pago refunds asynchronously).
        # The first refund, and the fidelity checks' first (settled by the read after the 429).
        check(value("payment-webhook", "PaymentRefunded") == 2, "payment-webhook: PaymentRefunded 2")
        check(value("create-payment", "EventPublished") == 0, "create-payment publishes nothing")
        check(value("payment-webhook", "EventPublished") == 5,
              "payment-webhook: EventPublished 5 (two approvals, a decline, two refunds)")
        check(value("payment-webhook", "ProviderUnknownStatus") == 1,
              "payment-webhook: ProviderUnknownStatus 1")
        check(value("create-payment", "ProviderMismatch") == 1, "create-payment: ProviderMismatch 1")
        check(unit("ProviderLatency") == "Milliseconds", f"ProviderLatency in ms: {unit('ProviderLatency')}")
        backlog = [d for d in emf if d.get("Function") == "event-relay" and "OutboxBacklog" in d]
        check(backlog and backlog[0]["OutboxBacklog"] == 0 and backlog[0]["OutboxOldestAge"] == 0,
              f"relay: an empty outbox: {backlog}")
        check(unit("OutboxOldestAge") == "Seconds", "OutboxOldestAge in seconds")
        check(unit("PaymentCreated") == "Count", f"counters are counts: {unit('PaymentCreated')}")

        # After the metrics are counted: these create payments of their own.
        access_checks(invoke_port, payment["payment_id"])
        init_checks(env_file.name)
    finally:
        for process in reversed(started):
            try:
                os.killpg(process.pid, signal.SIGTERM) if process.args[1:2] == ["lambda"] else process.terminate()
            except (ProcessLookupError, PermissionError):
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        os.unlink(env_file.name)
    print(check.summary("invoke-smoke"))


if __name__ == "__main__":
    try:
        main()
    except Exception:
        log = os.path.join(tempfile.gettempdir(), "cargo-lambda-watch.log")
        if os.path.exists(log):
            with open(log) as f:
                sys.stderr.write("--- cargo lambda watch log (tail) ---\n" + f.read()[-4000:])
        raise
