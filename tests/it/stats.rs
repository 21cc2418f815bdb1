//! Dialogue statistics: the trigger-kept counters agree with a plain count over the rows after a
//! random history of inserts, status changes and deletes, for any day range, on both engines.

use chrono::{Days, NaiveDate};
use dialogpay::{
    clock::oslo_midnight_ms,
    db::{
        Db,
        stats::{self, DayRange, DialogueStats},
    },
    with_pool,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Options, TestApp, db::insert_agreement};

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const DAY_MS: i64 = 86_400_000;
const CHARGE_STATUSES: [&str; 8] = [
    "PENDING",
    "DUE",
    "CHARGED",
    "FAILED",
    "CANCELLED",
    "PARTIALLY_REFUNDED",
    "REFUNDED",
    "CREATE_FAILED",
];

/// The figures counted straight from the rows: what the counters must always equal.
async fn counted(db: &Db, dialogue_id: &str, range: DayRange) -> DialogueStats {
    const SQL: &str = "SELECT \
        (SELECT COUNT(*) FROM messages WHERE dialogue_id = $1 AND direction = 'in' AND created_at >= $2 AND created_at < $3) AS keyword_messages, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND created_at >= $2 AND created_at < $3) AS agreements_drafted, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND activated_at >= $2 AND activated_at < $3) AS agreements_activated, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND expired_at >= $2 AND expired_at < $3) AS agreements_expired, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND stopped_at >= $2 AND stopped_at < $3) AS agreements_stopped, \
        (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND activated_at < $3 AND (stopped_at IS NULL OR stopped_at >= $3)) AS active_agreements, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND created_at >= $2 AND created_at < $3) AS charges_created, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')) AS charges_charged, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status = 'FAILED') AS charges_failed, \
        (SELECT CAST(COALESCE(SUM(amount_ore), 0) AS BIGINT) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')) AS amount_charged_ore, \
        (SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND due_date >= $4 AND due_date <= $5 AND status = 'CANCELLED') AS charges_cancelled, \
        (SELECT COUNT(*) FROM refunds r JOIN charges c ON c.id = r.charge_id WHERE c.dialogue_id = $1 AND c.due_date >= $4 AND c.due_date <= $5 AND r.status = 'DONE') AS refunds_done, \
        (SELECT CAST(COALESCE(SUM(r.amount_ore), 0) AS BIGINT) FROM refunds r JOIN charges c ON c.id = r.charge_id WHERE c.dialogue_id = $1 AND c.due_date >= $4 AND c.due_date <= $5 AND r.status = 'DONE') AS amount_refunded_ore";
    let end = range.to.succ_opt().unwrap();
    with_pool!(db, |p| sqlx::query_as(SQL)
        .bind(dialogue_id)
        .bind(oslo_midnight_ms(range.from))
        .bind(oslo_midnight_ms(end))
        .bind(range.from)
        .bind(range.to)
        .fetch_one(p)
        .await)
    .expect("counts")
}

