"""Schemathesis hooks for `make contract`: sign webhook deliveries as Mercado
Pago does, so generated notifications get past the signature to the code
behind it. Only a generated `x-signature` that is well-formed by the spec is
replaced by a real signature; a malformed one is sent as generated, so the
check that schema-violating requests are refused still sees it refused.
"""
import hashlib
import hmac
import os
import re
import time

import schemathesis
from hypothesis.internal import lambda_sources

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


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/webhooks/mercadopago":
        return
    headers = case.headers if case.headers is not None else {}
    signature = headers.get("x-signature")
    if not isinstance(signature, str) or not WELL_FORMED.match(signature):
        return
    query = case.query or {}
    data_id = query.get("data.id")
    request_id = headers.get("x-request-id")
    manifest = ""
    if isinstance(data_id, str) and data_id:
        manifest += f"id:{data_id.lower()};"
    if isinstance(request_id, str) and request_id:
        manifest += f"request-id:{request_id};"
    ts = str(int(time.time() * 1000))
    manifest += f"ts:{ts};"
    v1 = hmac.new(SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    headers["x-signature"] = f"ts={ts},v1={v1}"
    case.headers = headers
