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

/// Minor units of a decimal string with at most `decimals` fraction digits
/// ("25.90", 2 -> 2590; "1500", 0 -> 1500), or None when it is not one. Zero is
/// returned as Some(0): callers decide whether it is allowed. Never via floats.
pub(crate) fn minor_units(text: &str, decimals: u32) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 12
        || !digits_ok(whole)
        || !digits_ok(fraction)
        || fraction.len() > decimals as usize
        || (text.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let scale = 10u64.checked_pow(decimals)?;
    let fraction = if fraction.is_empty() {
        0
    } else {
        // Right-pad to `decimals` digits: "9" of "25.9" is 90 cents.
        let padded = format!("{fraction:0<width$}", width = decimals as usize);
        padded.parse::<u64>().ok()?
    };
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(scale)?
        .checked_add(fraction)
}

/// `minor` units written back as an exact decimal string with `decimals`
/// fraction digits (2590, 2 -> "25.90"; 1500, 0 -> "1500").
pub(crate) fn format_minor(minor: u64, decimals: u32) -> String {
    match 10u64.checked_pow(decimals) {
        Some(scale) if decimals > 0 => format!(
            "{}.{:0width$}",
            minor / scale,
            minor % scale,
            width = decimals as usize
        ),
        _ => minor.to_string(),
    }
}

/// Cents of a positive decimal with at most two fraction digits ("25.90" -> 2590).
pub(crate) fn cents(raw: &Value, field: &str) -> Result<u64, Invalid> {
    let text = raw
        .as_str()
        .ok_or_else(|| invalid("invalid_amount", format!("{field} must be a string")))?;
    let value = minor_units(text, 2).ok_or_else(|| {
        invalid(
            "invalid_amount",
            format!("{field} `{text}` is not a valid amount"),
        )
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals_into_minor_units() {
        assert_eq!(minor_units("25.90", 2), Some(2590));
        assert_eq!(minor_units("25.9", 2), Some(2590));
        assert_eq!(minor_units("25", 2), Some(2500));
        assert_eq!(minor_units("0.00", 2), Some(0));
        assert_eq!(minor_units("1500", 0), Some(1500));
        for bad in [
            "", ".5", "25.", "25.901", "-1", "+1", "1e3", "25.9O", " 1", "1,00",
        ] {
            assert_eq!(minor_units(bad, 2), None, "{bad:?}");
        }
        assert_eq!(minor_units("1500.00", 0), None);
        assert_eq!(minor_units("1500.5", 0), None);
        assert_eq!(minor_units("1234567890123", 2), None);
    }

    #[test]
    fn formats_minor_units_exactly() {
        assert_eq!(format_minor(2590, 2), "25.90");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(0, 2), "0.00");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(0, 0), "0");
    }
}
