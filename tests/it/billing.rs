//! Recurring charging with the simulator's clock: one charge per period on the right due
//! date, statuses collected, stops and end dates respected, sweeps that never double-charge.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use dialogpay::{domain::period::Period, worker::JobContext};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{INBOUND_TOKEN, OPERATOR_KEY, Options, TestApp, eventually};

pub(crate) const PHONE: &str = "+4798765432";

pub(crate) struct Billing {
    pub(crate) app: TestApp,
    pub(crate) key: String,
    pub(crate) agreement: String,
    vipps_id: String,
}

pub(crate) fn sim(app: &TestApp) -> &dialogpay::vipps::sim::Simulator {
    app.simulator.as_ref().unwrap()
}

/// Starts at `start` (simulator time), creates a dialogue of `period` and an ACTIVE agreement;
/// billing runs only when the test sweeps.
pub(crate) async fn active_agreement(period: &str, start: NaiveDate, end_days: u64) -> Billing {
    active_agreement_with(period, start, end_days, Options::manual_billing()).await
}

/// [`active_agreement`] on an app started with `options`.
pub(crate) async fn active_agreement_with(
    period: &str,
    start: NaiveDate,
    end_days: u64,
    options: Options,
) -> Billing {
    active_agreement_where(period, start, end_days, options, json!({}), 9).await
}

