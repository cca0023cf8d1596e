//! Body checks in the spirit of MP's: required fields, exact decimal amounts,
//! amounts that add up, no property MP does not know. Errors carry MP's codes
//! (`required_properties`, `property_type`, `property_value`,
//! `unsupported_properties`, `invalid_total_amount`) in its
//! `{errors: [{code, message, details}]}` shape.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::api::mp_error_with;

pub(crate) struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    /// 400 in MP's shape; the message is repeated as the one detail.
    pub fn response(&self) -> Response {
        let summary = match self.code {
            "required_properties" => "Missing properties",
            "property_type" => "Invalid property type",
            "property_value" => "Invalid property value",
            "unsupported_properties" => "Unsupported properties",
            "invalid_total_amount" => "Invalid total amount",
            _ => "Invalid request",
        };
        mp_error_with(
            StatusCode::BAD_REQUEST,
            self.code,
            summary,
            vec![self.message.clone()],
        )
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        message: message.into(),
    }
}

fn missing(path: &str) -> Invalid {
    invalid("required_properties", format!("missing property: {path}"))
}

fn wrong_type(path: &str, expected: &str) -> Invalid {
    invalid("property_type", format!("{path} must be {expected}"))
}

fn bad_value(path: &str, why: impl std::fmt::Display) -> Invalid {
    invalid("property_value", format!("{path}: {why}"))
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

/// Cents of a positive decimal string with at most two fraction digits
/// ("25.90" -> 2590): absent, `required_properties`; not a string,
/// `property_type`; malformed or zero, `property_value`.
pub(crate) fn cents(raw: Option<&Value>, path: &str) -> Result<u64, Invalid> {
    let raw = raw.ok_or_else(|| missing(path))?;
    let text = raw.as_str().ok_or_else(|| wrong_type(path, "a string"))?;
    let value = minor_units(text, 2).ok_or_else(|| {
        bad_value(
            path,
            format!("`{text}` is not a decimal with at most two fraction digits"),
        )
    })?;
    if value == 0 {
        return Err(bad_value(path, "must be greater than zero"));
    }
    Ok(value)
}

/// `unsupported_properties` for any key of `object` not in `known`.
fn only(
    object: &serde_json::Map<String, Value>,
    path: &str,
    known: &[&str],
) -> Result<(), Invalid> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => {
            let name = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            Err(invalid(
                "unsupported_properties",
                format!("unsupported property: {name}"),
            ))
        }
        None => Ok(()),
    }
}

fn object<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<&'a serde_json::Map<String, Value>, Invalid> {
    value
        .ok_or_else(|| missing(path))?
        .as_object()
        .ok_or_else(|| wrong_type(path, "an object"))
}

fn string<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a str, Invalid> {
    let text = value
        .ok_or_else(|| missing(path))?
        .as_str()
        .ok_or_else(|| wrong_type(path, "a string"))?;
    if text.is_empty() {
        return Err(bad_value(path, "must not be empty"));
    }
    Ok(text)
}

fn optional_string<'a>(
    body: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, Invalid> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_str()
            .map(Some)
            .ok_or_else(|| wrong_type(key, "a string")),
    }
}

/// Properties of a QR order's create body (MP's reference for
/// `POST /v1/orders`, QR; `notification_url` is what the mock notifies).
const ORDER_PROPERTIES: &[&str] = &[
    "type",
    "external_reference",
    "total_amount",
    "description",
    "expiration_time",
    "processing_mode",
    "marketplace_fee",
    "config",
    "transactions",
    "items",
    "integration_data",
    "taxes",
    "discounts",
    "notification_url",
];
const ITEM_PROPERTIES: &[&str] = &[
    "title",
    "unit_price",
    "quantity",
    "unit_measure",
    "external_code",
    "external_categories",
    "description",
    "picture_url",
];

