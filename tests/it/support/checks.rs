//! "Exactly once" checks shared by the crash and fault tests: our rows against what the Vipps
//! simulator and the fake SMS gateway saw. Every test has its own database, so whole tables
//! are counted.

use std::collections::{BTreeSet, HashMap};

use dialogpay::{db::Db, sms::fake::FakeSent, vipps::sim::AgreementDump, with_pool};

/// Jobs that ended for good without succeeding (failed with no attempts left, or killed).
pub async fn finally_failed_jobs(db: &Db) -> Vec<(String, String)> {
    let table = if db.is_postgres() {
        "apalis.jobs"
    } else {
        "Jobs"
    };
    let sql = format!(
        "SELECT job_type, id FROM {table} \
         WHERE status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts)"
    );
    with_pool!(db, |p| sqlx::query_as::<_, (String, String)>(
        sqlx::AssertSqlSafe(sql)
    )
    .fetch_all(p)
    .await)
    .expect("reads the job table")
}

/// (queue, status, jobs, most attempts) for every queue and status: what a stuck test prints.
pub async fn job_summary(db: &Db) -> Vec<(String, String, i64, i64)> {
    let table = if db.is_postgres() {
        "apalis.jobs"
    } else {
        "Jobs"
    };
    let sql = format!(
        "SELECT job_type, status, COUNT(*), CAST(MAX(attempts) AS BIGINT) FROM {table} \
         GROUP BY job_type, status ORDER BY job_type, status"
    );
    with_pool!(db, |p| sqlx::query_as::<_, (String, String, i64, i64)>(
        sqlx::AssertSqlSafe(sql)
    )
    .fetch_all(p)
    .await)
    .expect("reads the job table")
}

pub async fn assert_no_failed_jobs(db: &Db) {
    let failed = finally_failed_jobs(db).await;
    assert!(failed.is_empty(), "jobs that failed for good: {failed:?}");
}

/// Period-1 charges of `dialogue` that reached Vipps (have a Vipps charge id).
pub async fn charges_sent(db: &Db, dialogue: &str) -> i64 {
    with_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM charges WHERE dialogue_id = $1 AND period_index = 1 \
         AND vipps_charge_id IS NOT NULL"
    )
    .bind(dialogue)
    .fetch_one(p)
    .await)
    .expect("counts charges")
}

/// Every one of the `n` agreements of `dialogue` has exactly one period-1 charge row with a
/// Vipps charge id, and the simulator holds exactly one RECURRING charge per agreement: the
/// same one.
pub async fn assert_one_charge_per_agreement(
    db: &Db,
    dialogue: &str,
    n: usize,
    sim: &[AgreementDump],
) {
    let agreements: i64 = with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1"
    )
    .bind(dialogue)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(agreements as usize, n, "agreements of the dialogue");
    let rows: Vec<(Option<String>, Option<String>)> = with_pool!(db, |p| sqlx::query_as(
        "SELECT a.vipps_agreement_id, c.vipps_charge_id FROM charges c \
         JOIN agreements a ON a.id = c.agreement_id \
         WHERE c.dialogue_id = $1 AND c.period_index = 1"
    )
    .bind(dialogue)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(rows.len(), n, "one period-1 charge row per agreement");
    let ours: BTreeSet<(String, String)> = rows
        .into_iter()
        .map(|(a, c)| {
            (
                a.expect("a Vipps agreement id"),
                c.expect("every charge reached Vipps"),
            )
        })
        .collect();
    assert_eq!(ours.len(), n, "distinct (agreement, charge) pairs");
    let agreements_with_rows: BTreeSet<&String> = ours.iter().map(|(a, _)| a).collect();
    assert_eq!(agreements_with_rows.len(), n, "one charge per agreement");

    let mut theirs = BTreeSet::new();
    let mut wrong = Vec::new();
    for a in sim
        .iter()
        .filter(|a| agreements_with_rows.contains(&a.agreement_id))
    {
        let recurring: Vec<_> = a
            .charges
            .iter()
            .filter(|c| c.charge_type.as_str() == "RECURRING")
            .collect();
        if recurring.len() != 1 {
            wrong.push((a.agreement_id.clone(), recurring.len()));
        }
        for c in recurring {
            theirs.insert((a.agreement_id.clone(), c.id.clone()));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} agreements without exactly one RECURRING charge in the simulator, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(theirs.len(), n, "RECURRING charges in the simulator");
    assert!(ours == theirs, "our charge ids are the simulator's");
}

/// Outbound messages that reached the gateway (no longer pending or failed).
pub async fn replies_sent(db: &Db) -> i64 {
    with_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM messages WHERE direction = 'out' \
         AND status NOT IN ('pending', 'failed')"
    )
    .fetch_one(p)
    .await)
    .expect("counts replies")
}