/// [`active_agreement_with`] on a dialogue with `more` fields (e.g. its notice texts), the
/// keyword sent at `hour` o'clock UTC of `start`.
pub(crate) async fn active_agreement_where(
    period: &str,
    start: NaiveDate,
    end_days: u64,
    options: Options,
    more: Value,
    hour: u32,
) -> Billing {
    let app = TestApp::spawn_with(options).await;
    sim(&app).set_now(Utc.from_utc_datetime(&start.and_hms_opt(hour, 0, 0).unwrap()));
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let body = json!({
        "name": "Giver", "crm_group_id": group, "start_date": start.to_string(),
        "end_date": (start + chrono::Days::new(end_days)).to_string(), "module_type": "vipps_payments",
        "recurring": true, "period": period, "product_name": "Fast giver", "product_description": "Support",
        "amount": "50", "sender": "2160", "reply_message": "{vipps_link}", "keyword": "GIVE"
    });
    let mut body = body;
    for (field, value) in more.as_object().into_iter().flatten() {
        body[field] = value.clone();
    }
    let (status, d) = app.post("/api/v1/dialogues", &key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    let sms = json!({ "message_id": "gw-1", "from": PHONE, "to": "2160", "text": "GIVE" });
    app.call(
        Method::POST,
        "/webhooks/sms/inbound",
        Some(INBOUND_TOKEN),
        Some(sms),
    )
    .await;
    let dialogue = d["id"].as_str().unwrap().to_owned();
    app.run_pending_jobs().await;
    let (_, page) = app
        .get(&format!("/api/v1/dialogues/{dialogue}/agreements"), &key)
        .await;
    let a = page["items"][0].clone();
    assert!(a["vipps_agreement_id"].is_string(), "the draft: {page}");
    let vipps_id = a["vipps_agreement_id"].as_str().unwrap().to_owned();
    sim(&app).approve(&vipps_id, None).unwrap();
    let b = Billing {
        agreement: a["id"].as_str().unwrap().to_owned(),
        app,
        key,
        vipps_id,
    };
    b.settled_agreement("ACTIVE", |a| a["status"] == "ACTIVE")
        .await;
    b
}

impl Billing {
    /// Runs the pending jobs, then reads the agreement, which must pass `check` (`what` says
    /// what it checks).
    pub(crate) async fn settled_agreement(
        &self,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        self.app.run_pending_jobs().await;
        let (_, a) = self
            .app
            .get(&format!("/api/v1/agreements/{}", self.agreement), &self.key)
            .await;
        assert!(check(&a), "{what}: {a}");
        a
    }

    /// Waits for the agreement to pass `check`, for work no test step triggers (the cron).
    pub(crate) async fn agreement_where(
        &self,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(Duration::from_secs(30), what, || async {
            let (_, a) = self
                .app
                .get(&format!("/api/v1/agreements/{}", self.agreement), &self.key)
                .await;
            check(&a).then_some(a)
        })
        .await
    }

    pub(crate) async fn sweep(&self) {
        let (status, body) = self
            .app
            .post("/api/v1/admin/billing/sweep", OPERATOR_KEY, json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }

    pub(crate) async fn reconcile(&self) {
        let (status, body) = self
            .app
            .post("/api/v1/admin/reconcile", OPERATOR_KEY, json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }

    pub(crate) fn set_day(&self, day: NaiveDate) {
        sim(&self.app).set_now(Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).unwrap()));
    }

    /// The agreement's RECURRING charges in the simulator.
    pub(crate) fn recurring_in_vipps(&self) -> usize {
        self.sim_charges()
            .iter()
            .filter(|c| c.charge_type.as_str() == "RECURRING")
            .count()
    }

    fn sim_charges(&self) -> Vec<dialogpay::vipps::wire::ChargeResponse> {
        sim(&self.app)
            .agreements()
            .into_iter()
            .find(|a| a.agreement_id == self.vipps_id)
            .unwrap()
            .charges
    }

    /// Walks `periods` periods: create each charge ahead of its due date, let the simulator
    /// process it, reconcile, and check one charge per period with the right due date.
    async fn walk(&self, period: Period, anchor: NaiveDate, periods: u32) {
        for k in 1..=periods {
            let due = period.due_date(anchor, k);
            self.set_day(due - chrono::Days::new(2));
            self.sweep().await;
            let a = self
                .settled_agreement(&format!("charge {k} created"), |a| {
                    a["charges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|c| c["period_index"] == k && c["vipps_charge_id"].is_string())
                })
                .await;
            let charge = a["charges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["period_index"] == k)
                .unwrap()
                .clone();
            assert_eq!(charge["due_date"], due.to_string(), "period {k}");
            assert_eq!(charge["type"], "RECURRING");
            assert_eq!(charge["amount_ore"], 5000);
            self.set_day(due + chrono::Days::new(1));
            self.reconcile().await;
            self.settled_agreement(&format!("charge {k} charged"), |a| {
                a["charges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["period_index"] == k && c["status"] == "CHARGED")
            })
            .await;
        }
        let a = self.settled_agreement("final", |_| true).await;
        let charges = a["charges"].as_array().unwrap();
        assert_eq!(
            charges.len() as u32,
            periods + 1,
            "one charge per period, the initial one included"
        );
        // Vipps has exactly one recurring charge per period too.
        assert_eq!(self.recurring_in_vipps() as u32, periods);
    }
}

#[tokio::test]
async fn monthly_anchored_on_the_31st_for_13_periods() {
    let anchor = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap();
    let b = active_agreement("month", anchor, 500).await;
    b.walk(Period::Month, anchor, 13).await;
    let a = b.settled_agreement("final", |_| true).await;
    let dues: Vec<&str> = a["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["due_date"].as_str().unwrap())
        .collect();
    assert_eq!(
        &dues[..5],
        [
            "2027-01-31",
            "2027-02-28",
            "2027-03-31",
            "2027-04-30",
            "2027-05-31"
        ]
    );
    b.app.stop().await;
}

#[tokio::test]
async fn weekly_for_13_periods() {
    let anchor = NaiveDate::from_ymd_opt(2027, 3, 3).unwrap();
    let b = active_agreement("week", anchor, 200).await;
    b.walk(Period::Week, anchor, 13).await;
    b.app.stop().await;
}

#[tokio::test]
async fn yearly_for_3_periods() {
    let anchor = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
    let b = active_agreement("year", anchor, 1200).await;
    b.walk(Period::Year, anchor, 3).await;
    let a = b.settled_agreement("final", |_| true).await;
    assert_eq!(a["charges"][1]["due_date"], "2029-02-28");
    b.app.stop().await;
}

#[tokio::test]
async fn sweeping_twice_creates_no_duplicate() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    b.set_day(Period::Month.due_date(anchor, 1) - chrono::Days::new(2));
    b.sweep().await;
    b.sweep().await;
    b.settled_agreement("charge 1", |a| {
        a["charges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["vipps_charge_id"].is_string() && c["period_index"] == 1)
    })
    .await;
    b.sweep().await;
    let a = b.settled_agreement("final", |_| true).await;
    assert_eq!(a["charges"].as_array().unwrap().len(), 2);
    assert_eq!(b.recurring_in_vipps(), 1);
    b.app.stop().await;
}

#[tokio::test]
async fn a_user_who_stops_in_the_app_is_never_charged_again() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    sim(&b.app).user_stop(&b.vipps_id).unwrap();
    b.settled_agreement("stopped", |a| a["status"] == "STOPPED")
        .await;
    b.set_day(Period::Month.due_date(anchor, 1) - chrono::Days::new(2));
    b.sweep().await;
    let a = b.settled_agreement("final", |_| true).await;
    assert_eq!(
        a["charges"].as_array().unwrap().len(),
        1,
        "only the initial charge"
    );
    b.app.stop().await;
}

#[tokio::test]
async fn a_failing_card_gives_failed_with_the_reason() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    sim(&b.app).set_funding(PHONE.trim_start_matches('+'), false);
    sim(&b.app).set_funding(PHONE, false);
    let due = Period::Month.due_date(anchor, 1);
    b.set_day(due - chrono::Days::new(2));
    b.sweep().await;
    b.settled_agreement("charge 1", |a| {
        a["charges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["vipps_charge_id"].is_string() && c["period_index"] == 1)
    })
    .await;
    b.set_day(due + chrono::Days::new(5));
    b.reconcile().await;
    let a = b
        .settled_agreement("charge 1 failed", |a| {
            a["charges"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["period_index"] == 1 && c["status"] == "FAILED")
        })
        .await;
    let failed = a["charges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["period_index"] == 1)
        .unwrap();
    assert!(failed["failure_reason"].is_string(), "{failed}");
    b.app.stop().await;
}

#[tokio::test]
async fn dialogue_statistics_count_the_journey() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    let (status, list) = b
        .app
        .get("/api/v1/dialogues?from=2027-05-01&to=2027-05-31", &b.key)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let stats = &list["items"][0]["stats"];
    assert_eq!(stats["keyword_messages"], 1, "{stats}");
    assert_eq!(stats["agreements_drafted"], 1);
    assert_eq!(stats["agreements_activated"], 1);
    assert_eq!(stats["active_agreements"], 1);
    assert_eq!(stats["charges_charged"], 1);
    assert_eq!(stats["amount_charged_ore"], 5000);
    assert_eq!(stats["amount_charged"], "50.00");
    let id = list["items"][0]["id"].as_str().unwrap();
    let (status, series) = b
        .app
        .get(
            &format!("/api/v1/dialogues/{id}/stats?from=2027-05-01&to=2027-05-31&bucket=week"),
            &b.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(series["buckets"].as_array().unwrap().len(), 5);
    let (status, _) = b
        .app
        .get("/api/v1/dialogues?from=2027-06-01&to=2027-05-01", &b.key)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    b.app.stop().await;
}

#[tokio::test]
async fn a_create_charge_rerun_after_the_vipps_call_creates_no_second_charge() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    b.set_day(Period::Month.due_date(anchor, 1) - chrono::Days::new(2));
    b.sweep().await;
    let a = b
        .settled_agreement("charge 1", |a| {
            a["charges"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["vipps_charge_id"].is_string() && c["period_index"] == 1)
        })
        .await;
    let first_id = a["charges"][1]["vipps_charge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The crash: Vipps created the charge, but our answer was never recorded.
    dialogpay::with_pool!(&b.app.state.db, |p| sqlx::query(
        "UPDATE charges SET vipps_charge_id = NULL WHERE period_index = 1"
    )
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let job = dialogpay_jobs::billing::CreateCharge {
        agreement_id: b.agreement.clone(),
        period_index: 1,
    };
    dialogpay::worker::handlers::billing::create_charge(job, JobContext::from_state(&b.app.state))
        .await
        .expect("the rerun succeeds");
    let a = b
        .settled_agreement("charge 1 again", |a| {
            a["charges"][1]["vipps_charge_id"].is_string()
        })
        .await;
    assert_eq!(
        a["charges"][1]["vipps_charge_id"],
        first_id.as_str(),
        "the same charge, by the same idempotency key"
    );
    assert_eq!(b.recurring_in_vipps(), 1);
    b.app.stop().await;
}

/// Another call (a crashed batch re-run) created the period's charge under our orderId first:
/// the single create that Vipps refuses with 409 records that charge, not CREATE_FAILED.
#[tokio::test]
async fn a_create_that_finds_its_order_id_taken_records_the_charge_vipps_has() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    let due = Period::Month.due_date(anchor, 1);
    b.set_day(due - chrono::Days::new(2));
    let order = dialogpay_jobs::billing::order_id(&b.agreement, 1);
    let request = dialogpay::vipps::wire::CreateChargeRequest {
        amount: 5000,
        transaction_type: dialogpay::vipps::wire::TransactionType::DirectCapture,
        description: "Fast giver".into(),
        due,
        retry_days: 3,
        order_id: Some(order.clone()),
        external_id: None,
        charge_type: None,
        processing_mode: None,
    };
    let other_key = dialogpay::vipps::IdempotencyKey::new("another-call".to_owned()).unwrap();
    b.app
        .state
        .vipps
        .create_charge("123456", &b.vipps_id, &request, other_key)
        .await
        .expect("the other call creates the charge");
    let job = dialogpay_jobs::billing::CreateCharge {
        agreement_id: b.agreement.clone(),
        period_index: 1,
    };
    dialogpay::worker::handlers::billing::create_charge(job, JobContext::from_state(&b.app.state))
        .await
        .expect("the refused create records the existing charge");
    let a = b.settled_agreement("final", |_| true).await;
    let charge = &a["charges"][1];
    assert_eq!(charge["vipps_charge_id"], order.as_str(), "{charge}");
    assert_ne!(charge["status"], "CREATE_FAILED", "{charge}");
    assert_eq!(b.recurring_in_vipps(), 1);
    b.app.stop().await;
}

#[tokio::test]
async fn vipps_503_and_429_delay_charges_but_lose_none() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    let faults = dialogpay::vipps::sim::Faults {
        status: Some(503),
        count: Some(2),
        ..Default::default()
    };
    sim(&b.app).add_faults(faults);
    let faults = dialogpay::vipps::sim::Faults {
        status: Some(429),
        count: Some(1),
        ..Default::default()
    };
    sim(&b.app).add_faults(faults);
    b.set_day(Period::Month.due_date(anchor, 1) - chrono::Days::new(2));
    b.sweep().await;
    b.settled_agreement("charge 1 despite the faults", |a| {
        a["charges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["vipps_charge_id"].is_string() && c["period_index"] == 1)
    })
    .await;
    assert_eq!(b.recurring_in_vipps(), 1);
    b.app.stop().await;
}

#[tokio::test]
async fn the_dialogue_end_date_stops_charging_and_the_agreement() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    // The dialogue ends before period 2 is due.
    let b = active_agreement("month", anchor, 40).await;
    b.walk(Period::Month, anchor, 1).await;
    let due2 = Period::Month.due_date(anchor, 2);
    b.set_day(due2 - chrono::Days::new(2));
    b.sweep().await;
    let a = b
        .settled_agreement("no charge after the end", |_| true)
        .await;
    assert_eq!(
        a["charges"].as_array().unwrap().len(),
        2,
        "initial + period 1 only"
    );
    assert_eq!(a["status"], "ACTIVE", "period 1 is paid until {due2}");
    b.set_day(due2);
    b.sweep().await;
    let a = b
        .settled_agreement("stopped after its last paid period", |a| {
            a["status"] == "STOPPED"
        })
        .await;
    assert_eq!(a["stopped_by"], "MERCHANT");
    b.app.stop().await;
}

#[tokio::test]
async fn payments_are_listed_per_dialogue_and_status_and_isolated_per_partner() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    b.walk(Period::Month, anchor, 2).await;
    let (status, page) = b
        .app
        .get("/api/v1/charges?status=CHARGED&limit=2", &b.key)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["next_cursor"].is_string());
    assert_eq!(page["items"][0]["agreement_id"], b.agreement.as_str());
    let (_, filtered) = b
        .app
        .get("/api/v1/charges?from=2027-06-01&to=2027-06-30", &b.key)
        .await;
    let dues: Vec<&str> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["due_date"].as_str().unwrap())
        .collect();
    assert_eq!(dues, ["2027-06-10"]);
    let (_, other) = b.app.partner("Other").await;
    let (_, none) = b.app.get("/api/v1/charges", &other).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    b.app.stop().await;
}

#[tokio::test]
async fn two_workers_creating_the_same_period_at_once_make_one_charge() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b = active_agreement("month", anchor, 400).await;
    b.set_day(Period::Month.due_date(anchor, 1) - chrono::Days::new(2));
    let job = dialogpay_jobs::billing::CreateCharge {
        agreement_id: b.agreement.clone(),
        period_index: 1,
    };
    let create = dialogpay::worker::handlers::billing::create_charge;
    let (first, second) = tokio::join!(
        create(job.clone(), JobContext::from_state(&b.app.state)),
        create(job, JobContext::from_state(&b.app.state))
    );
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    let a = b
        .settled_agreement("charge 1", |a| {
            a["charges"][1]["vipps_charge_id"].is_string()
        })
        .await;
    assert_eq!(
        a["charges"].as_array().unwrap().len(),
        2,
        "one row for period 1 (UNIQUE (agreement_id, period_index))"
    );
    assert_eq!(b.recurring_in_vipps(), 1);
    b.app.stop().await;
}

