//! The production Mercado Pago client, pointed at a mock and retrying fast.

use std::time::Duration;

use payments::adapters::mercadopago::{AccessToken, MercadoPagoConfig, RetryPolicy};

/// Three attempts, milliseconds apart: failures show quickly in tests.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    }
}

/// A client configuration for the mock at `base_url`, sending `token`.
pub fn config(base_url: String, token: &str, timeout: Duration) -> MercadoPagoConfig {
    MercadoPagoConfig {
        base_url,
        access_token: AccessToken::new(token),
        notification_url: None,
        expiration_time: "PT15M".into(),
        timeout,
        retry: fast_retries(),
    }
}

/// Posts a control call (`/mock/...`) to the mock at `base_url`; it must succeed.
pub async fn mock_control(base_url: &str, path: &str, body: &serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}
