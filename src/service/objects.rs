//! The partners' objects a job concerns, as operators look them up: the ids inside a job's
//! payload ([`refs_in`]) and one agreement, charge, message or refund by its id ([`lookup`]),
//! across partners, with the partner and dialogue it belongs to, its main facts and the objects
//! it is linked to. Phone numbers are shown masked.

use serde_json::Value;

use crate::{
    db::{agreements, charges, dialogues, messages, partners, refunds},
    domain::{money::AmountOre, msisdn::Msisdn},
    service::{ServiceError, ServiceResult},
    state::AppState,
};

/// A kind of object a job can concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Agreement,
    Charge,
    Message,
    Refund,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Agreement => "Agreement",
            Kind::Charge => "Charge",
            Kind::Message => "Message",
            Kind::Refund => "Refund",
        }
    }

    /// The payload field that holds such an id.
    fn field(self) -> &'static str {
        match self {
            Kind::Agreement => "agreement_id",
            Kind::Charge => "charge_id",
            Kind::Message => "message_id",
            Kind::Refund => "refund_id",
        }
    }
}

const KINDS: [Kind; 4] = [Kind::Agreement, Kind::Charge, Kind::Message, Kind::Refund];

/// An object by kind and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: Kind,
    pub id: String,
}

/// The objects named in a job's payload (its `agreement_id`, `charge_id`, `message_id` and
/// `refund_id` fields), in that order.
pub fn refs_in(payload: &Value) -> Vec<ObjectRef> {
    KINDS
        .iter()
        .filter_map(|&kind| {
            let id = payload.get(kind.field())?.as_str()?;
            Some(ObjectRef {
                kind,
                id: id.to_owned(),
            })
        })
        .collect()
}

/// One object as the console shows it.
#[derive(Debug, Clone)]
pub struct ObjectSummary {
    pub kind: Kind,
    pub id: String,
    /// (partner id, name).
    pub partner: Option<(String, String)>,
    /// (dialogue id, name).
    pub dialogue: Option<(String, String)>,
    /// Its main facts, as (label, value); those without a value are left out.
    pub facts: Vec<(&'static str, Fact)>,
    /// The objects it is linked to (a charge's agreement, a refund's charge, …).
    pub linked: Vec<ObjectRef>,
}

/// A fact's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Text(String),
    /// A time, epoch milliseconds.
    Time(i64),
}

impl Fact {
    fn is_empty(&self) -> bool {
        matches!(self, Fact::Text(t) if t.is_empty())
    }
}

fn text(value: impl Into<String>) -> Fact {
    Fact::Text(value.into())
}

fn time(ms: impl Into<Option<i64>>) -> Fact {
    ms.into().map_or_else(|| text(""), Fact::Time)
}

fn nok(ore: i64) -> Fact {
    text(AmountOre(ore).to_string())
}

fn link(kind: Kind, id: impl Into<String>) -> ObjectRef {
    ObjectRef {
        kind,
        id: id.into(),
    }
}

/// An owner (partner or dialogue) by id, its name filled in by [`lookup`] once it is read.
fn unnamed(id: &str) -> (String, String) {
    (id.to_owned(), String::new())
}

fn masked(phone: &str) -> String {
    Msisdn::parse(phone).map_or_else(|_| phone.to_owned(), |m| m.masked())
}

