//! Body checks in the spirit of MP's: required fields, exact decimal amounts,
//! amounts that add up. Errors carry MP's `{errors: [{code, message}]}` shape.

use serde_json::Value;

pub(crate) struct Invalid {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        message: message.into(),
    }
}

/// Cents of a positive decimal with at most two fraction digits ("25.90" -> 2590).
pub(crate) fn cents(raw: &Value, field: &str) -> Result<u64, Invalid> {
    let text = raw
        .as_str()
        .ok_or_else(|| invalid("invalid_amount", format!("{field} must be a string")))?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 12
        || !digits_ok(whole)
        || !digits_ok(fraction)
        || fraction.len() > 2
        || (text.contains('.') && fraction.is_empty())
    {
        return Err(invalid(
            "invalid_amount",
            format!("{field} `{text}` is not a valid amount"),
        ));
    }
    let value = whole.parse::<u64>().unwrap_or(0) * 100
        + format!("{fraction:0<2}").parse::<u64>().unwrap_or(0);
    if value == 0 {
        return Err(invalid(
            "invalid_amount",
            format!("{field} must be greater than zero"),
        ));
    }
    Ok(value)
}

fn non_empty_str<'a>(body: &'a Value, pointer: &str) -> Result<&'a str, Invalid> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(
                "required_properties",
                format!(
                    "{} is required",
                    pointer.trim_start_matches('/').replace('/', ".")
                ),
            )
        })
}

pub(crate) fn create_order(body: &Value) -> Result<(), Invalid> {
    if !body.is_object() {
        return Err(invalid("invalid_body", "body must be a JSON object"));
    }
    if non_empty_str(body, "/type")? != "qr" {
        return Err(invalid("invalid_type", "type must be `qr`"));
    }
    let reference = non_empty_str(body, "/external_reference")?;
    if reference.len() > 64 {
        return Err(invalid(
            "invalid_external_reference",
            "external_reference is too long",
        ));
    }
    let total = cents(&body["total_amount"], "total_amount")?;
    non_empty_str(body, "/config/qr/external_pos_id")?;
    let mode = non_empty_str(body, "/config/qr/mode")?;
    if !matches!(mode, "static" | "dynamic" | "hybrid") {
        return Err(invalid(
            "invalid_mode",
            "config.qr.mode must be static, dynamic or hybrid",
        ));
    }
    let payments = body
        .pointer("/transactions/payments")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("required_properties", "transactions.payments is required"))?;
    let mut paid = 0;
    for payment in payments {
        paid += cents(&payment["amount"], "transactions.payments.amount")?;
    }
    if paid != total {
        return Err(invalid(
            "amount_mismatch",
            "transactions.payments amounts must add up to total_amount",
        ));
    }
    if let Some(items) = body.get("items") {
        let items = items
            .as_array()
            .ok_or_else(|| invalid("invalid_items", "items must be an array"))?;
        let mut sum = 0;
        for item in items {
            non_empty_str(item, "/title")?;
            let quantity = item["quantity"]
                .as_u64()
                .filter(|q| *q >= 1)
                .ok_or_else(|| invalid("invalid_quantity", "items.quantity must be >= 1"))?;
            sum += quantity * cents(&item["unit_price"], "items.unit_price")?;
        }
        if !items.is_empty() && sum != total {
            return Err(invalid(
                "amount_mismatch",
                "items must add up to total_amount",
            ));
        }
    }
    if let Some(expiration) = body.get("expiration_time") {
        let ok = expiration
            .as_str()
            .is_some_and(|e| e.starts_with('P') && e.len() > 1);
        if !ok {
            return Err(invalid(
                "invalid_expiration_time",
                "expiration_time must be an ISO-8601 duration",
            ));
        }
    }
    Ok(())
}
