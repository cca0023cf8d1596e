//! What every handler returns: a complete response, never an error.

/// An HTTP response as lambda_http sends it (and the local stack serves it).
pub type HttpResponse = http::Response<lambda_http::Body>;

pub fn json_response(status: http::StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut response = http::Response::new(lambda_http::Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