#[tokio::test]
async fn two_worker_processes_sweeping_at_once_create_no_duplicate() {
    const AGREEMENTS: u64 = 150;
    let one = TestApp::spawn_with(Options::manual_billing()).await;
    let dialogue = dialogpay::bench::billing::seed(&one.state, one.simulator.as_ref(), AGREEMENTS)
        .await
        .expect("seeds ACTIVE agreements");
    // A second process on the same database, talking to the first one's simulator as if it were
    // Vipps, with its business clock on the simulator's time.
    let two = TestApp::spawn_on(
        one.test_db.clone(),
        Options {
            overrides: vec![
                ("vipps.mode", "live".into()),
                ("vipps.base_url", format!("{}/vipps-sim", one.base).into()),
                ("vipps.client_id", "simulator".into()),
                ("vipps.client_secret", "simulator".into()),
                ("vipps.subscription_key", "simulator".into()),
            ],
            ..Options::manual_billing()
        },
    )
    .await;
    let skew = sim(&one).now() - two.state.clock.now();
    two.state.clock.advance(skew);

    const SWEEP: &str = "/api/v1/admin/billing/sweep";
    let (a, b) = tokio::join!(
        one.post(SWEEP, OPERATOR_KEY, json!({})),
        two.post(SWEEP, OPERATOR_KEY, json!({}))
    );
    assert_eq!(a.0, StatusCode::ACCEPTED, "{}", a.1);
    assert_eq!(b.0, StatusCode::ACCEPTED, "{}", b.1);
    let (a, b) = tokio::join!(
        two.post(SWEEP, OPERATOR_KEY, json!({})),
        one.post(SWEEP, OPERATOR_KEY, json!({}))
    );
    assert_eq!((a.0, b.0), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));

    let db = &one.state.db;
    let count = |sql: &'static str| {
        let dialogue = dialogue.clone();
        async move {
            dialogpay::with_pool!(db, |p| sqlx::query_scalar::<_, i64>(sql)
                .bind(&dialogue)
                .fetch_one(p)
                .await)
            .unwrap()
        }
    };
    // Both processes work the queue; one drain watches it (the table is shared).
    one.run_pending_jobs().await;
    let sent = count(
        "SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND period_index = 1 AND vipps_charge_id IS NOT NULL",
    )
    .await;
    assert_eq!(sent, AGREEMENTS as i64, "every charge sent to Vipps");
    // Both processes took part, and still one charge per agreement and period, here and in Vipps.
    let table = if db.is_postgres() {
        "apalis.jobs"
    } else {
        "Jobs"
    };
    let workers: i64 =
        dialogpay::with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT lock_by) FROM {table} WHERE job_type = 'billing.create_charge'"
        )))
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(workers, 2, "both processes created charges");
    assert_eq!(
        count("SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND period_index = 1").await,
        AGREEMENTS as i64
    );
    let mut per_agreement = std::collections::HashMap::new();
    for a in sim(&one).agreements() {
        let recurring = a
            .charges
            .iter()
            .filter(|c| c.charge_type.as_str() == "RECURRING")
            .count();
        per_agreement.insert(a.agreement_id.clone(), recurring);
    }
    assert_eq!(per_agreement.len() as u64, AGREEMENTS);
    assert!(
        per_agreement.values().all(|&n| n == 1),
        "one recurring charge per agreement in the simulator: {:?}",
        per_agreement.values().filter(|&&n| n != 1).count()
    );
    two.stop().await;
    one.stop().await;
}

