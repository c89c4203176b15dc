//! Types at the tenant boundary, parsed once at the edge: the agency a key belongs to, a
//! deployment's id, and the statuses of deployments and responses. Below everything: they know
//! nothing of HTTP, and the database stores them as text (`db::text`).

use std::fmt;

use diesel::sql_types::Text;
use diesel::{AsExpression, FromSqlRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An agency's id: the tenant that every admin query filters by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
#[serde(transparent)]
pub struct AgencyId(String);

impl AgencyId {
    /// An id read from the database (an agency row, a key's agency).
    pub fn from_stored(id: String) -> Self {
        AgencyId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A deployment's id: a UUID in the form the service gives out (lowercase, hyphenated). Any
/// other text names no deployment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
#[serde(transparent)]
pub struct DeploymentId(String);

impl DeploymentId {
    /// `None` unless `s` is a UUID written as the service writes them.
    pub fn parse(s: &str) -> Option<Self> {
        let u = uuid::Uuid::parse_str(s).ok()?;
        (u.hyphenated().to_string() == s).then(|| DeploymentId(s.to_string()))
    }

    pub fn new_v4() -> Self {
        DeploymentId(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<uuid::Uuid> for DeploymentId {
    fn from(u: uuid::Uuid) -> Self {
        DeploymentId(u.hyphenated().to_string())
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A closed vocabulary stored as text: the enum, its words, and parsing from and printing to them.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema,
                 AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// Every value, in the order the API documents them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The words, as an error message lists them: `a, b, c`.
            pub fn words() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Whether a deployment collects responses.
    DeploymentStatus {
        Open = "open",
        Closed = "closed",
    }
}

text_enum! {
    /// Who may answer a deployment.
    Access {
        /// Anyone.
        Open = "open",
        /// Only through invitation links.
        Invitation = "invitation",
    }
}

text_enum! {
    /// A response's triage status: only `counted` responses enter reports.
    ResponseStatus {
        Counted = "counted",
        Spam = "spam",
        Test = "test",
        Deleted = "deleted",
    }
}

text_enum! {
    /// What a person may do in one agency's console; each role includes the one before.
    Role {
        /// Reads the overview, responses with their comments, reports and downloads.
        Viewer = "viewer",
        /// Also changes deployments, triage, volumes, invitations and imports.
        Manager = "manager",
        /// Also grants roles, manages API keys and reads the audit log.
        Admin = "admin",
    }
}

impl Role {
    /// Whether this role includes everything `needed` may do.
    pub fn includes(self, needed: Role) -> bool {
        let rank = |r: Role| Role::ALL.iter().position(|x| *x == r);
        rank(self) >= rank(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_are_canonical_uuids() {
        let id = "0b0e7f5c-3c1a-4f1e-9d55-5a1f2f0c1d2e";
        assert_eq!(DeploymentId::parse(id).unwrap().as_str(), id);
        for bad in [
            "",
            "nope",
            "0B0E7F5C-3C1A-4F1E-9D55-5A1F2F0C1D2E",
            "0b0e7f5c3c1a4f1e9d555a1f2f0c1d2e",
            "{0b0e7f5c-3c1a-4f1e-9d55-5a1f2f0c1d2e}",
        ] {
            assert!(DeploymentId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_their_words() {
        for s in ResponseStatus::ALL {
            assert_eq!(ResponseStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(ResponseStatus::words(), "counted, spam, test, deleted");
        assert_eq!(
            DeploymentStatus::parse("open"),
            Some(DeploymentStatus::Open)
        );
        assert_eq!(Access::parse("invitation"), Some(Access::Invitation));
        assert_eq!(Access::parse("Open"), None);
    }

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.includes(Role::Manager));
        assert!(Role::Manager.includes(Role::Viewer));
        assert!(Role::Viewer.includes(Role::Viewer));
        assert!(!Role::Viewer.includes(Role::Manager));
        assert!(!Role::Manager.includes(Role::Admin));
    }
}
