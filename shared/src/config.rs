//! Configuration from the environment (docs/configuration.md), parsed once at
//! cold start. A missing or invalid variable fails init with a message naming it.

use std::time::Duration;

use thiserror::Error;

use crate::adapters::dynamodb::IndexShards;
use crate::adapters::mercadopago::{AccessToken, MercadoPagoConfig, RetryPolicy, WebhookSecret};
use crate::adapters::secrets::Secret;
use crate::domain::{AllowedCallers, PosId};

/// The allowlist `MP_POS_IDS` is parsed into. The type is the domain's (the
/// create use case holds it, and use cases never depend on configuration);
/// reading it from the environment is this module's.
pub use crate::domain::PointsOfSale;

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

/// Where a secret comes from: the name of an SSM SecureString parameter
/// (`*_PARAMETER`, which wins: in AWS no function's environment holds a
/// secret), or its value in the environment (the local stack and tests).
#[derive(Debug, Clone)]
pub enum SecretSetting {
    Parameter(String),
    Value(Secret),
}

fn secret_setting(
    env: &dyn Env,
    value: &'static str,
    parameter: &'static str,
) -> Result<SecretSetting, ConfigError> {
    match env.get(parameter) {
        Some(name) if name.starts_with('/') => Ok(SecretSetting::Parameter(name)),
        Some(_) => Err(ConfigError::Invalid {
            name: parameter,
            message: "must be an SSM parameter name starting with /".into(),
        }),
        None => required(env, value).map(|v| SecretSetting::Value(Secret::fixed(v))),
    }
}

/// Mercado Pago client settings and the payment expiry it is told about.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub access_token: SecretSetting,
    pub base_url: String,
    /// Where QR orders may be created (`MP_POS_IDS`), the default first.
    pub points_of_sale: PointsOfSale,
    pub notification_url: Option<String>,
    /// ISO-8601 duration sent as `expiration_time`.
    pub expiration_time: String,
    pub timeout: Duration,
    pub payment_expiry: Duration,
}

impl ProviderSettings {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.mercadopago.com";

    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let base_url = env
            .get("MP_API_BASE_URL")
            .unwrap_or_else(|| Self::DEFAULT_BASE_URL.to_owned());
        // The access token rides on every call: plain http only to a
        // loopback stand-in (tests, the local stack), never over a network.
        if !is_safe_base_url(&base_url) {
            return Err(ConfigError::Invalid {
                name: "MP_API_BASE_URL",
                message: "must be an https:// URL (http:// only to 127.0.0.1, [::1] or localhost)"
                    .into(),
            });
        }
        let expiry_text = env
            .get("PAYMENT_EXPIRY")
            .unwrap_or_else(|| "PT15M".to_owned());
        let payment_expiry =
            parse_payment_expiry(&expiry_text).map_err(|message| ConfigError::Invalid {
                name: "PAYMENT_EXPIRY",
                message,
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
            access_token: secret_setting(env, "MP_ACCESS_TOKEN", "MP_ACCESS_TOKEN_PARAMETER")?,
            base_url,
            points_of_sale: points_of_sale_from_env(env)?,
            notification_url: env.get("MP_NOTIFICATION_URL"),
            expiration_time: expiry_text,
            timeout: Duration::from_millis(timeout_ms),
            payment_expiry,
        })
    }

    /// The client's configuration, with the access token once resolved.
    pub fn client_config(&self, access_token: AccessToken) -> MercadoPagoConfig {
        MercadoPagoConfig {
            base_url: self.base_url.clone(),
            access_token,
            notification_url: self.notification_url.clone(),
            expiration_time: self.expiration_time.clone(),
            timeout: self.timeout,
            retry: RetryPolicy::default(),
        }
    }
}

