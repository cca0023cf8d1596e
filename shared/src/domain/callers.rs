//! Which callers a route admits: an optional list of IAM roles.

use std::collections::BTreeSet;
use std::fmt;

use super::{CallerId, DomainError};

/// The IAM roles allowed to call a route; empty admits every authenticated
/// caller (the API's IAM authorization already keeps out other accounts).
/// Roles are held without their path (`arn:P:iam::ACCOUNT:role/NAME`): a
/// role's name is unique in its account, and the session ARN STS gives its
/// callers names the role without the path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedCallers(BTreeSet<String>);

impl AllowedCallers {
    /// Every caller the API lets in.
    pub fn anyone() -> Self {
        Self::default()
    }

    /// Comma-separated IAM role ARNs (`arn:PARTITION:iam::ACCOUNT:role/NAME`,
    /// path kept); blank entries are skipped, so an empty string admits
    /// anyone. Anything that is not a role ARN is refused rather than
    /// matched loosely: a typo must not open or close a route silently.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let mut roles = BTreeSet::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let role = without_path(entry).ok_or_else(|| {
                DomainError::invalid(
                    "caller",
                    format!("{entry:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
                )
            })?;
            roles.insert(role);
        }
        Ok(Self(roles))
    }

    pub fn is_anyone(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `caller` may call: its principal (a role's session is its
    /// role) is on the list, or the list is empty.
    pub fn admits(&self, caller: &CallerId) -> bool {
        self.0.is_empty()
            || without_path(caller.principal().as_str()).is_some_and(|role| self.0.contains(&role))
    }
}

impl fmt::Display for AllowedCallers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roles: Vec<&str> = self.0.iter().map(String::as_str).collect();
        f.write_str(&roles.join(","))
    }
}

/// An IAM role ARN without its path, or `None` when `raw` is not one.
fn without_path(raw: &str) -> Option<String> {
    let parts: Vec<&str> = raw.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts.as_slice() else {
        return None;
    };
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    let valid = !partition.is_empty()
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && path_and_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=.@_-/".contains(&b));
    valid.then(|| format!("arn:{partition}:iam::{account}:role/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(arn: &str) -> CallerId {
        CallerId::parse(arn).unwrap()
    }

    #[test]
    fn an_empty_list_admits_every_caller() {
        let anyone = AllowedCallers::parse(" , ").unwrap();
        assert!(anyone.is_anyone());
        assert!(anyone.admits(&caller("arn:aws:sts::123456789012:assumed-role/x/s")));
        assert!(anyone.admits(&CallerId::anonymous()));
    }

    #[test]
    fn a_listed_role_admits_each_of_its_sessions_and_nobody_else() {
        let allowed = AllowedCallers::parse(
            "arn:aws:iam::123456789012:role/orders, arn:aws:iam::123456789012:role/ops/refunds",
        )
        .unwrap();
        assert!(allowed.admits(&caller(
            "arn:aws:sts::123456789012:assumed-role/orders/task-1"
        )));
        assert!(allowed.admits(&caller(
            "arn:aws:sts::123456789012:assumed-role/orders/task-2"
        )));
        assert!(allowed.admits(&caller("arn:aws:iam::123456789012:role/orders")));
        // STS names a role's sessions without the role's path.
        assert!(allowed.admits(&caller("arn:aws:sts::123456789012:assumed-role/refunds/s")));
        for outsider in [
            "arn:aws:sts::123456789012:assumed-role/kiosk/task-1",
            "arn:aws:sts::210987654321:assumed-role/orders/task-1",
            "arn:aws:iam::123456789012:user/orders",
            "arn:aws:sts::123456789012:assumed-role/orders-admin/s",
        ] {
            assert!(
                !allowed.admits(&caller(outsider)),
                "{outsider} must be refused"
            );
        }
        assert!(!allowed.admits(&CallerId::anonymous()));
        assert!(!allowed.admits(&CallerId::local()));
    }

    #[test]
    fn anything_but_a_role_arn_is_refused() {
        for bad in [
            "orders",
            "arn:aws:iam::123456789012:user/ops",
            "arn:aws:sts::123456789012:assumed-role/orders/s",
            "arn:aws:iam::12345:role/orders",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam:us-east-1:123456789012:role/orders",
            "arn:aws:iam::123456789012:role/or ders",
            "arn:aws:iam::123456789012:role/path/",
            "*",
        ] {
            assert!(AllowedCallers::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