pub(crate) fn create_order(body: &Value) -> Result<(), Invalid> {
    let body = body
        .as_object()
        .ok_or_else(|| invalid("property_type", "the body must be a JSON object"))?;
    only(body, "", ORDER_PROPERTIES)?;
    if string(body.get("type"), "type")? != "qr" {
        return Err(bad_value("type", "the only type is `qr`"));
    }
    let reference = string(body.get("external_reference"), "external_reference")?;
    if reference.len() > 64
        || !reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad_value(
            "external_reference",
            "at most 64 characters of letters, digits, - and _",
        ));
    }
    let total = cents(body.get("total_amount"), "total_amount")?;
    if let Some(description) = optional_string(body, "description")? {
        if description.chars().count() > 150 {
            return Err(bad_value("description", "at most 150 characters"));
        }
    }
    if let Some(mode) = optional_string(body, "processing_mode")? {
        if mode != "automatic" {
            return Err(bad_value("processing_mode", "the only mode is `automatic`"));
        }
    }
    let config = object(body.get("config"), "config")?;
    only(config, "config", &["qr"])?;
    let qr = object(config.get("qr"), "config.qr")?;
    only(qr, "config.qr", &["external_pos_id", "mode"])?;
    string(qr.get("external_pos_id"), "config.qr.external_pos_id")?;
    let mode = string(qr.get("mode"), "config.qr.mode")?;
    if !matches!(mode, "static" | "dynamic" | "hybrid") {
        return Err(bad_value(
            "config.qr.mode",
            "one of static, dynamic, hybrid",
        ));
    }
    let transactions = object(body.get("transactions"), "transactions")?;
    only(transactions, "transactions", &["payments"])?;
    let payments = transactions
        .get("payments")
        .ok_or_else(|| missing("transactions.payments"))?
        .as_array()
        .ok_or_else(|| wrong_type("transactions.payments", "an array"))?;
    if payments.is_empty() {
        return Err(bad_value("transactions.payments", "at least one payment"));
    }
    let mut paid = 0u64;
    for payment in payments {
        let payment = payment
            .as_object()
            .ok_or_else(|| wrong_type("transactions.payments[]", "an object"))?;
        only(payment, "transactions.payments[]", &["amount"])?;
        paid = paid.saturating_add(cents(
            payment.get("amount"),
            "transactions.payments.amount",
        )?);
    }
    if paid != total {
        return Err(invalid(
            "invalid_total_amount",
            "total_amount is not the sum of transactions.payments.amount",
        ));
    }
    if let Some(items) = body.get("items") {
        let items = items
            .as_array()
            .ok_or_else(|| wrong_type("items", "an array"))?;
        let mut sum = 0u64;
        for item in items {
            let item = item
                .as_object()
                .ok_or_else(|| wrong_type("items[]", "an object"))?;
            only(item, "items[]", ITEM_PROPERTIES)?;
            string(item.get("title"), "items.title")?;
            let quantity = item
                .get("quantity")
                .ok_or_else(|| missing("items.quantity"))?;
            if !(quantity.is_u64() || quantity.is_i64()) {
                return Err(wrong_type("items.quantity", "an integer"));
            }
            // An integer below 1 (negative ones included) is a bad value.
            let quantity = quantity
                .as_u64()
                .filter(|q| *q >= 1)
                .ok_or_else(|| bad_value("items.quantity", "at least 1"))?;
            let price = cents(item.get("unit_price"), "items.unit_price")?;
            sum = sum.saturating_add(quantity.saturating_mul(price));
        }
        if !items.is_empty() && sum != total {
            return Err(invalid(
                "invalid_total_amount",
                "total_amount is not the sum of items unit_price x quantity",
            ));
        }
    }
    if let Some(expiration) = optional_string(body, "expiration_time")? {
        // QR create: an ISO-8601 duration from 30 seconds to 3600 hours.
        let in_range = duration_seconds(expiration)
            .is_some_and(|seconds| (30..=3600 * 3600).contains(&seconds));
        if !in_range {
            return Err(bad_value(
                "expiration_time",
                "an ISO-8601 duration from PT30S to PT3600H",
            ));
        }
    }
    if let Some(url) = optional_string(body, "notification_url")? {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad_value("notification_url", "an http(s) URL"));
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

/// Seconds of an ISO-8601 duration `P[nD][T[nH][nM][nS]]`; None for any
/// other form.
pub(crate) fn duration_seconds(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, time),
        Some(_) => return None,
        None => (rest, ""),
    };
    let mut seconds: u64 = 0;
    let mut parts = 0;
    for (part, units) in [
        (days, &[('D', 86_400)][..]),
        (time, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units[next_unit..].iter().position(|(unit, _)| *unit == c)?;
            let (_, scale) = units[next_unit + position];
            next_unit += position + 1;
            let value: u64 = number.parse().ok()?;
            seconds = seconds.checked_add(value.checked_mul(scale)?)?;
            number.clear();
            parts += 1;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (parts > 0).then_some(seconds)
}

#[cfg(test)]
mod duration_tests {
    use super::duration_seconds;

    #[test]
    fn iso_durations_read_as_mercado_pago_takes_them() {
        assert_eq!(duration_seconds("PT15M"), Some(900));
        assert_eq!(duration_seconds("PT30S"), Some(30));
        assert_eq!(duration_seconds("P1DT2H"), Some(93_600));
        for bad in ["P", "PT", "15M", "PT15", "PT1M2H", "P1H", "PTXM"] {
            assert_eq!(duration_seconds(bad), None, "{bad}");
        }
    }
}
