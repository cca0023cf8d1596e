//! Secrets from SSM Parameter Store (SecureString parameters in moto): read at
//! init in one call, a missing one fails init naming it, a rotated one is
//! picked up, and the parameter wins over a value in the environment. The mock
//! accepts only one access token, so a create proves which token was sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use mercadopago_mock::{MockConfig, MockServer};
use payments::adapters::secrets::{SecretError, SsmParameters};
use payments::compose::{aws, InitError};
use payments_tests::backends::command;
use payments_tests::moto;
use secrecy::ExposeSecret;

async fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&moto::sdk_config().await)
}

async fn put(client: &aws_sdk_ssm::Client, name: &str, value: &str) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn parameters_are_read_together_and_a_missing_one_is_named() {
    let client = ssm().await;
    let prefix = format!("/{}", moto::unique("payments"));
    let (token, secret) = (format!("{prefix}/token"), format!("{prefix}/secret"));
    put(&client, &token, "TEST-token-1").await;
    put(&client, &secret, "current,previous").await;
    let parameters = SsmParameters::load(
        client.clone(),
        vec![token.clone(), secret.clone()],
        SsmParameters::MAX_AGE,
    )
    .await
    .unwrap();
    assert_eq!(
        parameters.secret(&token).current().await.expose_secret(),
        "TEST-token-1"
    );
    assert_eq!(
        parameters.secret(&secret).current().await.expose_secret(),
        "current,previous"
    );

    let missing = format!("{prefix}/nothing-here");
    let error = SsmParameters::load(client, vec![token, missing.clone()], SsmParameters::MAX_AGE)
        .await
        .err()
        .unwrap();
    assert_eq!(error, SecretError::Missing(missing.clone()));
    assert!(error.to_string().contains(&missing), "{error}");
}

#[tokio::test]
async fn a_rotated_value_is_picked_up_once_the_cached_one_is_old_enough() {
    let client = ssm().await;
    let name = format!("/{}/token", moto::unique("payments"));
    put(&client, &name, "before").await;
    let fresh = SsmParameters::load(client.clone(), vec![name.clone()], Duration::ZERO)
        .await
        .unwrap();
    let cached = SsmParameters::load(client.clone(), vec![name.clone()], SsmParameters::MAX_AGE)
        .await
        .unwrap();
    put(&client, &name, "after").await;
    assert_eq!(fresh.secret(&name).current().await.expose_secret(), "after");
    assert_eq!(
        cached.secret(&name).current().await.expose_secret(),
        "before",
        "read at most every five minutes"
    );
}

#[tokio::test]
async fn create_payment_sends_the_token_from_ssm_not_the_environment() {
    let client = ssm().await;
    let name = format!("/{}/access-token", moto::unique("payments"));
    put(&client, &name, "TEST-from-ssm").await;
    let mock = MockServer::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            access_token: Some("TEST-from-ssm".into()),
            ..MockConfig::default()
        },
    )
    .await
    .unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = moto::table_from_template(&dynamodb).await;
    let mut vars: HashMap<String, String> = HashMap::from([
        ("PAYMENTS_TABLE".to_owned(), table),
        ("MP_API_BASE_URL".to_owned(), mock.base_url()),
        ("MP_EXTERNAL_POS_ID".to_owned(), "POS001".to_owned()),
        // A value in the environment loses to the parameter.
        ("MP_ACCESS_TOKEN".to_owned(), "TEST-wrong-token".to_owned()),
        ("MP_ACCESS_TOKEN_PARAMETER".to_owned(), name.clone()),
    ]);
    fn env(vars: &HashMap<String, String>) -> impl Fn(&str) -> Option<String> {
        let vars = vars.clone();
        move |key: &str| vars.get(key).cloned()
    }

    let create = aws::create_payment(&env(&vars)).await.unwrap();
    let created = create
        .execute(command("ord-ssm", 2590), None)
        .await
        .unwrap();
    assert!(
        created.payment.qr_data().is_some(),
        "the mock took the SSM token"
    );

    vars.insert(
        "MP_ACCESS_TOKEN_PARAMETER".to_owned(),
        format!("{name}-gone"),
    );
    match aws::create_payment(&env(&vars)).await {
        Err(InitError::Secret(SecretError::Missing(missing))) => {
            assert_eq!(missing, format!("{name}-gone"));
        }
        Err(other) => panic!("unexpected {other}"),
        Ok(_) => panic!("init must fail on a missing parameter"),
    }
    mock.shutdown().await;
}