/// A billing app whose runs above `threshold` periods use the batch endpoint, `size` per call,
/// with `n` seeded ACTIVE agreements (period 1 due in two days).
async fn batch_app(threshold: u32, size: u32, n: u64) -> (TestApp, String) {
    let app = TestApp::spawn_with(Options {
        overrides: vec![
            ("billing.batch_threshold", threshold.into()),
            ("billing.batch_size", size.into()),
        ],
        ..Options::manual_billing()
    })
    .await;
    let dialogue = dialogpay::bench::billing::seed(&app.state, app.simulator.as_ref(), n)
        .await
        .expect("seeds ACTIVE agreements");
    // Vipps events reach us only once our webhook is registered. The seed writes its partner
    // straight to the database, past the admin API that asks for the registration (and maybe
    // after start-up asked for the partners it found): ask, as the demo does.
    for partner in dialogpay::db::partners::list(&app.state.db).await.unwrap() {
        let register = dialogpay_jobs::vipps::RegisterWebhook {
            msn: partner.vipps_msn,
        };
        app.state.enqueuer.enqueue(&register).await.unwrap();
    }
    app.run_pending_jobs().await;
    let n: i64 = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM vipps_webhooks"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(n > 0, "the webhook registered");
    sim(&app).clear_requests();
    (app, dialogue)
}

