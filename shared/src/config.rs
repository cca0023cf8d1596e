//! Configuration from the environment (docs/configuration.md), parsed once at
//! cold start. A missing or invalid variable fails init with a message naming it.

use std::time::Duration;

use thiserror::Error;

use crate::adapters::mercadopago::{
    AccessToken, MercadoPagoConfig, RetryPolicy, SignaturePolicy, WebhookSecret,
};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid environment variable {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Where variables come from: the process environment, or a map in tests.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.is_empty())
    }
}

fn required(env: &dyn Env, name: &'static str) -> Result<String, ConfigError> {
    env.get(name).ok_or(ConfigError::Missing(name))
}

/// Mercado Pago client settings and the payment expiry it is told about.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub mercadopago: MercadoPagoConfig,
    pub payment_expiry: Duration,
}

impl ProviderSettings {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.mercadopago.com";

    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let base_url = env
            .get("MP_API_BASE_URL")
            .unwrap_or_else(|| Self::DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "MP_API_BASE_URL",
                message: "must be an http(s) URL".into(),
            });
        }
        let expiry_text = env
            .get("PAYMENT_EXPIRY")
            .unwrap_or_else(|| "PT15M".to_owned());
        let payment_expiry =
            parse_iso8601_duration(&expiry_text).ok_or_else(|| ConfigError::Invalid {
                name: "PAYMENT_EXPIRY",
                message: "must be an ISO-8601 duration such as PT15M".into(),
            })?;
        let timeout_ms = match env.get("MP_TIMEOUT_MS") {
            None => 5000,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=60_000).contains(ms))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "MP_TIMEOUT_MS",
                    message: "must be milliseconds between 1 and 60000".into(),
                })?,
        };
        Ok(Self {
            mercadopago: MercadoPagoConfig {
                base_url,
                access_token: AccessToken::new(required(env, "MP_ACCESS_TOKEN")?),
                external_pos_id: required(env, "MP_EXTERNAL_POS_ID")?,
                notification_url: env.get("MP_NOTIFICATION_URL"),
                expiration_time: expiry_text,
                timeout: Duration::from_millis(timeout_ms),
                retry: RetryPolicy::default(),
            },
            payment_expiry,
        })
    }
}

/// `MP_WEBHOOK_SIGNATURE` (`required` by default, or `unsigned`) and the secret.
pub fn signature_policy_from_env(env: &dyn Env) -> Result<SignaturePolicy, ConfigError> {
    match env.get("MP_WEBHOOK_SIGNATURE").as_deref() {
        None | Some("required") => {
            let secret = required(env, "MP_WEBHOOK_SECRET")?;
            WebhookSecret::new(secret)
                .map(SignaturePolicy::Required)
                .ok_or(ConfigError::Missing("MP_WEBHOOK_SECRET"))
        }
        Some("unsigned") => {
            tracing::warn!("MP_WEBHOOK_SIGNATURE=unsigned: webhook signatures are NOT checked");
            Ok(SignaturePolicy::Unsigned)
        }
        Some(_) => Err(ConfigError::Invalid {
            name: "MP_WEBHOOK_SIGNATURE",
            message: "must be `required` or `unsigned`".into(),
        }),
    }
}

/// `PAYMENTS_TABLE`: the DynamoDB table every function reads or writes.
pub fn table_from_env(env: &dyn Env) -> Result<String, ConfigError> {
    required(env, "PAYMENTS_TABLE")
}

/// `PAYMENTS_TOPIC_ARN`: where payment events are published.
pub fn topic_from_env(env: &dyn Env) -> Result<String, ConfigError> {
    let arn = required(env, "PAYMENTS_TOPIC_ARN")?;
    if arn.starts_with("arn:") {
        Ok(arn)
    } else {
        Err(ConfigError::Invalid {
            name: "PAYMENTS_TOPIC_ARN",
            message: "must be an SNS topic ARN".into(),
        })
    }
}

/// The subset of ISO-8601 durations an expiry needs: `P[nD][T[nH][nM][nS]]`.
pub fn parse_iso8601_duration(raw: &str) -> Option<Duration> {
    let rest = raw.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds: u64 = 0;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        let mut last_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let position = units.iter().position(|(u, _)| *u == c)?;
            if number.is_empty() || position < last_unit {
                return None;
            }
            last_unit = position + 1;
            let value: u64 = number.parse().ok()?;
            seconds = seconds.checked_add(value.checked_mul(units[position].1)?)?;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    add(date, &[('D', 86_400)])?;
    if let Some(time) = time {
        add(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    (any && seconds > 0).then(|| Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn parses_expiry_durations() {
        assert_eq!(
            parse_iso8601_duration("PT15M"),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            parse_iso8601_duration("PT1H30M"),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            parse_iso8601_duration("P1DT1S"),
            Some(Duration::from_secs(86_401))
        );
        for bad in [
            "", "P", "PT", "15M", "PT15", "PTM", "PT0S", "PT15M1H", "PT1.5M", "P1H",
        ] {
            assert_eq!(parse_iso8601_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn provider_settings_name_the_missing_or_invalid_variable() {
        let err = ProviderSettings::from_env(&env(&[("MP_EXTERNAL_POS_ID", "POS1")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("MP_ACCESS_TOKEN"));
        let err = ProviderSettings::from_env(&env(&[
            ("MP_ACCESS_TOKEN", "t"),
            ("MP_EXTERNAL_POS_ID", "POS1"),
            ("MP_TIMEOUT_MS", "fast"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "MP_TIMEOUT_MS",
                ..
            }
        ));
        let ok = ProviderSettings::from_env(&env(&[
            ("MP_ACCESS_TOKEN", "t"),
            ("MP_EXTERNAL_POS_ID", "POS1"),
        ]))
        .unwrap();
        assert_eq!(ok.payment_expiry, Duration::from_secs(900));
        assert_eq!(ok.mercadopago.base_url, ProviderSettings::DEFAULT_BASE_URL);
        assert_eq!(ok.mercadopago.timeout, Duration::from_millis(5000));
    }

    #[test]
    fn table_and_topic_are_required() {
        assert_eq!(
            table_from_env(&env(&[])),
            Err(ConfigError::Missing("PAYMENTS_TABLE"))
        );
        assert_eq!(
            table_from_env(&env(&[("PAYMENTS_TABLE", "t")])),
            Ok("t".to_owned())
        );
        assert_eq!(
            topic_from_env(&env(&[])),
            Err(ConfigError::Missing("PAYMENTS_TOPIC_ARN"))
        );
        assert!(matches!(
            topic_from_env(&env(&[("PAYMENTS_TOPIC_ARN", "payments")])),
            Err(ConfigError::Invalid {
                name: "PAYMENTS_TOPIC_ARN",
                ..
            })
        ));
    }

    #[test]
    fn signature_policy_requires_a_secret_unless_unsigned() {
        assert_eq!(
            signature_policy_from_env(&env(&[])).unwrap_err(),
            ConfigError::Missing("MP_WEBHOOK_SECRET")
        );
        assert!(matches!(
            signature_policy_from_env(&env(&[("MP_WEBHOOK_SECRET", "s")])),
            Ok(SignaturePolicy::Required(_))
        ));
        assert!(matches!(
            signature_policy_from_env(&env(&[("MP_WEBHOOK_SIGNATURE", "unsigned")])),
            Ok(SignaturePolicy::Unsigned)
        ));
        assert!(signature_policy_from_env(&env(&[("MP_WEBHOOK_SIGNATURE", "off")])).is_err());
    }
}
