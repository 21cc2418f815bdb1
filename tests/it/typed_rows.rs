//! Rows are read as typed values or not at all: a stored status, actor or outcome outside its
//! set, or a timestamp that is no instant, fails the read with an error naming the value (the
//! API answers an opaque 500, a job stops for good) instead of becoming a default. And a
//! keyword reply is never queued without its Vipps link. Rows are written with raw SQL, as a
//! bad migration, a manual fix or another version of the service could have left them.

use dialogpay::{
    db::{Db, agreements, charges, messages},
    domain::status::ReplyPurpose,
    with_pool,
};
use dialogpay_jobs::agreements::DraftAgreement;
use reqwest::StatusCode;

use crate::support::{Options, TestApp};

struct Fixture {
    app: TestApp,
    key: String,
    partner: String,
    dialogue: String,
}

async fn setup(workers: bool) -> Fixture {
    let app = TestApp::spawn_with(Options {
        workers,
        ..Default::default()
    })
    .await;
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let dialogue = app
        .monthly_give_dialogue(&key, &group, "Takk! {vipps_link} Send STOPP til 2160.")
        .await;
    Fixture {
        dialogue,
        app,
        key,
        partner,
    }
}

/// An agreement row exactly as given (id, status, stopped_by, Vipps id, link, inbound
/// message, created_at).
struct RawAgreement<'a> {
    id: &'a str,
    status: &'a str,
    stopped_by: Option<&'a str>,
    vipps_agreement_id: Option<&'a str>,
    confirmation_url: Option<&'a str>,
    inbound_message_id: Option<&'a str>,
    created_at: i64,
}

impl Fixture {
    fn db(&self) -> &Db {
        &self.app.state.db
    }

    /// Runs the draft job of `agreement`: it must fail for good on its first attempt; returns
    /// the error it recorded.
    async fn draft_fails_at_once(&self, agreement: &str) -> String {
        let job = self
            .app
            .enqueue(&DraftAgreement {
                agreement_id: agreement.into(),
            })
            .await;
        let row = self.app.settled_job(&job).await;
        assert_eq!(row.status.as_str(), "failed", "{row:?}");
        assert_eq!(row.attempts, 1, "not retried");
        row.last_result.unwrap_or_default()
    }

    async fn insert_agreement(&self, a: RawAgreement<'_>) {
        with_pool!(self.db(), |p| {
            sqlx::query(
            "INSERT INTO agreements (id, partner_id, dialogue_id, phone, status, stopped_by, vipps_agreement_id, \
               confirmation_url, inbound_message_id, manage_token, created_at, updated_at) \
             VALUES ($1, $2, $3, '+4791234567', $4, $5, $6, $7, $8, $9, $10, $10)"
        )
        .bind(a.id)
        .bind(&self.partner)
        .bind(&self.dialogue)
        .bind(a.status)
        .bind(a.stopped_by)
        .bind(a.vipps_agreement_id)
        .bind(a.confirmation_url)
        .bind(a.inbound_message_id)
        .bind(format!("token-{}", a.id))
        .bind(a.created_at)
        .execute(p)
        .await
        .expect("inserts the agreement")
        .rows_affected()
        });
    }

    /// A well-formed agreement row with `id`.
    async fn good_agreement(&self, id: &str) {
        self.insert_agreement(RawAgreement {
            id,
            status: "ACTIVE",
            stopped_by: None,
            vipps_agreement_id: None,
            confirmation_url: None,
            inbound_message_id: None,
            created_at: self.app.state.clock.now_ms(),
        })
        .await;
    }