async fn exec(db: &Db, sql: &'static str, binds: &[&str]) {
    with_pool!(db, |p| {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(p).await.map(|_| ())
    })
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn exec_ms(db: &Db, sql: &'static str, ms: i64, id: &str) {
    with_pool!(db, |p| sqlx::query(sql)
        .bind(ms)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Writes a random history for `dialogue_id` starting at `start` over `days` days.
async fn random_history(db: &Db, rng: &mut Rng, dialogue_id: &str, start: NaiveDate, days: i64) {
    let t0 = oslo_midnight_ms(start);
    let at = |rng: &mut Rng| t0 + rng.below((days * DAY_MS) as u64) as i64;
    let mut agreements = Vec::new();
    for n in 0..120 {
        let phone = format!("+47900{n:05}");
        let id = insert_agreement(db, dialogue_id, &phone).await;
        let created = at(rng);
        exec_ms(
            db,
            "UPDATE agreements SET created_at = $1 WHERE id = $2",
            created,
            &id,
        )
        .await;
        let activated = created + rng.below(3 * DAY_MS as u64) as i64;
        match rng.below(10) {
            0..=5 => {
                exec_ms(
                    db,
                    "UPDATE agreements SET status = 'ACTIVE', activated_at = $1 WHERE id = $2",
                    activated,
                    &id,
                )
                .await;
            }
            6 => {
                exec_ms(
                    db,
                    "UPDATE agreements SET status = 'EXPIRED', expired_at = $1 WHERE id = $2",
                    activated,
                    &id,
                )
                .await;
            }
            7 => {
                // Rejected in the app: stopped without ever being active.
                exec_ms(
                    db,
                    "UPDATE agreements SET status = 'STOPPED', stopped_at = $1 WHERE id = $2",
                    activated,
                    &id,
                )
                .await;
            }
            _ => {}
        }
        // Inbound keyword messages: some attributed at once, some by the inbound job later.
        let msg = dialogpay::db::ids::new_id("msg");
        let attributed_later = rng.chance(50);
        with_pool!(db, |p| sqlx::query(
            "INSERT INTO messages (id, partner_id, dialogue_id, direction, provider, from_addr, to_addr, text, \
             status, segments, encoding, created_at, updated_at) \
             SELECT $1, partner_id, CASE WHEN $2 THEN NULL ELSE id END, 'in', 'outbox', $3, '2160', 'GIVE', \
             'received', 1, 'gsm7', $4, $4 FROM dialogues WHERE id = $5"
        )
        .bind(&msg)
        .bind(attributed_later)
        .bind(&phone)
        .bind(created)
        .bind(dialogue_id)
        .execute(p)
        .await
        .map(|_| ()))
        .expect("inserts the message");
        if attributed_later {
            exec(
                db,
                "UPDATE messages SET dialogue_id = $1 WHERE id = $2",
                &[dialogue_id, &msg],
            )
            .await;
        }
        agreements.push((id, created));
    }
    // The same agreements again in one multi-row INSERT, every timestamp set at once, as a bulk
    // insert writes them (PostgreSQL adds an INSERT's contributions once per statement).
    with_pool!(db, |p| sqlx::query(
        "INSERT INTO agreements (id, partner_id, dialogue_id, phone, status, stopped_by, \
         inbound_message_id, manage_token, created_at, activated_at, expired_at, stopped_at, updated_at) \
         SELECT id || '-copy', partner_id, dialogue_id, phone || '9', status, stopped_by, \
         inbound_message_id, manage_token || '-copy', created_at, activated_at, expired_at, stopped_at, updated_at \
         FROM agreements WHERE dialogue_id = $1"
    )
    .bind(dialogue_id)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("copies the agreements in one statement");
    // Charges, then status changes (forward and, to prove the counters are exact, backward),
    // stops of active agreements, and a few deletes; refunds of some charges. Refunds draw from
    // their own generator, so the rest of the history is what it was before refunds existed.
    let mut refunds_rng = Rng(rng.0 ^ 0x00c0_ffee);
    let mut charges = Vec::new();
    for (agreement, created) in &agreements {
        for period in 0..rng.below(4) {
            let id = dialogpay::db::ids::new_id("chg");
            let due = start + Days::new(rng.below(days as u64 + 30));
            let status = CHARGE_STATUSES[rng.below(8) as usize];
            let amount = 100 + rng.below(100_000) as i64;
            with_pool!(db, |p| sqlx::query(
                "INSERT INTO charges (id, agreement_id, partner_id, dialogue_id, period_index, charge_type, \
                 due_date, amount_ore, status, order_id, created_at, updated_at) \
                 SELECT $1, $2, partner_id, dialogue_id, $3, 'RECURRING', $4, $5, $6, $1, $7, $7 \
                 FROM agreements WHERE id = $2"
            )
            .bind(&id)
            .bind(agreement)
            .bind(period as i32)
            .bind(due)
            .bind(amount)
            .bind(status)
            .bind(created + period as i64 * DAY_MS)
            .execute(p)
            .await
            .map(|_| ()))
            .expect("inserts the charge");
            charges.push(id);
        }
        if rng.chance(25) {
            exec_ms(db, "UPDATE agreements SET status = 'STOPPED', stopped_at = $1 WHERE id = $2 AND activated_at IS NOT NULL", created + rng.below(20 * DAY_MS as u64) as i64, agreement).await;
        }
    }
    for id in &charges {
        match rng.below(10) {
            0..=3 => {
                let status = CHARGE_STATUSES[rng.below(8) as usize];
                exec(
                    db,
                    "UPDATE charges SET status = $1 WHERE id = $2",
                    &[status, id],
                )
                .await;
            }
            4 => {
                exec(
                    db,
                    "UPDATE charges SET amount_ore = amount_ore + 1 WHERE id = $1",
                    &[id],
                )
                .await
            }
            5 => {
                exec(db, "DELETE FROM charges WHERE id = $1", &[id]).await;
                continue;
            }
            _ => {}
        }
        if refunds_rng.chance(30) {
            random_refund(db, &mut refunds_rng, id).await;
        }
    }
}

const REFUND_STATUSES: [&str; 3] = ["PENDING", "DONE", "FAILED"];

/// A refund of `charge` in a random status, then moved (forward or back) or deleted.
async fn random_refund(db: &Db, rng: &mut Rng, charge: &str) {
    let id = dialogpay::db::ids::new_id("rfd");
    let status = REFUND_STATUSES[rng.below(3) as usize];
    let amount = (100 + rng.below(5_000)).to_string();
    with_pool!(db, |p| sqlx::query(
        "INSERT INTO refunds (id, charge_id, partner_id, amount_ore, reason, status, idempotency_key, actor, \
         created_at, updated_at) SELECT $1, $2, partner_id, CAST($3 AS BIGINT), 'r', $4, $1, 'partner', 0, 0 \
         FROM charges WHERE id = $2"
    )
    .bind(&id)
    .bind(charge)
    .bind(&amount)
    .bind(status)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("inserts the refund");
    match rng.below(4) {
        0 | 1 => {
            let status = REFUND_STATUSES[rng.below(3) as usize];
            exec(
                db,
                "UPDATE refunds SET status = $1 WHERE id = $2",
                &[status, &id],
            )
            .await;
        }
        2 => exec(db, "DELETE FROM refunds WHERE id = $1", &[&id]).await,
        _ => {}
    }
}

#[tokio::test]
async fn counters_equal_a_plain_count_after_a_random_history() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let mut dialogues = Vec::new();
    for keyword in ["GIVE", "SUPPORT"] {
        let body = json!({
            "name": keyword, "crm_group_id": group, "start_date": "2026-12-01",
            "end_date": "2027-11-30", "module_type": "vipps_payments", "recurring": true,
            "period": "month", "product_name": "Fast giver", "product_description": "Support",
            "amount": "50", "sender": "2160", "reply_message": "{vipps_link}", "keyword": keyword
        });
        let (status, d) = app.post("/api/v1/dialogues", &key, body).await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        dialogues.push(d["id"].as_str().unwrap().to_owned());
    }
    let db = &app.state.db;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    // Across the October daylight-saving change, so 25-hour days are covered.
    let start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    for d in &dialogues {
        random_history(db, &mut rng, d, start, 60).await;
    }

    let mut ranges = vec![
        DayRange {
            from: start,
            to: start + Days::new(90),
        },
        DayRange {
            from: start - Days::new(10),
            to: start - Days::new(1),
        },
        DayRange {
            from: NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
        },
    ];
    for _ in 0..12 {
        let from = start + Days::new(rng.below(70));
        ranges.push(DayRange {
            from,
            to: from + Days::new(rng.below(40)),
        });
    }
    let mut nonzero = 0;
    for range in ranges {
        let listed = stats::for_dialogues(db, &dialogues, range).await.unwrap();
        for d in &dialogues {
            let want = counted(db, d, range).await;
            assert_eq!(listed[d], want, "for_dialogues {d} {range:?}");
            let mut folded = DialogueStats::default();
            let days = stats::daily(db, d, range).await.unwrap();
            assert_eq!(days.len() as i64, (range.to - range.from).num_days() + 1);
            for (day, figures) in &days {
                folded.extend(figures);
                let one_day = DayRange {
                    from: *day,
                    to: *day,
                };
                if rng.chance(5) {
                    assert_eq!(*figures, counted(db, d, one_day).await, "daily {d} {day}");
                }
            }
            assert_eq!(folded, want, "daily folded {d} {range:?}");
            if want.keyword_messages > 0
                && want.charges_charged > 0
                && want.active_agreements > 0
                && want.refunds_done > 0
                && want.charges_cancelled > 0
            {
                nonzero += 1;
            }
        }
    }
    assert!(
        nonzero >= 5,
        "the random history exercises the figures ({nonzero} ranges)"
    );

    // The endpoint serves the same figures.
    let range = DayRange {
        from: start,
        to: start + Days::new(30),
    };
    let want = counted(db, &dialogues[0], range).await;
    let (status, series) = app
        .get(
            &format!(
                "/api/v1/dialogues/{}/stats?from={}&to={}&bucket=week",
                dialogues[0], range.from, range.to
            ),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(series["total"]["keyword_messages"], want.keyword_messages);
    assert_eq!(series["total"]["active_agreements"], want.active_agreements);
    assert_eq!(
        series["total"]["amount_charged_ore"],
        want.amount_charged_ore
    );
    let buckets = series["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 5, "31 days are 4 weeks and 3 days");
    assert_eq!(buckets[4]["from"], "2026-10-29");
    assert_eq!(buckets[4]["to"], "2026-10-31");
    let bucket_sum: i64 = buckets
        .iter()
        .map(|b| b["charges_created"].as_i64().unwrap())
        .sum();
    assert_eq!(bucket_sum, want.charges_created);
    assert_eq!(buckets[4]["active_agreements"], want.active_agreements);
    app.stop().await;
}
