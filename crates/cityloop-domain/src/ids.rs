//! Typed identifiers, so that a unit id can never be passed where a case id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl From<$name> for i64 {
            fn from(v: $name) -> i64 {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// A case (one citizen request or one inspector report).
    CaseId,
    /// A handling unit: department, street office, community committee or utility.
    UnitId,
    /// A staff member or a registered resident.
    UserId,
    /// A node of the category tree.
    CategoryId,
    /// An administrative division: city, district, street or community.
    DivisionId,
    /// A unit grid (单元网格).
    GridId,
);