async fn count_charges(app: &TestApp, sql: &'static str, dialogue: &str) -> i64 {
    dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar::<_, i64>(sql)
        .bind(dialogue)
        .fetch_one(p)
        .await)
    .unwrap()
}

/// How many `operation` requests (`create_charge`, `refund_charge`, `fetch_charge`…) the
/// simulator received.
pub(crate) fn sim_calls(app: &TestApp, operation: &str) -> usize {
    sim(app)
        .requests()
        .iter()
        .filter(|r| r.operation.as_deref() == Some(operation))
        .count()
}

#[tokio::test]
async fn a_large_run_creates_its_charges_with_the_batch_endpoint() {
    let (app, dialogue) = batch_app(10, 40, 100).await;
    let (status, body) = app
        .post("/api/v1/admin/billing/sweep", OPERATOR_KEY, json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.run_pending_jobs().await;
    let created = count_charges(
        &app,
        "SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND period_index = 1 AND vipps_charge_id IS NOT NULL",
        &dialogue,
    )
    .await;
    assert_eq!(created, 100, "every charge created");
    assert_eq!(sim_calls(&app, "create_charges_batch"), 3, "40 + 40 + 20");
    assert_eq!(sim_calls(&app, "create_charge"), 0);
    for a in sim(&app).agreements() {
        let recurring: Vec<_> = a
            .charges
            .iter()
            .filter(|c| c.charge_type.as_str() == "RECURRING")
            .collect();
        assert_eq!(recurring.len(), 1, "one charge for {}", a.agreement_id);
    }
    // A second sweep of the same run finds nothing left to create.
    app.post("/api/v1/admin/billing/sweep", OPERATOR_KEY, json!({}))
        .await;
    app.run_pending_jobs().await;
    assert_eq!(sim_calls(&app, "create_charges_batch"), 3);
    assert_eq!(
        count_charges(
            &app,
            "SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND period_index = 1",
            &dialogue
        )
        .await,
        100
    );
    app.stop().await;
}

#[tokio::test]
async fn batch_items_vipps_cannot_create_are_recorded_as_create_failed() {
    let (app, dialogue) = batch_app(5, 2000, 12).await;
    // Over five times the agreement's price: Vipps accepts the items, then reports each one
    // with a recurring.charge-creation-failed.v1 event.
    dialogpay::with_pool!(&app.state.db, |p| sqlx::query(
        "UPDATE dialogues SET amount_ore = 60000 WHERE id = $1"
    )
    .bind(&dialogue)
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    app.post("/api/v1/admin/billing/sweep", OPERATOR_KEY, json!({}))
        .await;
    app.run_pending_jobs().await;
    let failed = count_charges(
        &app,
        "SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND status = 'CREATE_FAILED' \
         AND problem_type = 'charge-creation-failed' AND failure_description IS NOT NULL",
        &dialogue,
    )
    .await;
    assert_eq!(failed, 12, "every charge CREATE_FAILED");
    assert_eq!(sim_calls(&app, "create_charges_batch"), 1);
    app.stop().await;
}

/// The bulk charge writes a batch job makes, run again as after a crash: periods that have a
/// row get that row back (no second row, no second history entry), new ones are inserted; a
/// refused batch moves only the PENDING charges to CREATE_FAILED, each with one history entry.
#[tokio::test]
async fn bulk_charge_writes_run_again_keep_the_rows_they_made() {
    use dialogpay::{db::charges, domain::status::ChargeStatus};
    let (app, dialogue) = batch_app(1000, 2000, 3).await;
    let db = &app.state.db;
    let agreements: Vec<(String, String)> = dialogpay::with_pool!(db, |p| sqlx::query_as(
        "SELECT id, partner_id FROM agreements WHERE dialogue_id = $1 ORDER BY id"
    )
    .bind(&dialogue)
    .fetch_all(p)
    .await)
    .unwrap();
    let due = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
    fn period<'a>(
        a: &'a (String, String),
        dialogue: &'a str,
        due: NaiveDate,
    ) -> charges::NewRecurring<'a> {
        charges::NewRecurring {
            agreement_id: &a.0,
            partner_id: &a.1,
            dialogue_id: dialogue,
            period_index: 7,
            due_date: due,
            amount_ore: 10_000,
            status: ChargeStatus::Pending,
        }
    }
    let first: Vec<_> = agreements[..2]
        .iter()
        .map(|a| period(a, &dialogue, due))
        .collect();
    let mut tx = db.begin().await.unwrap();
    let made = charges::insert_recurring_many(&mut tx, &first, 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(made.len(), 2);

    let all: Vec<_> = agreements
        .iter()
        .map(|a| period(a, &dialogue, due))
        .collect();
    let mut tx = db.begin().await.unwrap();
    let rows = charges::insert_recurring_many(&mut tx, &all, 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<&str> = rows.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        &ids[..2],
        [made[0].id.as_str(), made[1].id.as_str()],
        "the rows kept"
    );
    assert_eq!(
        rows.iter().map(|c| c.created_at).collect::<Vec<_>>(),
        [1, 1, 2]
    );
    assert!(
        rows.iter()
            .zip(&agreements)
            .all(|(c, (a, _))| &c.agreement_id == a
                && c.period_index == 7
                && c.due_date == due
                && c.amount_ore == 10_000
                && c.status == ChargeStatus::Pending),
        "{rows:?}"
    );

    let mut tx = db.begin().await.unwrap();
    charges::apply_status(&mut tx, &rows[0].id, ChargeStatus::Charged, None, None, 3)
        .await
        .unwrap();
    let refused: Vec<(&str, &str, &str)> =
        ids.iter().map(|id| (*id, "http_400", "refused")).collect();
    charges::set_create_failed_many(&mut tx, &refused, 4)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let statuses: Vec<ChargeStatus> =
        futures::future::join_all(ids.iter().map(|id| charges::get(db, id)))
            .await
            .into_iter()
            .map(|c| c.unwrap().unwrap().status)
            .collect();
    assert_eq!(
        statuses,
        [
            ChargeStatus::Charged,
            ChargeStatus::CreateFailed,
            ChargeStatus::CreateFailed
        ]
    );
    let history: Vec<(String, ChargeStatus)> = dialogpay::with_pool!(db, |p| sqlx::query_as(
        "SELECT h.charge_id, h.status FROM charge_status_history h JOIN charges c ON c.id = h.charge_id \
         WHERE c.dialogue_id = $1 AND c.period_index = 7 ORDER BY h.id"
    )
    .bind(&dialogue)
    .fetch_all(p)
    .await)
    .unwrap();
    let of = |id: &str| -> Vec<ChargeStatus> {
        history
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, s)| *s)
            .collect()
    };
    assert_eq!(of(ids[0]), [ChargeStatus::Pending, ChargeStatus::Charged]);
    assert_eq!(
        of(ids[1]),
        [ChargeStatus::Pending, ChargeStatus::CreateFailed]
    );
    assert_eq!(
        of(ids[2]),
        [ChargeStatus::Pending, ChargeStatus::CreateFailed]
    );
    app.stop().await;
}
