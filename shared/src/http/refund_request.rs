//! The refund request: its path, its required `Idempotency-Key`, and its
//! optional body `{"amount": 1295, "reason": "cold fries"}`.

use serde::Deserialize;

use crate::app::RefundCommand;
use crate::domain::{CallerId, Money, RefundReason};

use super::body::{body_bytes, parse_json, require_json};
use super::request::{idempotency_key, payment_id_in_path};
use super::{FieldError, RequestError};

/// Both fields optional: no amount is all that remains. Unknown fields are
/// refused: a misspelt `amount` must not turn into a full refund.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    amount: Option<i64>,
    reason: Option<String>,
}

pub(crate) fn parse_refund(
    request: &lambda_http::Request,
    caller: CallerId,
) -> Result<RefundCommand, RequestError> {
    let bytes = body_bytes(request)?;
    let payment_id = payment_id_in_path(request, "/refunds")?;
    let key = idempotency_key(request, &caller)?.ok_or(RequestError::IdempotencyKeyRequired)?;
    // An empty body is a refund of all that remains; any other must be a
    // JSON object (parse_json refuses an array read as the fields in order).
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        RefundBody::default()
    } else {
        require_json(request)?;
        parse_json(bytes, &[])?
    };
    let mut errors = Vec::new();
    if let Some(amount) = body.amount {
        if !(1..=Money::MAX_MINOR).contains(&amount) {
            errors.push(FieldError {
                field: "amount".into(),
                message: format!("must be between 1 and {} minor units", Money::MAX_MINOR),
            });
        }
    }
    let reason = match body.reason.as_deref().map(RefundReason::parse).transpose() {
        Ok(reason) => reason,
        Err(error) => {
            errors.push(FieldError {
                field: "reason".into(),
                message: error.into_message(),
            });
            None
        }
    };
    if !errors.is_empty() {
        return Err(RequestError::Invalid(errors));
    }
    Ok(RefundCommand {
        payment_id,
        amount: body.amount,
        reason,
        key,
        requested_by: caller,
    })
}
