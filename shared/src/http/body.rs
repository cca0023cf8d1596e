//! Body checks, in the order the API documents them (docs/api.md): size, media
//! type, JSON shape.

use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::RequestError;

/// Bodies above this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn body_bytes(request: &lambda_http::Request) -> Result<&[u8], RequestError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(RequestError::TooLarge(MAX_BODY_BYTES));
    }
    Ok(bytes)
}

/// `application/json` or any `application/*+json`, parameters allowed.
pub(crate) fn require_json(request: &lambda_http::Request) -> Result<(), RequestError> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false);
    if is_json {
        Ok(())
    } else {
        Err(RequestError::UnsupportedMediaType)
    }
}

/// Deserializes a JSON object, naming the offending field on a type error.
/// serde's derive would also take an array for a struct (its elements as the
/// fields, in order); the API's objects are refused in any other shape. The
/// elements of each array field named in `object_lists` must be objects too.
pub(crate) fn parse_json<T: DeserializeOwned>(
    bytes: &[u8],
    object_lists: &[&str],
) -> Result<T, RequestError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| RequestError::Malformed {
        detail: e.to_string(),
        field: None,
    })?;
    let Some(fields) = value.as_object() else {
        return Err(RequestError::Malformed {
            detail: "the body must be a JSON object".into(),
            field: None,
        });
    };
    for list in object_lists {
        if let Some(Value::Array(elements)) = fields.get(*list) {
            if let Some(index) = elements.iter().position(|element| !element.is_object()) {
                return Err(RequestError::Malformed {
                    detail: format!("each element of `{list}` must be a JSON object"),
                    field: Some(format!("{list}[{index}]")),
                });
            }
        }
    }
    // From the bytes again, not the value: a field given twice is refused,
    // where the value would have kept the last.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let detail = error.inner().to_string();
        let path = error.path().to_string();
        // serde reports a field given twice at the object holding it.
        let field = match duplicated_field(&detail) {
            Some(name) if path == "." => Some(name.to_owned()),
            Some(name) => Some(format!("{path}.{name}")),
            None => (path != ".").then_some(path),
        };
        let detail = match &field {
            Some(field) => money_hint(field, detail),
            None => detail,
        };
        RequestError::Malformed { detail, field }
    })?;
    deserializer.end().map_err(|e| RequestError::Malformed {
        detail: e.to_string(),
        field: None,
    })?;
    Ok(value)
}

/// Money is integer minor units. A decimal there is the commonest mistake,
/// and serde's "expected i64" does not say what to send instead.
fn money_hint(field: &str, detail: String) -> String {
    let money = field.ends_with("amount") || field.ends_with("unit_price");
    if money && detail.contains("floating point") {
        format!("{field} is an integer number of minor units (centavos): 1295 for R$ 12,95")
    } else {
        detail
    }
}

/// The name in serde's "duplicate field `name`" message.
fn duplicated_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name)
}
