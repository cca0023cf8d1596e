//! Body checks, in the order the API documents them (docs/api.md): size, media
//! type, JSON shape.

use http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

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

/// Deserializes, naming the offending field on a type error.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        RequestError::Malformed {
            detail: error.inner().to_string(),
            field: (path != ".").then_some(path),
        }
    })?;
    deserializer.end().map_err(|e| RequestError::Malformed {
        detail: e.to_string(),
        field: None,
    })?;
    Ok(value)
}