/// The agreement, charge, message or refund with id `id`, whichever it is.
pub async fn lookup(state: &AppState, id: &str) -> ServiceResult<ObjectSummary> {
    let db = &state.db;
    let mut summary = if let Some(a) = agreements::get(db, id).await? {
        ObjectSummary {
            kind: Kind::Agreement,
            partner: Some(unnamed(&a.partner_id)),
            dialogue: Some(unnamed(&a.dialogue_id)),
            facts: vec![
                ("Status", text(a.status.as_str())),
                ("Phone", text(masked(&a.phone))),
                (
                    "Vipps agreement",
                    text(a.vipps_agreement_id.unwrap_or_default()),
                ),
                ("Created", time(a.created_at)),
                ("Activated", time(a.activated_at)),
                ("Stopped", time(a.stopped_at)),
            ],
            linked: a
                .inbound_message_id
                .map(|m| link(Kind::Message, m))
                .into_iter()
                .collect(),
            id: a.id,
        }
    } else if let Some(c) = charges::get(db, id).await? {
        let agreement = agreements::get(db, &c.agreement_id).await?;
        ObjectSummary {
            kind: Kind::Charge,
            partner: agreement.as_ref().map(|a| unnamed(&a.partner_id)),
            dialogue: agreement.as_ref().map(|a| unnamed(&a.dialogue_id)),
            facts: vec![
                ("Status", text(c.status.as_str())),
                ("Amount", nok(c.amount_ore)),
                ("Due", text(c.due_date.format("%d.%m.%Y").to_string())),
                ("Period", text(c.period_index.to_string())),
                ("Vipps charge", text(c.vipps_charge_id.unwrap_or_default())),
                ("Failure", text(c.failure_reason.unwrap_or_default())),
                ("Created", time(c.created_at)),
            ],
            linked: vec![link(Kind::Agreement, c.agreement_id)],
            id: c.id,
        }
    } else if let Some(m) = messages::get(db, id).await? {
        ObjectSummary {
            kind: Kind::Message,
            partner: m.partner_id.as_deref().map(unnamed),
            dialogue: m.dialogue_id.as_deref().map(unnamed),
            facts: vec![
                ("Direction", text(m.direction)),
                ("Status", text(m.status)),
                ("From", text(masked(&m.from_addr))),
                ("To", text(masked(&m.to_addr))),
                ("Segments", text(m.segments.to_string())),
                ("Error", text(m.error.unwrap_or_default())),
                ("Created", time(m.created_at)),
            ],
            linked: m
                .agreement_id
                .map(|a| link(Kind::Agreement, a))
                .into_iter()
                .chain(m.in_reply_to.map(|r| link(Kind::Message, r)))
                .collect(),
            id: m.id,
        }
    } else if let Some(r) = refunds::get(db, id).await? {
        let agreement = match charges::get(db, &r.charge_id).await? {
            Some(c) => agreements::get(db, &c.agreement_id).await?,
            None => None,
        };
        ObjectSummary {
            kind: Kind::Refund,
            partner: agreement.as_ref().map(|a| unnamed(&a.partner_id)),
            dialogue: agreement.as_ref().map(|a| unnamed(&a.dialogue_id)),
            facts: vec![
                ("Status", text(r.status.as_str())),
                ("Amount", nok(r.amount_ore)),
                ("Reason", text(r.reason)),
                ("By", text(r.actor)),
                ("Failure", text(r.failure.unwrap_or_default())),
                ("Created", time(r.created_at)),
            ],
            linked: vec![link(Kind::Charge, r.charge_id)],
            id: r.id,
        }
    } else {
        return Err(ServiceError::NotFound("object"));
    };
    summary.facts.retain(|(_, value)| !value.is_empty());
    if let Some((id, name)) = summary.partner.as_mut() {
        match partners::get(db, id).await? {
            Some(p) => *name = p.name,
            None => summary.partner = None,
        }
    }
    if let Some((id, name)) = summary.dialogue.as_mut() {
        match dialogues::get_any(db, id).await? {
            Some(d) => *name = d.name,
            None => summary.dialogue = None,
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_its_objects_in_a_fixed_order() {
        let payload = serde_json::json!({
            "refund_id": "rfd_1", "agreement_id": "agr_1", "charge_id": "chg_1",
            "event_id": "evt_1", "message_id": 7,
        });
        let refs = refs_in(&payload);
        assert_eq!(
            refs,
            [
                link(Kind::Agreement, "agr_1"),
                link(Kind::Charge, "chg_1"),
                link(Kind::Refund, "rfd_1"),
            ]
        );
        assert!(refs_in(&Value::Null).is_empty());
    }
}
