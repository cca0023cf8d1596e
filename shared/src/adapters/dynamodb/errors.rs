//! SDK errors to store errors: a lost condition is a `Conflict`, the rest is
//! `Unavailable` (throttling, network, service errors), never a panic.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::ports::StoreError;

pub(crate) fn store_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error.code().unwrap_or_default().to_owned();
    match code.as_str() {
        "ConditionalCheckFailedException" => {
            StoreError::Conflict(format!("{operation}: condition failed"))
        }
        "TransactionCanceledException" => {
            // Reasons come as "[ConditionalCheckFailed, None]"; a conflict is any
            // lost condition or a transaction racing another on the same items.
            let message = error.message().unwrap_or_default();
            if message.contains("ConditionalCheckFailed") || message.contains("TransactionConflict")
            {
                StoreError::Conflict(format!("{operation}: {message}"))
            } else {
                StoreError::Unavailable(format!("{operation}: {message}"))
            }
        }
        "" => StoreError::Unavailable(format!("{operation}: {}", display_chain(&error))),
        _ => StoreError::Unavailable(format!(
            "{operation}: {code}: {}",
            error.message().unwrap_or_default()
        )),
    }
}

fn display_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
