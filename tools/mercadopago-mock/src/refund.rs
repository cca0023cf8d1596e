//! Refunds, as MP makes them: through `POST /v1/orders/{id}/refund` or in its
//! dashboard (`POST /mock/orders/{id}/refund`). Both record the same way here.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::api::{mp_error, now_iso};
use crate::state::{Order, Refund};
use crate::validate;

/// What is to be refunded.
#[derive(Debug, Clone)]
pub(crate) enum RefundAsk {
    /// Everything paid and not yet refunded.
    Everything,
    /// This amount of the order's payment (the dashboard's form).
    Amount(Value),
    /// `transactions: [{id, amount}, ...]` of the API body.
    Transactions(Vec<(String, Value)>),
}

/// Why a refund was refused, answered in MP's error shape.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn response(&self) -> Response {
        mp_error(self.status, self.code, &self.message)
    }
}

/// The API body: none, empty, `null` or `{}` is a full refund;
/// `{"transactions": [{"id": "PAY...", "amount": "12.95"}]}` a partial one.
/// Returns the body as compared for idempotency (`{}` for every full form).
pub(crate) fn parse_api_body(body: &[u8]) -> Result<(Value, RefundAsk), Refusal> {
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|_| Refusal::bad("invalid_body", "body is not JSON"))?
    };
    let body = match body {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => body,
        _ => return Err(Refusal::bad("invalid_body", "body must be a JSON object")),
    };
    let Some(transactions) = body.get("transactions") else {
        return Ok((body, RefundAsk::Everything));
    };
    let transactions = transactions
        .as_array()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::bad("invalid_body", "transactions must be a non-empty array"))?;
    let mut parts = Vec::with_capacity(transactions.len());
    for transaction in transactions {
        let id = transaction
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Refusal::bad("required_properties", "transactions.id is required"))?;
        let amount = transaction.get("amount").cloned().ok_or_else(|| {
            Refusal::bad("required_properties", "transactions.amount is required")
        })?;
        parts.push((id.to_owned(), amount));
    }
    Ok((body, RefundAsk::Transactions(parts)))
}

/// A positive amount of `order`'s payment, in its minor units.
fn amount_of(order: &Order, raw: &Value) -> Result<u64, Refusal> {
    let decimals = order.decimals();
    let text = raw
        .as_str()
        .ok_or_else(|| Refusal::bad("invalid_refund_amount", "amount must be a string"))?;
    let minor = validate::minor_units(text, decimals).ok_or_else(|| {
        let form = if decimals == 0 {
            "a whole number, as the order's total_amount"
        } else {
            "a decimal with at most two fraction digits"
        };
        Refusal::bad(
            "invalid_refund_amount",
            format!("amount `{text}` is not a valid amount: {form}"),
        )
    })?;
    if minor == 0 {
        return Err(Refusal::bad(
            "invalid_refund_amount",
            "amount must be greater than zero",
        ));
    }
    Ok(minor)
}

/// Records the refund on `order` (all or nothing) and returns the refunds it
/// made. Only a paid order (`processed`, partial refunds included) inside its
/// refund window can be refunded, by at most what remains.
pub(crate) fn record(order: &mut Order, ask: &RefundAsk) -> Result<Vec<Refund>, Refusal> {
    if order.status != "processed" {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "cannot_refund_order",
            format!("order in status {} cannot be refunded", order.status),
        ));
    }
    if !order.refund_window_open {
        return Err(Refusal::bad(
            "refund_period_expired",
            "the period to refund this order has expired (180 days after payment)",
        ));
    }
    let remaining = order.refundable_minor();
    let amounts: Vec<u64> = match ask {
        RefundAsk::Everything => vec![remaining],
        RefundAsk::Amount(raw) => vec![amount_of(order, raw)?],
        RefundAsk::Transactions(parts) => {
            let mut amounts = Vec::with_capacity(parts.len());
            for (id, raw) in parts {
                if *id != order.payment_id {
                    return Err(Refusal::bad(
                        "invalid_transaction_id",
                        format!("transaction {id} is not a payment of this order"),
                    ));
                }
                amounts.push(amount_of(order, raw)?);
            }
            amounts
        }
    };
    let asked = amounts
        .iter()
        .try_fold(0u64, |sum, a| sum.checked_add(*a))
        .unwrap_or(u64::MAX);
    if remaining == 0 {
        return Err(Refusal::bad(
            "invalid_refund_amount",
            "nothing is left to refund",
        ));
    }
    if asked > remaining {
        return Err(Refusal::bad(
            "invalid_refund_amount",
            format!(
                "refund of {} exceeds the refundable amount {}",
                order.amount(asked),
                order.amount(remaining)
            ),
        ));
    }
    let made: Vec<Refund> = amounts
        .into_iter()
        .map(|amount| Refund {
            id: format!("REF{}", ulid::Ulid::new()),
            amount,
        })
        .collect();
    order.refunds.extend(made.iter().cloned());
    if order.refundable_minor() == 0 {
        order.status = "refunded".into();
        order.status_detail = "refunded".into();
        order.payment_status = "refunded".into();
    } else {
        order.status = "processed".into();
        order.status_detail = "partially_refunded".into();
        order.payment_status = "processed".into();
    }
    order.updated = now_iso();
    order.last_action = Some("order.refunded".into());
    Ok(made)
}