/// One keyword message came in from each of `phones` (and no other message): each was handled,
/// has exactly one agreement in `dialogue` (drafted in the simulator, exactly one there too)
/// and exactly one reply, sent; when `fake` is given, the gateway accepted exactly those
/// replies, one per phone.
pub async fn assert_one_agreement_and_reply_per_message(
    db: &Db,
    dialogue: &str,
    phones: &BTreeSet<String>,
    sim: &[AgreementDump],
    fake: Option<&[FakeSent]>,
) {
    let n = phones.len() as i64;
    let (inbound, handled): (i64, i64) = with_pool!(db, |p| sqlx::query_as(
        "SELECT COUNT(*), COUNT(outcome) FROM messages WHERE direction = 'in'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(
        (inbound, handled),
        (n, n),
        "inbound messages stored and handled once"
    );

    let agreements: Vec<(String, Option<String>)> = with_pool!(db, |p| sqlx::query_as(
        "SELECT phone, vipps_agreement_id FROM agreements WHERE dialogue_id = $1"
    )
    .bind(dialogue)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(agreements.len() as i64, n, "one agreement per message");
    let our_phones: BTreeSet<String> = agreements.iter().map(|(p, _)| p.clone()).collect();
    assert!(&our_phones == phones, "one agreement per phone");
    let vipps_ids: BTreeSet<String> = agreements
        .iter()
        .map(|(_, v)| v.clone().expect("drafted in Vipps"))
        .collect();
    assert_eq!(vipps_ids.len() as i64, n, "distinct Vipps agreements");

    let replies: Vec<(String, Option<String>, String)> = with_pool!(db, |p| sqlx::query_as(
        "SELECT id, in_reply_to, status FROM messages WHERE direction = 'out'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(replies.len() as i64, n, "one reply per message");
    let answered: BTreeSet<&Option<String>> = replies.iter().map(|(_, r, _)| r).collect();
    assert_eq!(answered.len() as i64, n, "replies to distinct messages");
    let unsent: Vec<_> = replies
        .iter()
        .filter(|(_, _, s)| s == "pending" || s == "failed")
        .collect();
    assert!(unsent.is_empty(), "replies not sent: {unsent:?}");

    // The simulator: exactly one agreement per phone, and they are ours.
    let mut per_phone: HashMap<String, usize> = HashMap::new();
    let mut sim_ids = BTreeSet::new();
    for a in sim {
        let phone = format!(
            "+{}",
            a.phone_number
                .as_deref()
                .unwrap_or_default()
                .trim_start_matches('+')
        );
        if phones.contains(&phone) {
            *per_phone.entry(phone).or_default() += 1;
            sim_ids.insert(a.agreement_id.clone());
        }
    }
    let doubled: Vec<_> = per_phone.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        doubled.is_empty(),
        "phones with several Vipps agreements: {doubled:?}"
    );
    assert!(sim_ids == vipps_ids, "the simulator's agreements are ours");

    if let Some(sent) = fake {
        assert_eq!(sent.len() as i64, n, "sends accepted by the gateway");
        let ids: BTreeSet<&str> = sent.iter().map(|s| s.message_id.as_str()).collect();
        let ours: BTreeSet<&str> = replies.iter().map(|(id, _, _)| id.as_str()).collect();
        assert!(ids == ours, "the gateway got exactly our replies");
        let to: BTreeSet<&String> = sent.iter().map(|s| &s.to).collect();
        assert_eq!(to.len() as i64, n, "one SMS per phone");
    }
}

/// Waits until every charge-creation job (single and batch) has ended done: after a crash the
/// killed process's batch runs again and finds its items done, and a sweep after the restart
/// may batch the rest differently.
pub async fn wait_create_jobs_done(db: &Db) {
    super::eventually(
        std::time::Duration::from_secs(60),
        "every create job done",
        || async {
            let undone = undone_jobs(db, "billing.create_charge").await
                + undone_jobs(db, "billing.create_charge_batch").await;
            (undone == 0).then_some(())
        },
    )
    .await;
}

/// Jobs of `queue` that are not done.
pub async fn undone_jobs(db: &Db, queue: &str) -> i64 {
    let table = if db.is_postgres() {
        "apalis.jobs"
    } else {
        "Jobs"
    };
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE job_type = $1 AND status <> 'Done'");
    with_pool!(db, |p| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(
        sql
    ))
    .bind(queue)
    .fetch_one(p)
    .await)
    .expect("reads the job table")
}
