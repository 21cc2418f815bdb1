//! The domain's text enums as sqlx column and parameter types, on both engines: stored as the
//! TEXT `as_str()` returns, read back with `FromStr`. A stored text that is not one of the
//! enum's values fails the read with a decode error naming the column and the text (sqlx's
//! `ColumnDecode`), so a row is never read with a value it does not hold.

use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type, encode::IsNull, error::BoxDynError};

use crate::domain::{
    partner_events::{DeliveryStatus, EventType},
    period::Period,
    status::{
        AgreementStatus, AttemptOutcome, ChargeStatus, InboundOutcome, PauseActor, RefundStatus,
        ReplyPurpose, StopActor,
    },
};

/// Implements `Type`, `Encode` and `Decode` for each listed enum on SQLite and PostgreSQL.
macro_rules! text_columns {
    ($($ty:ty),+ $(,)?) => {
        $(
            text_columns!(@engine $ty, Sqlite);
            text_columns!(@engine $ty, Postgres);
        )+
    };
    (@engine $ty:ty, $db:ty) => {
        impl Type<$db> for $ty {
            fn type_info() -> <$db as Database>::TypeInfo {
                <str as Type<$db>>::type_info()
            }

            fn compatible(ty: &<$db as Database>::TypeInfo) -> bool {
                <str as Type<$db>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, $db> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <$db as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'q, $db>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, $db> for $ty {
            fn decode(value: <$db as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<'r, $db>>::decode(value)?;
                Ok(text.parse::<$ty>()?)
            }
        }
    };
}

text_columns!(
    Period,
    AgreementStatus,
    AttemptOutcome,
    ChargeStatus,
    RefundStatus,
    StopActor,
    PauseActor,
    InboundOutcome,
    ReplyPurpose,
    EventType,
    DeliveryStatus,
);

/// `$first, $first+1, …`: one placeholder per value of a bound list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> sqlx::SqlitePool {
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn enums_are_stored_as_their_text_and_read_back() {
        let pool = sqlite().await;
        let stored: String = sqlx::query_scalar("SELECT $1")
            .bind(ChargeStatus::PartiallyRefunded)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, "PARTIALLY_REFUNDED");
        for s in AgreementStatus::ALL {
            let back: AgreementStatus = sqlx::query_scalar("SELECT $1")
                .bind(s.as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(back, *s);
        }
        let none: Option<StopActor> = sqlx::query_scalar("SELECT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(none, None);
    }

    #[tokio::test]
    async fn an_unknown_text_is_a_decode_error_naming_it() {
        let pool = sqlite().await;
        let err = sqlx::query_scalar::<_, AgreementStatus>("SELECT 'HALTED' AS status")
            .fetch_one(&pool)
            .await
            .unwrap_err();
        assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("unknown agreement status \"HALTED\""),
            "{text}"
        );
        let err = sqlx::query_scalar::<_, Option<Period>>("SELECT 'fortnight'")
            .fetch_one(&pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("\"fortnight\""), "{err}");
    }

    #[test]
    fn placeholders_are_numbered_from_first() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(placeholders(1, 0), "");
    }
}
