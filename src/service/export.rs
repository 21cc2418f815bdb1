//! CSV exports of messages, a dialogue's agreements and charges, for the same filters as the
//! lists: RFC 4180 (quoted where needed, CRLF), UTF-8 with a byte-order mark so that Excel
//! shows æøå, times in Europe/Oslo. Streamed in keyset batches, so memory stays flat however
//! many rows there are.

use futures::{Stream, StreamExt, TryStreamExt, stream};

use crate::{
    db::{agreements::Agreement, charges::Charge, messages::Message},
    domain::{money::AmountOre, status::AgreementStatus},
    service::{
        PartnerActor, ServiceResult,
        agreements::{ChargeQuery, agreement_batch, charge_batch},
        messages::{MessageQuery, batch},
    },
    state::AppState,
};

/// Rows read per query.
const BATCH: i64 = 1_000;
const BOM: &str = "\u{feff}";

/// A CSV file as it is produced: the header first, then one chunk per batch.
pub type CsvStream = std::pin::Pin<Box<dyn Stream<Item = ServiceResult<Vec<u8>>> + Send>>;

/// One CSV record: fields quoted when they hold a comma, quote or line break; a free-text
/// field starting with `=`, `+`, `-` or `@` is prefixed with `'` so that a spreadsheet never
/// runs it as a formula.
fn record(out: &mut String, fields: &[Field<'_>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (text, free) = match field {
            Field::Data(t) => (*t, false),
            Field::Free(t) => (*t, true),
        };
        let guard = free && text.starts_with(['=', '+', '-', '@', '\t', '\r']);
        if guard || text.contains([',', '"', '\r', '\n']) {
            out.push('"');
            if guard {
                out.push('\'');
            }
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(text);
        }
    }
    out.push_str("\r\n");
}