    async fn inbound_message(&self, gateway_id: &str) -> String {
        let mut tx = self.db().begin().await.unwrap();
        let new = messages::NewMessage {
            partner_id: None,
            dialogue_id: None,
            direction: "in",
            provider: "http",
            gateway_message_id: Some(gateway_id),
            from_addr: "+4791234567",
            to_addr: "2160",
            text: "GIVE",
            status: "received",
            purpose: None,
            in_reply_to: None,
            agreement_id: None,
            charge_id: None,
        };
        let id = messages::insert(&mut tx, &new, self.app.state.clock.now_ms())
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn execute(&self, sql: &'static str, id: &str) {
        with_pool!(self.db(), |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .expect("updates the row")
            .rows_affected());
    }
}

fn assert_names(err: sqlx::Error, value: &str) {
    assert!(
        matches!(err, sqlx::Error::ColumnDecode { .. }),
        "a decode error, got {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&format!("{value:?}")), "{text}");
}

#[tokio::test]
async fn unknown_statuses_actors_and_outcomes_fail_the_read_naming_the_value() {
    let f = setup(false).await;
    let now = f.app.state.clock.now_ms();
    f.insert_agreement(RawAgreement {
        id: "agr_halted",
        status: "HALTED",
        stopped_by: None,
        vipps_agreement_id: None,
        confirmation_url: None,
        inbound_message_id: None,
        created_at: now,
    })
    .await;
    assert_names(
        agreements::get(f.db(), "agr_halted").await.unwrap_err(),
        "HALTED",
    );
    // The API does not show it as some other status either.
    let (status, body) = f.app.get("/api/v1/agreements/agr_halted", &f.key).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["code"], "internal");

    f.insert_agreement(RawAgreement {
        id: "agr_by_system",
        status: "STOPPED",
        stopped_by: Some("SYSTEM"),
        vipps_agreement_id: None,
        confirmation_url: None,
        inbound_message_id: None,
        created_at: now,
    })
    .await;
    assert_names(
        agreements::get(f.db(), "agr_by_system").await.unwrap_err(),
        "SYSTEM",
    );

    // A charge whose status is no charge status.
    f.good_agreement("agr_ok").await;
    let mut tx = f.db().begin().await.unwrap();
    let today = f.app.state.clock.today_oslo();
    charges::record_initial(
        &mut tx,
        "agr_ok",
        &f.partner,
        &f.dialogue,
        today,
        10_000,
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        charges::for_agreement(f.db(), "agr_ok")
            .await
            .unwrap()
            .len(),
        1
    );
    f.execute(
        "UPDATE charges SET status = 'BOUNCED' WHERE agreement_id = $1",
        "agr_ok",
    )
    .await;
    assert_names(
        charges::for_agreement(f.db(), "agr_ok").await.unwrap_err(),
        "BOUNCED",
    );

    // Outcomes are read by direction: a reply purpose is no inbound outcome.
    let inbound = f.inbound_message("gw-typed-1").await;
    assert_eq!(
        messages::get(f.db(), &inbound)
            .await
            .unwrap()
            .unwrap()
            .inbound_outcome,
        None
    );
    f.execute(
        "UPDATE messages SET outcome = 'vipps_link' WHERE id = $1",
        &inbound,
    )
    .await;
    assert_names(
        messages::get(f.db(), &inbound).await.unwrap_err(),
        "vipps_link",
    );
    f.execute(
        "UPDATE messages SET outcome = 'agreement_drafted', direction = 'out' WHERE id = $1",
        &inbound,
    )
    .await;
    assert_names(
        messages::get(f.db(), &inbound).await.unwrap_err(),
        "agreement_drafted",
    );
    f.execute(
        "UPDATE messages SET outcome = 'vipps_link' WHERE id = $1",
        &inbound,
    )
    .await;
    let read = messages::get(f.db(), &inbound).await.unwrap().unwrap();
    assert_eq!(read.reply_purpose, Some(ReplyPurpose::VippsLink));
    assert_eq!(read.inbound_outcome, None);
    f.app.stop().await;
}

#[tokio::test]
async fn an_unreadable_timestamp_is_an_error_not_1970() {
    let f = setup(false).await;
    f.insert_agreement(RawAgreement {
        id: "agr_far_future",
        status: "PENDING",
        stopped_by: None,
        vipps_agreement_id: None,
        confirmation_url: None,
        inbound_message_id: None,
        created_at: i64::MAX,
    })
    .await;
    let (status, body) = f.app.get("/api/v1/agreements/agr_far_future", &f.key).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(!body.to_string().contains("1970"), "{body}");
    f.app.stop().await;
}

#[tokio::test]
async fn a_job_that_meets_an_unreadable_row_stops_at_once_and_says_why() {
    let f = setup(true).await;
    f.insert_agreement(RawAgreement {
        id: "agr_halted",
        status: "HALTED",
        stopped_by: None,
        vipps_agreement_id: None,
        confirmation_url: None,
        inbound_message_id: None,
        created_at: f.app.state.clock.now_ms(),
    })
    .await;
    let result = f.draft_fails_at_once("agr_halted").await;
    assert!(result.contains("HALTED"), "{result}");
    f.app.stop().await;
}

#[tokio::test]
async fn a_draft_without_a_usable_link_sends_no_sms() {
    let f = setup(true).await;
    let inbound = f.inbound_message("gw-typed-2").await;
    // Drafted in Vipps, but the link stored for it is empty (as the old code stored it when
    // Vipps answered without one).
    f.insert_agreement(RawAgreement {
        id: "agr_no_link",
        status: "PENDING",
        stopped_by: None,
        vipps_agreement_id: Some("agr_vipps_no_link"),
        confirmation_url: Some(""),
        inbound_message_id: Some(&inbound),
        created_at: f.app.state.clock.now_ms(),
    })
    .await;
    let result = f.draft_fails_at_once("agr_no_link").await;
    assert!(result.contains("no SMS sent"), "{result}");
    let replies: i64 = with_pool!(f.db(), |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE direction = 'out'"
    )
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(replies, 0, "no reply was queued");
    f.app.stop().await;
}
