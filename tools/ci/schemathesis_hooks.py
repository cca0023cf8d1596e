"""Schemathesis hooks for `make contract`, so generated requests reach the
code behind the rules a schema cannot state:

- webhook deliveries are signed as Mercado Pago signs them. Only a generated
  `x-signature` that is well-formed by the document is replaced by a real
  signature; a malformed one is sent as generated, so the check that
  schema-violating requests are refused still sees it refused.
- a create body's `amount` is set to the sum of its items, when it was a valid
  amount already (so a body generated to break a rule still breaks it).
- integral floats (`2590.0`) become integers: JSON Schema counts them as
  integers, the service refuses every float where an amount is expected.
- a valid `Idempotency-Key` gets a unique suffix: generated keys repeat across
  unrelated requests, which the service rightly refuses (422) as a key reused.
- a signed `type=order` notification without `data.id` gets one.
- a create body's well-formed `pos_id` becomes one of the local stack's
  points of sale: the document cannot list them (they are the deployment's
  `MP_POS_IDS`), and one it does not have is rightly refused (422). A
  malformed one is sent as generated.
"""
import itertools
import os
import re

import schemathesis
from hypothesis.internal import lambda_sources

from sign_webhook_event import x_signature

# CPython 3.11.7's ast.parse can raise SystemError ("AST constructor recursion
# depth mismatch", fixed in 3.11.8) after a deep recursion elsewhere. Hypothesis
# parses a lambda's source only to describe it, so that error is not the API's:
# the description falls back to what Hypothesis prints for unknown sources.
_describe_lambda = lambda_sources._lambda_description


def _describe_lambda_tolerantly(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _describe_lambda_tolerantly

SECRET = os.environ.get("MP_WEBHOOK_SECRET", "local-webhook-secret")
WELL_FORMED = re.compile(r"^ts=[0-9]+,v1=[0-9a-f]{64}$")


AMOUNT_RANGE = range(1, 100_000_001)
POS_ID = re.compile(r"[A-Za-z0-9]{1,40}")
LOCAL_POS_ID = "LOCALPOS002"
KEY = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")
UNIQUE = itertools.count()


# In before_call, not in the generation hooks: every phase's requests pass here
# (the examples and coverage phases do not run the map_* hooks).
@schemathesis.hook
def before_call(context, case, kwargs):
    unique_idempotency_key(case)
    if case.operation.path in ("/payments", "/payments/{payment_id}/refunds"):
        case.body = integers_for_integral_floats(case.body)
    if case.operation.path == "/payments" and case.method.upper() == "POST":
        amount_as_sum_of_items(case)
        local_point_of_sale(case)
    if case.operation.path == "/webhooks/mercadopago":
        sign_webhook(case)


def amount_as_sum_of_items(case):
    body = case.body
    if not isinstance(body, dict) or type(body.get("amount")) is not int:
        return
    items = body.get("items")
    if body["amount"] not in AMOUNT_RANGE or not isinstance(items, list) or not items:
        return
    prices = [(item.get("quantity"), item.get("unit_price")) for item in items if isinstance(item, dict)]
    if len(prices) != len(items) or not all(type(q) is int and type(p) is int for q, p in prices):
        return
    case.body = {**body, "amount": sum(q * p for q, p in prices)}


def local_point_of_sale(case):
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("pos_id"), str) and POS_ID.fullmatch(body["pos_id"]):
        case.body = {**body, "pos_id": LOCAL_POS_ID}


def unique_idempotency_key(case):
    key = (case.headers or {}).get("Idempotency-Key")
    if not isinstance(key, str) or not KEY.match(key):
        return
    suffix = f"-{os.getpid()}-{next(UNIQUE)}"
    case.headers["Idempotency-Key"] = key[: 255 - len(suffix)].rstrip() + suffix


def sign_webhook(case):
    headers = case.headers if case.headers is not None else {}
    signature = headers.get("x-signature")
    if not isinstance(signature, str) or not WELL_FORMED.match(signature):
        return
    query = case.query if case.query is not None else {}
    # `type=order` needs `data.id` (else 400), a rule the document states in
    # words only.
    if query.get("type") == "order" and not query.get("data.id"):
        query["data.id"] = "ORD01JDX3M8RZ5N6P7Q8R9S0T1V"
        case.query = query
    # The id as received: the service also accepts it signed that way, and
    # Python's lower() is not the ASCII lowercasing Mercado Pago documents.
    headers["x-signature"] = x_signature(
        SECRET, text_or_none(query.get("data.id")), as_received(headers.get("x-request-id")))
    case.headers = headers


def text_or_none(value):
    return value if isinstance(value, str) else None


def as_received(header_value):
    """A header's value as the server reads it: HTTP drops the whitespace
    around a field value (RFC 9110 section 5.5), so Mercado Pago signs the
    value without it (seen by CI: `x-request-id: 06! `)."""
    value = text_or_none(header_value)
    return value.strip(" \t") if value is not None else None


def integers_for_integral_floats(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [integers_for_integral_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: integers_for_integral_floats(item) for key, item in value.items()}
    return value