/// A CSV field: our own data (ids, statuses, numbers), or text someone typed.
enum Field<'a> {
    Data(&'a str),
    Free(&'a str),
}
use Field::{Data, Free};

fn header(names: &[&str]) -> Vec<u8> {
    let mut out = String::from(BOM);
    record(&mut out, &names.iter().map(|n| Data(n)).collect::<Vec<_>>());
    out.into_bytes()
}

/// A stored time in Oslo, `2026-12-02 13:45:07`; empty for none.
fn oslo(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Oslo)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// Where an export is: at the first batch, below a cursor, or finished.
enum Position {
    Start,
    Below(String),
    Done,
}

/// The header, then batches from `fetch(cursor)` until one comes back short, each row encoded
/// by `encode`.
fn batches<T, F, Fut>(
    head: Vec<u8>,
    fetch: F,
    id_of: fn(&T) -> String,
    encode: fn(&mut String, &T),
) -> CsvStream
where
    T: Send + 'static,
    F: Fn(Option<String>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ServiceResult<Vec<T>>> + Send + 'static,
{
    let rows = stream::try_unfold(Position::Start, move |position| {
        let next = match position {
            Position::Start => Some(fetch(None)),
            Position::Below(id) => Some(fetch(Some(id))),
            Position::Done => None,
        };
        async move {
            let Some(next) = next else {
                return Ok(None);
            };
            let rows = next.await?;
            let position = match rows.last() {
                Some(last) if rows.len() as i64 == BATCH => Position::Below(id_of(last)),
                _ => Position::Done,
            };
            let mut out = String::new();
            for row in &rows {
                encode(&mut out, row);
            }
            Ok(Some((out.into_bytes(), position)))
        }
    })
    .try_filter(|chunk| std::future::ready(!chunk.is_empty()));
    Box::pin(stream::once(std::future::ready(Ok(head))).chain(rows))
}

/// Messages matching `query`, newest first.
pub fn messages(state: AppState, actor: PartnerActor, query: MessageQuery) -> CsvStream {
    let head = header(&[
        "id",
        "created_at",
        "direction",
        "from",
        "to",
        "dialogue_id",
        "status",
        "outcome",
        "segments",
        "encoding",
        "text",
        "error",
    ]);
    batches(
        head,
        move |before| {
            let (state, actor, query) = (state.clone(), actor.clone(), query.clone());
            async move { batch(&state, &actor, &query, before.as_deref(), BATCH).await }
        },
        |m: &Message| m.id.clone(),
        |out, m| {
            let outcome = m
                .inbound_outcome
                .map(|o| o.as_str())
                .or(m.reply_purpose.map(|p| p.as_str()))
                .unwrap_or_default();
            record(
                out,
                &[
                    Data(&m.id),
                    Data(&oslo(Some(m.created_at))),
                    Data(&m.direction),
                    Data(&m.from_addr),
                    Data(&m.to_addr),
                    Data(m.dialogue_id.as_deref().unwrap_or_default()),
                    Data(&m.status),
                    Data(outcome),
                    Data(&m.segments.to_string()),
                    Data(&m.encoding),
                    Free(&m.text),
                    Free(m.error.as_deref().unwrap_or_default()),
                ],
            );
        },
    )
}

/// A dialogue's agreements, newest first.
pub fn agreements(
    state: AppState,
    actor: PartnerActor,
    dialogue_id: String,
    status: Option<AgreementStatus>,
) -> CsvStream {
    let head = header(&[
        "id",
        "dialogue_id",
        "phone",
        "status",
        "stopped_by",
        "vipps_agreement_id",
        "created_at",
        "activated_at",
        "stopped_at",
        "expired_at",
    ]);
    batches(
        head,
        move |before| {
            let (state, actor, dialogue_id) = (state.clone(), actor.clone(), dialogue_id.clone());
            async move {
                agreement_batch(
                    &state,
                    &actor,
                    &dialogue_id,
                    status,
                    before.as_deref(),
                    BATCH,
                )
                .await
            }
        },
        |a: &Agreement| a.id.clone(),
        |out, a| {
            record(
                out,
                &[
                    Data(&a.id),
                    Data(&a.dialogue_id),
                    Data(&a.phone),
                    Data(a.status.as_str()),
                    Data(a.stopped_by.map(|s| s.as_str()).unwrap_or_default()),
                    Data(a.vipps_agreement_id.as_deref().unwrap_or_default()),
                    Data(&oslo(Some(a.created_at))),
                    Data(&oslo(a.activated_at)),
                    Data(&oslo(a.stopped_at)),
                    Data(&oslo(a.expired_at)),
                ],
            );
        },
    )
}

/// The partner's charges matching `query`, newest first. Amounts in NOK with a point and in
/// øre.
pub fn charges(state: AppState, actor: PartnerActor, query: ChargeQuery) -> CsvStream {
    let head = header(&[
        "id",
        "agreement_id",
        "type",
        "period_index",
        "due_date",
        "amount",
        "amount_ore",
        "status",
        "failure_reason",
        "failure_description",
        "vipps_charge_id",
        "refunds",
        "refunded",
        "refunded_ore",
    ]);
    batches(
        head,
        move |before| {
            let (state, actor, query) = (state.clone(), actor.clone(), query.clone());
            async move {
                let rows = charge_batch(&state, &actor, &query, before.as_deref(), BATCH).await?;
                with_refunds(&state, rows).await
            }
        },
        |(c, _): &(Charge, (i64, i64))| c.id.clone(),
        |out, (c, (refunds, refunded))| {
            record(
                out,
                &[
                    Data(&c.id),
                    Data(&c.agreement_id),
                    Data(&c.charge_type),
                    Data(&c.period_index.to_string()),
                    Data(&c.due_date.to_string()),
                    Data(&AmountOre(c.amount_ore).to_string()),
                    Data(&c.amount_ore.to_string()),
                    Data(c.status.as_str()),
                    Data(c.failure_reason.as_deref().unwrap_or_default()),
                    Free(c.failure_description.as_deref().unwrap_or_default()),
                    Data(c.vipps_charge_id.as_deref().unwrap_or_default()),
                    Data(&refunds.to_string()),
                    Data(&AmountOre(*refunded).to_string()),
                    Data(&refunded.to_string()),
                ],
            );
        },
    )
}

/// Each charge with its DONE refunds: (how many, øre).
async fn with_refunds(
    state: &AppState,
    rows: Vec<Charge>,
) -> ServiceResult<Vec<(Charge, (i64, i64))>> {
    let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
    let totals = crate::db::refunds::done_totals(&state.db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let t = totals.get(&c.id).copied().unwrap_or((0, 0));
            (c, t)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[Field<'_>]) -> String {
        let mut out = String::new();
        record(&mut out, fields);
        out
    }

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(line(&[Data("a"), Data("b c")]), "a,b c\r\n");
        assert_eq!(
            line(&[Free("Hei, \"du\""), Free("to\nlinjer")]),
            "\"Hei, \"\"du\"\"\",\"to\nlinjer\"\r\n"
        );
        assert_eq!(line(&[Free("æøå")]), "æøå\r\n");
    }

    #[test]
    fn typed_text_never_becomes_a_formula() {
        assert_eq!(line(&[Free("=HYPERLINK(1)")]), "\"'=HYPERLINK(1)\"\r\n");
        assert_eq!(line(&[Data("+4791234567")]), "+4791234567\r\n");
    }

    #[test]
    fn the_header_starts_with_a_byte_order_mark() {
        let head = String::from_utf8(header(&["id", "text"])).unwrap();
        assert_eq!(head, "\u{feff}id,text\r\n");
    }
}
