//! The domain types stored as text columns, on both backends through `AnyConnection`.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::MultiBackend;
use crate::domain::{Access, AgencyId, DeploymentId, DeploymentStatus, ResponseStatus, Role};

macro_rules! stored_as_text {
    ($($ty:ty: $as_str:expr, $from_str:expr;)+) => {$(
        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                let text: &'b str = $as_str(self);
                out.set_value((Text, text));
                Ok(IsNull::No)
            }
        }

        // Inserts take each backend's own path.
        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                let text: &'b str = $as_str(self);
                <str as ToSql<Text, Pg>>::to_sql(text, out)
            }
        }

        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                let text: &'b str = $as_str(self);
                <str as ToSql<Text, Sqlite>>::to_sql(text, out)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = bytes.from_sql::<String, Text>()?;
                $from_str(text)
            }
        }
    )+};
}

fn word<T>(parsed: Option<T>, text: &str) -> deserialize::Result<T> {
    parsed.ok_or_else(|| format!("unexpected stored value {text:?}").into())
}

stored_as_text! {
    AgencyId: AgencyId::as_str, |t: String| Ok(AgencyId::from_stored(t));
    DeploymentId: DeploymentId::as_str, |t: String| word(DeploymentId::parse(&t), &t);
    DeploymentStatus: |s: &DeploymentStatus| s.as_str(), |t: String| word(DeploymentStatus::parse(&t), &t);
    Access: |s: &Access| s.as_str(), |t: String| word(Access::parse(&t), &t);
    ResponseStatus: |s: &ResponseStatus| s.as_str(), |t: String| word(ResponseStatus::parse(&t), &t);
    Role: |s: &Role| s.as_str(), |t: String| word(Role::parse(&t), &t);
}
