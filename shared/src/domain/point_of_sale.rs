//! The points of sale a deployment charges at: which `pos_id` a payment may
//! name, and the one it gets when it names none.

use super::{DomainError, PosId};

/// The allowed points of sale: at least one, none twice, the first the
/// default. Built once from configuration (`MP_POS_IDS`); a payment's
/// point of sale is always one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsOfSale {
    default: PosId,
    others: Vec<PosId>,
}

impl PointsOfSale {
    /// The list as given, the first the default; empty or with a repeat is
    /// refused.
    pub fn new(ids: Vec<PosId>) -> Result<Self, DomainError> {
        if let Some(twice) = ids
            .iter()
            .enumerate()
            .find_map(|(at, id)| ids[..at].contains(id).then_some(id))
        {
            return Err(DomainError::invalid(
                "points_of_sale",
                format!("names {twice} twice"),
            ));
        }
        let mut ids = ids.into_iter();
        let default = ids.next().ok_or_else(|| {
            DomainError::invalid("points_of_sale", "must name at least one point of sale")
        })?;
        Ok(Self {
            default,
            others: ids.collect(),
        })
    }

    /// The point of sale of a payment that names none.
    pub fn default_pos(&self) -> &PosId {
        &self.default
    }

    /// Every allowed point of sale, the default first.
    pub fn iter(&self) -> impl Iterator<Item = &PosId> {
        std::iter::once(&self.default).chain(&self.others)
    }

    pub fn contains(&self, id: &PosId) -> bool {
        self.iter().any(|allowed| allowed == id)
    }
}

impl std::fmt::Display for PointsOfSale {
    /// Comma-separated, the default first: the form `MP_POS_IDS` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.default.as_str())?;
        for id in &self.others {
            write!(f, ",{id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(raw: &str) -> PosId {
        PosId::parse(raw).unwrap()
    }

    #[test]
    fn the_first_point_of_sale_is_the_default_and_only_listed_ones_are_allowed() {
        let all = PointsOfSale::new(vec![pos("KIOSK1"), pos("KIOSK2")]).unwrap();
        assert_eq!(all.default_pos(), &pos("KIOSK1"));
        // Exactly as listed: no case folding.
        assert!(!all.contains(&pos("kiosk2")));
        assert!(all.iter().eq([&pos("KIOSK1"), &pos("KIOSK2")]));
        assert!(all.contains(&pos("KIOSK2")) && !all.contains(&pos("KIOSK3")));
        assert_eq!(all.to_string(), "KIOSK1,KIOSK2");
    }

    #[test]
    fn an_empty_list_or_a_repeat_is_no_list_of_points_of_sale() {
        assert!(PointsOfSale::new(vec![]).is_err());
        assert!(PointsOfSale::new(vec![pos("A1"), pos("B2"), pos("A1")]).is_err());
    }
}