/// `MP_POS_IDS`: the Mercado Pago points of sale (`external_pos_id`s) payments
/// may be created at, comma-separated, the first the default; each 1 to 40
/// ASCII letters or digits, none twice. Without it, `MP_EXTERNAL_POS_ID` (one
/// point of sale, as deployments had before) is a list of one; with both,
/// `MP_POS_IDS` wins. One of them is required.
pub fn points_of_sale_from_env(env: &dyn Env) -> Result<PointsOfSale, ConfigError> {
    match (env.get("MP_POS_IDS"), env.get("MP_EXTERNAL_POS_ID")) {
        (Some(list), older) => {
            let points_of_sale =
                parse_points_of_sale(&list).map_err(|message| ConfigError::Invalid {
                    name: "MP_POS_IDS",
                    message,
                })?;
            if older.is_some() {
                tracing::warn!(
                    "MP_POS_IDS and MP_EXTERNAL_POS_ID are both set; MP_EXTERNAL_POS_ID is ignored"
                );
            }
            Ok(points_of_sale)
        }
        (None, Some(one)) => PosId::parse(&one)
            .and_then(|id| PointsOfSale::new(vec![id]))
            .map_err(|error| ConfigError::Invalid {
                name: "MP_EXTERNAL_POS_ID",
                message: error.into_message(),
            }),
        (None, None) => Err(ConfigError::Missing("MP_POS_IDS")),
    }
}

