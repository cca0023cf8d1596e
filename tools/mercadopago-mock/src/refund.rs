//! Refunds, as MP makes them: through `POST /v1/orders/{id}/refund` or in its
//! dashboard (`POST /mock/orders/{id}/refund`). Both record the same way here:
//! a refund is taken (`processing`), then settled (`processed`) or failed.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::api::{mp_error_with, now_iso};
use crate::state::{Order, Refund, RefundStatus};
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

impl RefundAsk {
    /// Whether it names amounts (a partial refund) rather than everything.
    fn partial(&self) -> bool {
        !matches!(self, Self::Everything)
    }
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
        mp_error_with(self.status, self.code, &self.message, Vec::new())
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
            .map_err(|_| Refusal::bad("json_syntax_error", "the body is not valid JSON"))?
    };
    let body = match body {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => body,
        _ => {
            return Err(Refusal::bad(
                "property_type",
                "the body must be a JSON object",
            ))
        }
    };
    if let Some(key) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "transactions"))
    {
        return Err(Refusal::bad(
            "unsupported_properties",
            format!("unsupported property: {key}"),
        ));
    }
    let Some(transactions) = body.get("transactions") else {
        return Ok((body, RefundAsk::Everything));
    };
    let transactions = transactions
        .as_array()
        .ok_or_else(|| Refusal::bad("property_type", "transactions must be an array"))?;
    if transactions.is_empty() {
        return Err(Refusal::bad(
            "property_value",
            "transactions must name at least one transaction",
        ));
    }
    let mut parts = Vec::with_capacity(transactions.len());
    for transaction in transactions {
        let entry = transaction
            .as_object()
            .ok_or_else(|| Refusal::bad("property_type", "transactions entries must be objects"))?;
        if let Some(key) = entry
            .keys()
            .find(|k| !matches!(k.as_str(), "id" | "amount"))
        {
            return Err(Refusal::bad(
                "unsupported_properties",
                format!("unsupported property: transactions.{key}"),
            ));
        }
        let id = entry
            .get("id")
            .ok_or_else(|| {
                Refusal::bad("required_properties", "missing property: transactions.id")
            })?
            .as_str()
            .ok_or_else(|| Refusal::bad("property_type", "transactions.id must be a string"))?;
        if id.is_empty() {
            return Err(Refusal::bad(
                "property_value",
                "transactions.id must not be empty",
            ));
        }
        let amount = entry.get("amount").cloned().ok_or_else(|| {
            Refusal::bad(
                "required_properties",
                "missing property: transactions.amount",
            )
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
        .ok_or_else(|| Refusal::bad("property_type", "amount must be a string"))?;
    let minor = validate::minor_units(text, decimals).ok_or_else(|| {
        let form = if decimals == 0 {
            "a whole number, as the order's total_amount"
        } else {
            "a decimal with at most two fraction digits"
        };
        Refusal::bad(
            "property_value",
            format!("amount `{text}` is not a valid amount: {form}"),
        )
    })?;
    if minor == 0 {
        return Err(Refusal::bad(
            "property_value",
            "amount must be greater than zero",
        ));
    }
    Ok(minor)
}

/// Records the refund on `order` (all or nothing) and returns the refunds it
/// made. Only a paid order (`processed`, partial refunds included) inside its
/// refund window, with no refund still processing, can be refunded, by at
/// most what remains.
///
/// `settle_now`: the refunds are `processed` at once and the order's status
/// follows; otherwise they are `processing` and the order's status is left as
/// it is until they settle. `notify`: settling them sends the order's webhook.
pub(crate) fn record(
    order: &mut Order,
    ask: &RefundAsk,
    settle_now: bool,
    notify: bool,
) -> Result<Vec<Refund>, Refusal> {
    if order.status == "refunded" {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "order_already_refunded",
            "the order has already been refunded in full",
        ));
    }
    if order.status != "processed" {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "cannot_refund_order",
            format!("order in status {} cannot be refunded", order.status),
        ));
    }
    if order.refund_processing() {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "refund_in_progress",
            "a refund of this order is still being processed",
        ));
    }
    if !order.refund_window_open {
        // The QR refund-errors page's code for a refund past its window.
        return Err(Refusal::bad(
            "in_store_payment_refund_order",
            "the period to refund this order has expired",
        ));
    }
    if ask.partial() && !order.partial_refunds {
        return Err(Refusal::bad(
            "unsupported_partially_refunds",
            "the order does not support partial refunds",
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
                    return Err(Refusal::new(
                        StatusCode::NOT_FOUND,
                        "transaction_not_found",
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
    if remaining == 0 || asked > remaining {
        return Err(Refusal::bad(
            "refund_amount_exceeds",
            format!(
                "refund of {} exceeds the refundable amount {}",
                order.amount(asked),
                order.amount(remaining)
            ),
        ));
    }
    let status = if settle_now {
        RefundStatus::Processed
    } else {
        RefundStatus::Processing
    };
    let made: Vec<Refund> = amounts
        .into_iter()
        .map(|amount| Refund {
            id: format!("REF{}", ulid::Ulid::new()),
            amount,
            status,
            notify,
        })
        .collect();
    order.refunds.extend(made.iter().cloned());
    order.updated = now_iso();
    if settle_now {
        order.apply_processed_refunds();
        order.last_action = Some("order.refunded".into());
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paid_order(total: &str) -> Order {
        Order {
            id: "ORD01JDX3M8Q4S7V2C9K5T6W1Y0ZB".into(),
            payment_id: "PAY01JDX3M8Q4S7V2C9K5T6W1Y0ZB".into(),
            status: "processed".into(),
            status_detail: "processed".into(),
            payment_status: "processed".into(),
            notification_url: None,
            request: json!({"total_amount": total}),
            qr_data: String::new(),
            created: String::new(),
            updated: String::new(),
            refunds: Vec::new(),
            refund_window_open: true,
            partial_refunds: true,
            last_action: None,
        }
    }

    fn ask(order: &Order, amount: &str) -> RefundAsk {
        RefundAsk::Transactions(vec![(order.payment_id.clone(), json!(amount))])
    }

    #[test]
    fn a_processing_refund_counts_as_taken_and_a_failed_one_does_not() {
        let mut order = paid_order("25.90");
        let twenty = ask(&order, "20.00");
        let made = record(&mut order, &twenty, false, true).unwrap();
        assert_eq!(made[0].status, RefundStatus::Processing);
        assert_eq!(order.refundable_minor(), 590, "20.00 of 25.90 is taken");
        assert_eq!(order.status_detail, "processed", "status waits");
        let refused = record(&mut order, &RefundAsk::Everything, false, true).unwrap_err();
        assert_eq!(refused.code, "refund_in_progress");

        order.refunds[0].status = RefundStatus::Failed;
        assert_eq!(
            order.refundable_minor(),
            2590,
            "a failed refund frees its money"
        );
        let made = record(&mut order, &RefundAsk::Everything, false, true).unwrap();
        assert_eq!(made[0].amount, 2590);
    }

    #[test]
    fn a_refund_settled_at_once_moves_the_order_status() {
        let mut order = paid_order("25.90");
        let five = ask(&order, "5.00");
        record(&mut order, &five, true, false).unwrap();
        assert_eq!(order.refunds[0].status, RefundStatus::Processed);
        assert_eq!(order.status_detail, "partially_refunded");
        record(&mut order, &RefundAsk::Everything, true, false).unwrap();
        assert_eq!(order.status, "refunded");
    }
}
