//! The payment state machine (DESIGN 2).

use std::fmt;

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Pending,
    Approved,
    Declined,
    Expired,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 5] = [
        PaymentStatus::Pending,
        PaymentStatus::Approved,
        PaymentStatus::Declined,
        PaymentStatus::Expired,
        PaymentStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Approved => "approved",
            PaymentStatus::Declined => "declined",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Refunded => "refunded",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| DomainError::invalid("status", format!("unknown status `{raw}`")))
    }

    /// The only allowed moves; everything else is rejected.
    pub fn can_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (Pending, Approved) | (Pending, Declined) | (Pending, Expired) | (Approved, Refunded)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PaymentStatus::Declined | PaymentStatus::Expired | PaymentStatus::Refunded
        )
    }

    /// A live payment blocks any other payment for its order.
    pub fn is_live(self) -> bool {
        matches!(self, PaymentStatus::Pending | PaymentStatus::Approved)
    }

    pub fn transition_to(self, next: PaymentStatus) -> Result<PaymentStatus, DomainError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(DomainError::Transition {
                from: self,
                to: next,
            })
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::{self, *};
    use proptest::prelude::*;

    const ALLOWED: [(PaymentStatus, PaymentStatus); 4] = [
        (Pending, Approved),
        (Pending, Declined),
        (Pending, Expired),
        (Approved, Refunded),
    ];

    #[test]
    fn every_pair_outside_the_table_is_rejected() {
        for from in PaymentStatus::ALL {
            for to in PaymentStatus::ALL {
                let allowed = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
                assert_eq!(from.transition_to(to).is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Ok(s));
        }
        assert!(PaymentStatus::parse("PENDING").is_err());
    }

    proptest! {
        #[test]
        fn no_sequence_of_transitions_leaves_a_terminal_state(
            attempts in proptest::collection::vec(0..PaymentStatus::ALL.len(), 0..40)
        ) {
            let mut current = Pending;
            let mut reached_terminal = false;
            for index in attempts {
                let next = PaymentStatus::ALL[index];
                if let Ok(moved) = current.transition_to(next) {
                    prop_assert!(!reached_terminal, "left terminal state {current}");
                    current = moved;
                }
                if current.is_terminal() {
                    reached_terminal = true;
                }
            }
            prop_assert_eq!(reached_terminal, current.is_terminal());
        }
    }
}
