//! Identifiers. Each is built only through `parse` or a generator, so a value in
//! hand is always well formed.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

use super::DomainError;

macro_rules! prefixed_ulid_id {
    ($name:ident, $prefix:literal, $field:literal) => {
        #[doc = concat!("`", $prefix, "` followed by a 26-character ULID.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(format!("{}{}", $prefix, ulid))
            }

            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                let ulid = raw
                    .strip_prefix($prefix)
                    .filter(|rest| rest.len() == 26)
                    // Only the canonical form: the ULID parser also takes lower
                    // case and wraps a first character above `7`, and either
                    // would name another id than the one sent.
                    .and_then(|rest| Ulid::from_str(rest).ok().filter(|u| u.to_string() == rest))
                    .ok_or_else(|| {
                        DomainError::invalid(
                            $field,
                            concat!(
                                "must be `",
                                $prefix,
                                "` followed by a 26-character canonical ULID (upper case, first character 0-7)"
                            ),
                        )
                    })?;
                Ok(Self::from_ulid(ulid))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The id of the request (or scheduled run) that caused a change: the HTTP
/// request's `X-Request-Id`, Mercado Pago's `x-request-id` on a webhook, the
/// invocation's request id. 1..=128 visible ASCII characters; anything else
/// is not used as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CorrelationId(String);

impl CorrelationId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let fits =
            (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if fits {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::invalid(
                "correlation_id",
                "must be 1 to 128 visible ASCII characters",
            ))
        }
    }

    /// A fresh one, for a request that brought none (`req_` and a ULID).
    pub fn generated() -> Self {
        Self(format!("req_{}", Ulid::new()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

prefixed_ulid_id!(PaymentId, "pay_", "payment_id");
prefixed_ulid_id!(EventId, "evt_", "event_id");

impl EventId {
    /// When it was made, in Unix milliseconds (a ULID's first 48 bits):
    /// event ids sort by the time they were made.
    pub fn unix_millis(&self) -> u64 {
        self.0
            .strip_prefix(Self::PREFIX)
            .and_then(|ulid| Ulid::from_str(ulid).ok())
            .map_or(0, |ulid| ulid.timestamp_ms())
    }

    /// The smallest id made at `unix_millis`: every event made then or
    /// later sorts after it (bar the one with an all-zero random part).
    pub fn first_at(unix_millis: u64) -> Self {
        Self::from_ulid(Ulid::from_parts(unix_millis, 0))
    }

    /// The largest id made at `unix_millis`: every event made then or
    /// earlier sorts before it (or is it).
    pub fn last_at(unix_millis: u64) -> Self {
        Self::from_ulid(Ulid::from_parts(unix_millis, u128::MAX))
    }
}
prefixed_ulid_id!(RefundId, "ref_", "refund_id");

/// An id made of 1..=64 characters of `[A-Za-z0-9_-]`: safe in a URL path, a
/// table key and a log line as it is.
macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = 64;

            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                if raw.is_empty() || raw.len() > Self::MAX_LEN {
                    return Err(DomainError::invalid(
                        $field,
                        "must be 1 to 64 characters long",
                    ));
                }
                if !raw
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(DomainError::invalid(
                        $field,
                        "may contain only letters, digits, '_' and '-'",
                    ));
                }
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use token_id;

token_id!(
    /// The caller's order id (the kiosk's or the orders service's).
    OrderId,
    "order_id"
);

/// A Mercado Pago point of sale: the `external_pos_id` a QR order is created
/// at (each kiosk of a chain is one). 1..=40 ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PosId(String);

impl PosId {
    pub const MAX_LEN: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty()
            || raw.len() > Self::MAX_LEN
            || !raw.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(DomainError::invalid(
                "pos_id",
                "must be 1 to 40 letters (A-Z, a-z) or digits",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PosId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who called the API: the IAM principal's ARN, `anonymous` when the API
/// asks for no authentication, `local` on the local stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallerId(String);

impl CallerId {
    pub const MAX_LEN: usize = 1024;

    pub fn anonymous() -> Self {
        Self("anonymous".into())
    }

    pub fn local() -> Self {
        Self("local".into())
    }

    /// The service itself, for the keys it makes (a late payment's refund,
    /// one found at Mercado Pago): a name `parse` refuses (it holds a
    /// space), so no caller's key can ever share that scope.
    pub fn service() -> Self {
        Self("payments service".into())
    }

    /// 1..=1024 visible ASCII characters, as an IAM ARN is.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(DomainError::invalid(
                "caller",
                "must be 1 to 1024 visible ASCII characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Who the caller is across its sessions: for an assumed role
    /// (`arn:P:sts::ACCOUNT:assumed-role/ROLE/SESSION`) the role itself
    /// (`arn:P:iam::ACCOUNT:role/ROLE`), since the session changes with
    /// every task, instance and credential refresh; any other ARN is itself.
    /// Idempotency-Keys are scoped to it, so a retry from another session of
    /// the same role is the same key.
    pub fn principal(&self) -> Self {
        let parts: Vec<&str> = self.0.splitn(6, ':').collect();
        let [arn, partition, "sts", "", account, resource] = parts.as_slice() else {
            return self.clone();
        };
        let Some((role, _session)) = resource
            .strip_prefix("assumed-role/")
            .and_then(|rest| rest.rsplit_once('/'))
        else {
            return self.clone();
        };
        if role.is_empty() {
            return self.clone();
        }
        Self(format!("{arn}:{partition}:iam::{account}:role/{role}"))
    }
}

impl fmt::Display for CallerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client's `Idempotency-Key` (1..=255 printable ASCII characters), scoped
/// to the caller that sent it: the same key from two callers is two keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    caller: CallerId,
    key: String,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    /// The key as the header carries it, scoped to `anonymous` until
    /// `from_caller` names who sent it.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty()
            || raw.len() > Self::MAX_LEN
            || !raw.bytes().all(|b| (0x20..=0x7e).contains(&b))
        {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters",
            ));
        }
        Ok(Self {
            caller: CallerId::anonymous(),
            key: raw.to_owned(),
        })
    }

    pub fn from_caller(self, caller: CallerId) -> Self {
        Self { caller, ..self }
    }

    /// A key the service makes itself, in the scope only it has.
    pub fn of_service(raw: &str) -> Result<Self, DomainError> {
        Ok(Self::parse(raw)?.from_caller(CallerId::service()))
    }

    /// The key as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn caller(&self) -> &CallerId {
        &self.caller
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_id_round_trips_and_rejects_malformed() {
        let id = PaymentId::from_ulid(Ulid::new());
        assert_eq!(PaymentId::parse(id.as_str()), Ok(id.clone()));
        assert!(id.as_str().starts_with("pay_"));
        assert_eq!(id.as_str().len(), 30);
        for bad in [
            "",
            "pay_",
            "evt_01JD0000000000000000000000",
            "pay_01JD000000000000000000000",
            "pay_01JD00000000000000000000000",
            "pay_01JD00000000000000000000U!",
            "PAY_01JD0000000000000000000000",
        ] {
            assert!(PaymentId::parse(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn only_the_canonical_form_of_an_id_is_accepted() {
        let real = PaymentId::parse("pay_01JD0000000000000000000000").unwrap();
        // Each of these decodes to the same or another real id; none is it.
        for other in [
            "pay_01jd0000000000000000000000",
            "pay_81JD0000000000000000000000",
            "pay_G1JD0000000000000000000000",
            "pay_01JDOOOOOOOOOOOOOOOOOOOOOO",
            "pay_01JD000000000000000000000I",
        ] {
            assert!(PaymentId::parse(other).is_err(), "{other} must be refused");
        }
        assert_eq!(real.as_str(), "pay_01JD0000000000000000000000");
    }

    #[test]
    fn idempotency_keys_are_printable_and_bounded() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("ключ").is_err());
    }

    #[test]
    fn a_roles_sessions_are_one_principal_and_anything_else_is_itself() {
        let session = |s: &str| CallerId::parse(s).unwrap().principal();
        assert_eq!(
            session("arn:aws:sts::123456789012:assumed-role/orders/task-1").as_str(),
            "arn:aws:iam::123456789012:role/orders"
        );
        assert_eq!(
            session("arn:aws:sts::123456789012:assumed-role/orders/task-2"),
            session("arn:aws:sts::123456789012:assumed-role/orders/task-1")
        );
        assert_ne!(
            session("arn:aws:sts::123456789012:assumed-role/kiosk/task-1"),
            session("arn:aws:sts::123456789012:assumed-role/orders/task-1")
        );
        assert_eq!(
            session("arn:aws-us-gov:sts::123456789012:assumed-role/orders/s").as_str(),
            "arn:aws-us-gov:iam::123456789012:role/orders"
        );
        for itself in [
            "arn:aws:iam::123456789012:user/ops",
            "arn:aws:sts::123456789012:federated-user/bob",
            "arn:aws:sts::123456789012:assumed-role/no-session",
            "anonymous",
            "local",
        ] {
            assert_eq!(session(itself).as_str(), itself);
        }
    }

    #[test]
    fn the_same_key_from_two_callers_is_two_keys() {
        let key = IdempotencyKey::parse("k-1").unwrap();
        let orders = CallerId::parse("arn:aws:sts::123456789012:assumed-role/orders/x").unwrap();
        let kiosk = CallerId::parse("arn:aws:sts::123456789012:assumed-role/kiosk/y").unwrap();
        assert_ne!(
            key.clone().from_caller(orders),
            key.clone().from_caller(kiosk)
        );
        assert!(CallerId::parse("").is_err());
        assert!(CallerId::parse("has space").is_err());
        assert!(CallerId::parse(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn no_caller_can_name_the_scope_of_the_services_own_keys() {
        let service = IdempotencyKey::of_service("late-payment").unwrap();
        assert_eq!(service.caller(), &CallerId::service());
        assert!(CallerId::parse(CallerId::service().as_str()).is_err());
        for caller in [CallerId::anonymous(), CallerId::local()] {
            let theirs = IdempotencyKey::parse("late-payment")
                .unwrap()
                .from_caller(caller);
            assert_ne!(theirs, service);
        }
    }

    #[test]
    fn a_point_of_sale_is_one_to_forty_ascii_letters_or_digits() {
        assert_eq!(
            PosId::parse("LOCALPOS001").map(|p| p.to_string()),
            Ok("LOCALPOS001".to_owned())
        );
        assert!(PosId::parse("a").is_ok());
        assert!(PosId::parse(&"Z9".repeat(20)).is_ok());
        for bad in [
            "",
            &"a".repeat(41),
            "POS-1",
            "POS_1",
            "POS 1",
            " POS1",
            "PÓS1",
            "POS1\n",
            "POS,2",
        ] {
            assert!(
                matches!(
                    PosId::parse(bad),
                    Err(DomainError::Invalid {
                        field: "pos_id",
                        ..
                    })
                ),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn order_id_accepts_only_its_alphabet_and_length() {
        assert!(OrderId::parse("ord-1042_A").is_ok());
        assert!(OrderId::parse(&"a".repeat(64)).is_ok());
        assert!(OrderId::parse(&"a".repeat(65)).is_err());
        assert!(OrderId::parse("").is_err());
        assert!(OrderId::parse("ord 1").is_err());
        assert!(OrderId::parse("ord/1").is_err());
        assert!(OrderId::parse("órd").is_err());
    }
}