/// A comma-separated list of points of sale, as `MP_POS_IDS` holds it
/// (`KIOSK01,KIOSK02`): nothing around the commas, no empty entry, no repeat.
pub fn parse_points_of_sale(raw: &str) -> Result<PointsOfSale, String> {
    let ids = raw
        .split(',')
        .enumerate()
        .map(|(at, entry)| {
            PosId::parse(entry).map_err(|error| {
                format!(
                    "entry {} (`{}`) {}",
                    at + 1,
                    entry.escape_debug(),
                    error.into_message()
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    PointsOfSale::new(ids).map_err(crate::domain::DomainError::into_message)
}

/// `ALLOWED_CALLERS`: the IAM roles a route admits, comma-separated; unset
/// or empty admits every caller the API authenticated. An entry that is not
/// a role ARN fails init: a typo must not silently open or close the route.
pub fn allowed_callers_from_env(env: &dyn Env) -> Result<AllowedCallers, ConfigError> {
    let callers = AllowedCallers::parse(&env.get("ALLOWED_CALLERS").unwrap_or_default()).map_err(
        |error| ConfigError::Invalid {
            name: "ALLOWED_CALLERS",
            message: error.into_message(),
        },
    )?;
    if callers.is_anyone() {
        tracing::info!("ALLOWED_CALLERS is empty: every authenticated caller is admitted");
    }
    Ok(callers)
}

/// Whether webhooks must be signed, and with which secret.
#[derive(Debug, Clone)]
pub enum SignatureSetting {
    Required(SecretSetting),
    Unsigned,
}

/// `MP_WEBHOOK_SIGNATURE` (`required` by default, or `unsigned`) and the
/// secret (`MP_WEBHOOK_SECRET_PARAMETER`, or `MP_WEBHOOK_SECRET`).
pub fn signature_policy_from_env(env: &dyn Env) -> Result<SignatureSetting, ConfigError> {
    match env.get("MP_WEBHOOK_SIGNATURE").as_deref() {
        None | Some("required") => {
            let setting = secret_setting(env, "MP_WEBHOOK_SECRET", "MP_WEBHOOK_SECRET_PARAMETER")?;
            if let SecretSetting::Value(_) = &setting {
                // A value of only commas or spaces is no secret.
                let raw = env.get("MP_WEBHOOK_SECRET").unwrap_or_default();
                WebhookSecret::new(raw).ok_or(ConfigError::Missing("MP_WEBHOOK_SECRET"))?;
            }
            Ok(SignatureSetting::Required(setting))
        }
        Some("unsigned") => {
            tracing::warn!("MP_WEBHOOK_SIGNATURE=unsigned: webhook signatures are NOT checked");
            Ok(SignatureSetting::Unsigned)
        }
        Some(_) => Err(ConfigError::Invalid {
            name: "MP_WEBHOOK_SIGNATURE",
            message: "must be `required` or `unsigned`".into(),
        }),
    }
}

/// The DynamoDB table every function reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    /// `PAYMENTS_TABLE`
    pub name: String,
    /// `INDEX_SHARDS` (1..=64, default 8): hash values of the sparse indexes.
    pub index_shards: IndexShards,
    /// `PREWARM_CONNECTION` (`true` or `false`, default `true`): open the
    /// DynamoDB connection at init, so the first request pays no handshake.
    pub prewarm: bool,
}

pub fn table_from_env(env: &dyn Env) -> Result<TableSettings, ConfigError> {
    let name = required(env, "PAYMENTS_TABLE")?;
    let index_shards = match env.get("INDEX_SHARDS") {
        None => IndexShards::default(),
        Some(raw) => raw
            .parse::<u16>()
            .ok()
            .and_then(IndexShards::new)
            .ok_or_else(|| ConfigError::Invalid {
                name: "INDEX_SHARDS",
                message: format!("must be a whole number from 1 to {}", IndexShards::MAX),
            })?,
    };
    let prewarm = match env.get("PREWARM_CONNECTION").as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ConfigError::Invalid {
                name: "PREWARM_CONNECTION",
                message: "must be true or false".into(),
            })
        }
    };
    Ok(TableSettings {
        name,
        index_shards,
        prewarm,
    })
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

/// The longest payment expiry: 60 days. Mercado Pago takes up to 3600 hours
/// but reads an order only in its first three months, and a payment is
/// settled by reading its order (webhook, sweeper): a QR paid later could
/// never be recorded.
pub const LONGEST_PAYMENT_EXPIRY: Duration = Duration::from_secs(1440 * 3600);

/// A payment expiry: an ISO-8601 duration Mercado Pago takes as an
/// `expiration_time`, from 30 seconds (Mercado Pago's least; every create
/// would be refused below it) to 60 days. The Lambdas and the local stack
/// share it.
pub fn parse_payment_expiry(raw: &str) -> Result<Duration, String> {
    parse_iso8601_duration(raw)
        .filter(|expiry| (Duration::from_secs(30)..=LONGEST_PAYMENT_EXPIRY).contains(expiry))
        .ok_or_else(|| {
            "must be an ISO-8601 duration from PT30S to PT1440H (60 days: Mercado Pago reads an \
             order only in its first three months), such as PT15M"
                .to_owned()
        })
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

/// `https://` to any host, or `http://` to a loopback one, parsed as the
/// client will parse it: no user or password (`http://127.0.0.1@evil` is a
/// request to `evil`), no query or fragment.
fn is_safe_base_url(raw: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(raw) else {
        return false;
    };
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return false;
    }
    match (url.scheme(), url.host_str()) {
        ("https", Some(_)) => true,
        ("http", Some(host)) => matches!(host, "127.0.0.1" | "[::1]" | "localhost"),
        _ => false,
    }
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
    fn mercado_pago_is_reached_over_https_unless_it_is_a_loopback_stand_in() {
        let with_base = |base: &str| {
            ProviderSettings::from_env(&env(&[
                ("MP_ACCESS_TOKEN", "TEST-token"),
                ("MP_EXTERNAL_POS_ID", "POS1"),
                ("MP_API_BASE_URL", base),
            ]))
        };
        for accepted in [
            "https://api.mercadopago.com",
            "http://127.0.0.1:3001",
            "http://localhost:3001",
            "http://[::1]:3001/",
        ] {
            assert!(with_base(accepted).is_ok(), "{accepted}");
        }
        for refused in [
            "http://api.example.com",
            "http://127.0.0.1.example.com",
            "http://localhost.evil.test:80",
            "http://127.0.0.1:1@evil.example",
            "http://[::1]@evil.example",
            "http://localhost@evil.example/",
            "https://user:pass@api.mercadopago.com",
            "http://127.0.0.1:3001/?next=evil",
            "ftp://api.mercadopago.com",
        ] {
            assert!(
                matches!(
                    with_base(refused),
                    Err(ConfigError::Invalid {
                        name: "MP_API_BASE_URL",
                        ..
                    })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_payment_expiry_mercado_pago_would_refuse_fails_init() {
        let with_expiry = |expiry: &str| {
            ProviderSettings::from_env(&env(&[
                ("MP_ACCESS_TOKEN", "TEST-token"),
                ("MP_EXTERNAL_POS_ID", "POS1"),
                ("PAYMENT_EXPIRY", expiry),
            ]))
        };
        assert!(with_expiry("PT30S").is_ok());
        assert!(with_expiry("PT1440H").is_ok());
        assert!(with_expiry("P60D").is_ok());
        // Mercado Pago would take these, but could no longer serve the
        // order's reads before they expire.
        for refused in ["PT29S", "PT1440H1S", "P61D", "PT3600H", "P151D"] {
            assert!(
                matches!(
                    with_expiry(refused),
                    Err(ConfigError::Invalid {
                        name: "PAYMENT_EXPIRY",
                        ..
                    })
                ),
                "{refused}"
            );
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
        assert_eq!(ok.base_url, ProviderSettings::DEFAULT_BASE_URL);
        assert_eq!(ok.timeout, Duration::from_millis(5000));
        assert!(matches!(ok.access_token, SecretSetting::Value(_)));
        // The parameter wins over a value, and must look like one.
        let from_ssm = ProviderSettings::from_env(&env(&[
            ("MP_ACCESS_TOKEN", "t"),
            (
                "MP_ACCESS_TOKEN_PARAMETER",
                "/payments/mercadopago/access-token",
            ),
            ("MP_EXTERNAL_POS_ID", "POS1"),
        ]))
        .unwrap();
        assert!(matches!(
            from_ssm.access_token,
            SecretSetting::Parameter(ref name) if name == "/payments/mercadopago/access-token"
        ));
        let err = ProviderSettings::from_env(&env(&[
            ("MP_ACCESS_TOKEN_PARAMETER", "access-token"),
            ("MP_EXTERNAL_POS_ID", "POS1"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "MP_ACCESS_TOKEN_PARAMETER",
                ..
            }
        ));
    }

    fn pos_ids(points_of_sale: &PointsOfSale) -> Vec<&str> {
        points_of_sale.iter().map(PosId::as_str).collect()
    }

    #[test]
    fn mp_pos_ids_lists_the_points_of_sale_the_first_being_the_default() {
        let settings = ProviderSettings::from_env(&env(&[
            ("MP_ACCESS_TOKEN", "t"),
            ("MP_POS_IDS", "KIOSK01,KIOSK02,kiosk3"),
        ]))
        .unwrap();
        assert_eq!(
            pos_ids(&settings.points_of_sale),
            ["KIOSK01", "KIOSK02", "kiosk3"]
        );
        assert_eq!(settings.points_of_sale.default_pos().as_str(), "KIOSK01");
        let one = points_of_sale_from_env(&env(&[("MP_POS_IDS", &"Z".repeat(40))])).unwrap();
        assert_eq!(pos_ids(&one), [&"Z".repeat(40)]);
    }

    #[test]
    fn mp_external_pos_id_alone_is_a_list_of_one_and_mp_pos_ids_wins_over_it() {
        let older = points_of_sale_from_env(&env(&[("MP_EXTERNAL_POS_ID", "POS1")])).unwrap();
        assert_eq!(pos_ids(&older), ["POS1"]);
        let both = points_of_sale_from_env(&env(&[
            ("MP_EXTERNAL_POS_ID", "POS1"),
            ("MP_POS_IDS", "POS2,POS3"),
        ]))
        .unwrap();
        assert_eq!(pos_ids(&both), ["POS2", "POS3"]);
        // An empty MP_POS_IDS is unset (SAM passes "" for a blank parameter).
        let blank =
            points_of_sale_from_env(&env(&[("MP_POS_IDS", ""), ("MP_EXTERNAL_POS_ID", "POS1")]))
                .unwrap();
        assert_eq!(pos_ids(&blank), ["POS1"]);
    }

    #[test]
    fn a_point_of_sale_is_required_and_every_entry_must_be_one() {
        assert_eq!(
            points_of_sale_from_env(&env(&[])),
            Err(ConfigError::Missing("MP_POS_IDS"))
        );
        assert_eq!(
            ProviderSettings::from_env(&env(&[("MP_ACCESS_TOKEN", "t")])).unwrap_err(),
            ConfigError::Missing("MP_POS_IDS")
        );
        for wrong in [
            ",",
            "POS1,",
            ",POS1",
            "POS1,,POS2",
            "POS1, POS2",
            " POS1",
            "POS-1",
            "POS_1",
            "PÓS1",
            "POS1;POS2",
            "POS1,POS2,POS1",
            &"A".repeat(41),
        ] {
            let refused = points_of_sale_from_env(&env(&[("MP_POS_IDS", wrong)]));
            assert!(
                matches!(
                    refused,
                    Err(ConfigError::Invalid {
                        name: "MP_POS_IDS",
                        ..
                    })
                ),
                "{wrong:?}: {refused:?}"
            );
        }
        let named = points_of_sale_from_env(&env(&[("MP_POS_IDS", "POS1,POS-2")])).unwrap_err();
        assert!(named.to_string().contains("entry 2 (`POS-2`)"), "{named}");
        for wrong in ["POS-1", "POS1,POS2", &"A".repeat(41)] {
            assert!(
                matches!(
                    points_of_sale_from_env(&env(&[("MP_EXTERNAL_POS_ID", wrong)])),
                    Err(ConfigError::Invalid {
                        name: "MP_EXTERNAL_POS_ID",
                        ..
                    })
                ),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn table_and_topic_are_required() {
        assert_eq!(
            table_from_env(&env(&[])),
            Err(ConfigError::Missing("PAYMENTS_TABLE"))
        );
        assert_eq!(
            table_from_env(&env(&[("PAYMENTS_TABLE", "t")])),
            Ok(TableSettings {
                name: "t".to_owned(),
                index_shards: IndexShards::default(),
                prewarm: true,
            })
        );
        assert_eq!(
            table_from_env(&env(&[
                ("PAYMENTS_TABLE", "t"),
                ("PREWARM_CONNECTION", "false")
            ]))
            .map(|table| table.prewarm),
            Ok(false)
        );
        for wrong in ["no", "False", "0", "yes"] {
            assert!(
                matches!(
                    table_from_env(&env(&[
                        ("PAYMENTS_TABLE", "t"),
                        ("PREWARM_CONNECTION", wrong)
                    ])),
                    Err(ConfigError::Invalid {
                        name: "PREWARM_CONNECTION",
                        ..
                    })
                ),
                "{wrong}"
            );
        }
        assert_eq!(
            table_from_env(&env(&[("PAYMENTS_TABLE", "t"), ("INDEX_SHARDS", "16")]))
                .map(|table| table.index_shards.count()),
            Ok(16)
        );
        for wrong in ["0", "65", "-1", "8.0", " 8", "eight"] {
            assert!(
                matches!(
                    table_from_env(&env(&[("PAYMENTS_TABLE", "t"), ("INDEX_SHARDS", wrong)])),
                    Err(ConfigError::Invalid {
                        name: "INDEX_SHARDS",
                        ..
                    })
                ),
                "{wrong}"
            );
        }
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
            Ok(SignatureSetting::Required(SecretSetting::Value(_)))
        ));
        assert!(matches!(
            signature_policy_from_env(&env(&[(
                "MP_WEBHOOK_SECRET_PARAMETER",
                "/payments/mercadopago/webhook-secret"
            )])),
            Ok(SignatureSetting::Required(SecretSetting::Parameter(_)))
        ));
        assert_eq!(
            signature_policy_from_env(&env(&[("MP_WEBHOOK_SECRET", " , ")])).unwrap_err(),
            ConfigError::Missing("MP_WEBHOOK_SECRET")
        );
        assert!(matches!(
            signature_policy_from_env(&env(&[("MP_WEBHOOK_SIGNATURE", "unsigned")])),
            Ok(SignatureSetting::Unsigned)
        ));
        assert!(signature_policy_from_env(&env(&[("MP_WEBHOOK_SIGNATURE", "off")])).is_err());
    }
}
