//! `GET /portal/`: the Dialogue list, the portal's home. Every dialogue with its figures for a
//! period chosen in the URL (`?period=last-7-days`, or `?from=…&to=…`), their totals and a
//! chart of the period. A plain GET form; htmx swaps only the figures (`dialogue_list_partial`).

use askama::Template;
use askama_web::WebTemplate;
use chrono::NaiveDate;
use poem::{
    Route, handler,
    web::{Data, Query},
};
use serde::Deserialize;

use crate::{
    db::stats::{DayRange, DialogueStats},
    domain::{dialogue::DialogueState, period::Period},
    portal::{
        errors::PortalError,
        htmx::HxRequest,
        layout::{Layout, LayoutParts, Nav},
        session::PortalUser,
    },
    service::{
        self,
        dialogues::ListQuery,
        page::PageRequest,
        stats::{Bucket, Preset},
    },
    state::AppState,
};

pub use crate::portal::format::{date, nok, url_encode};

pub fn routes(route: Route) -> Route {
    route.at("/", poem::get(list))
}

fn period_label(p: Period) -> &'static str {
    match p {
        Period::Week => "Week",
        Period::Month => "Month",
        Period::Year => "Year",
    }
}

fn preset_label(p: Preset) -> &'static str {
    match p {
        Preset::Today => "Today",
        Preset::Last7Days => "Last 7 days",
        Preset::Last30Days => "Last 30 days",
        Preset::ThisMonth => "This month",
        Preset::LastMonth => "Last month",
    }
}

fn state_badge(s: DialogueState) -> &'static str {
    match s {
        DialogueState::Live => "badge-good",
        DialogueState::Scheduled => "badge-info",
        DialogueState::Draft | DialogueState::Ended | DialogueState::Archived => "",
    }
}

/// The query string: a preset, or a custom `from`/`to` (empty date inputs count as absent).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    archived: Option<String>,
    pub(crate) cursor: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_date(v: &Option<String>, name: &str) -> Result<Option<NaiveDate>, PortalError> {
    non_empty(v)
        .map(|s| {
            s.parse()
                .map_err(|_| PortalError::BadRequest(format!("{name} is not a date")))
        })
        .transpose()
}

/// The period the URL asks for: `period=custom` (or no preset with dates) takes `from`/`to`;
/// otherwise the preset, by default this month.
pub(crate) fn chosen(params: &ListParams, today: NaiveDate) -> Result<Chosen, PortalError> {
    let custom = match non_empty(&params.period) {
        Some("custom") => true,
        Some(_) => false,
        None => non_empty(&params.from).is_some() || non_empty(&params.to).is_some(),
    };
    if custom {
        let (from, to) = (
            parse_date(&params.from, "from")?,
            parse_date(&params.to, "to")?,
        );
        let range = service::stats::period(today, from, to)?;
        return Ok(Chosen {
            preset: None,
            range,
        });
    }
    let preset = match non_empty(&params.period) {
        Some(text) => Preset::parse(text)
            .ok_or_else(|| PortalError::BadRequest("unknown period".to_owned()))?,
        None => Preset::ThisMonth,
    };
    Ok(Chosen {
        preset: Some(preset),
        range: preset.range(today),
    })
}

pub(crate) struct Chosen {
    preset: Option<Preset>,
    pub(crate) range: DayRange,
}

/// One option of the period menu.
struct PeriodOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// A row's figures, formatted.
struct Figures {
    keyword_messages: i64,
    agreements_drafted: i64,
    agreements_activated: i64,
    agreements_stopped: i64,
    agreements_expired: i64,
    charges_charged: i64,
    charges_failed: i64,
    collected: String,
}

impl Figures {
    fn new(s: &DialogueStats) -> Self {
        Self {
            keyword_messages: s.keyword_messages,
            agreements_drafted: s.agreements_drafted,
            agreements_activated: s.agreements_activated,
            agreements_stopped: s.agreements_stopped,
            agreements_expired: s.agreements_expired,
            charges_charged: s.charges_charged,
            charges_failed: s.charges_failed,
            collected: nok(s.amount_collected_ore()),
        }
    }
}

struct Row {
    id: String,
    name: String,
    keyword: String,
    sender: String,
    period_amount: String,
    state: &'static str,
    badge: &'static str,
    figures: Figures,
}

/// One bar of the chart and its row in the table beside it.
struct Bar {
    label: String,
    collected: String,
    keyword_messages: i64,
    agreements_activated: i64,
    x: u32,
    y: u32,
    height: u32,
}

const CHART_WIDTH: u32 = 720;
const CHART_HEIGHT: u32 = 160;

struct Chart {
    bucket: &'static str,
    bars: Vec<Bar>,
    bar_width: u32,
    max: String,
}

impl Chart {
    fn new(bucket: Bucket, buckets: &[(DayRange, DialogueStats)]) -> Self {
        let max = buckets
            .iter()
            .map(|(_, s)| s.amount_collected_ore())
            .max()
            .unwrap_or(0)
            .max(0);
        let n = u32::try_from(buckets.len().max(1)).unwrap_or(u32::MAX);
        let slot = (CHART_WIDTH / n).max(1);
        let bar_width = (slot * 4 / 5).max(1);
        let bars = buckets
            .iter()
            .zip(0u32..)
            .map(|((range, s), i)| {
                let value = s.amount_collected_ore().max(0);
                let height = if max == 0 {
                    0
                } else {
                    u32::try_from(value * i64::from(CHART_HEIGHT) / max).unwrap_or(0)
                };
                let label = if range.from == range.to {
                    date(range.from)
                } else {
                    format!("{} – {}", date(range.from), date(range.to))
                };
                Bar {
                    label,
                    collected: nok(s.amount_collected_ore()),
                    keyword_messages: s.keyword_messages,
                    agreements_activated: s.agreements_activated,
                    x: i * slot,
                    y: CHART_HEIGHT - height,
                    height,
                }
            })
            .collect();
        Self {
            bucket: match bucket {
                Bucket::Day => "Day",
                Bucket::Week => "Week",
                Bucket::Month => "Month",
            },
            bars,
            bar_width,
            max: nok(max),
        }
    }

    fn width(&self) -> u32 {
        CHART_WIDTH
    }

    fn height(&self) -> u32 {
        CHART_HEIGHT
    }
}

/// Days for short periods, weeks up to a year, months beyond.
fn chart_bucket(range: DayRange) -> Bucket {
    match (range.to - range.from).num_days() {
        days if days <= 62 => Bucket::Day,
        days if days <= 366 => Bucket::Week,
        _ => Bucket::Month,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dialogue_list.html")]
struct ListPage {
    layout: Layout,
    figures: ListFigures,
}

#[derive(Template, WebTemplate)]
#[template(path = "dialogue_list_partial.html")]
struct ListPartial {
    figures: ListFigures,
}

/// What the form and the swapped part show.
struct ListFigures {
    options: Vec<PeriodOption>,
    from: String,
    to: String,
    from_text: String,
    to_text: String,
    archived: bool,
    rows: Vec<Row>,
    totals: Figures,
    chart: Chart,
    next_page: Option<String>,
    first_page: bool,
}

#[handler]
async fn list(
    state: Data<&AppState>,
    user: PortalUser,
    parts: LayoutParts,
    HxRequest(htmx): HxRequest,
    Query(params): Query<ListParams>,
) -> Result<poem::Response, PortalError> {
    use poem::IntoResponse;

    let today = state.clock.today_oslo();
    let chosen = chosen(&params, today)?;
    let archived = non_empty(&params.archived).is_some();
    let query = ListQuery {
        include_archived: archived,
        from: Some(chosen.range.from),
        to: Some(chosen.range.to),
    };
    let cursor = non_empty(&params.cursor).map(str::to_owned);
    let first_page = cursor.is_none();
    let page = PageRequest::new(None, cursor)?;
    let actor = user.actor();
    let (range, listed) = service::dialogues::list(&state, &actor, &query, &page).await?;

    let ids: Vec<String> = listed
        .items
        .iter()
        .map(|l| l.dialogue.dialogue.id.clone())
        .collect();
    let bucket = chart_bucket(range);
    let buckets = service::stats::summed_series(&state, &ids, range, bucket).await?;

    let mut totals = DialogueStats::default();
    let rows = listed
        .items
        .iter()
        .map(|l| {
            totals.extend(&l.stats);
            let d = &l.dialogue.dialogue;
            Row {
                id: d.id.clone(),
                name: d.name.clone(),
                keyword: d.keyword.clone(),
                sender: d.sender.clone(),
                period_amount: format!("{} · {}", period_label(d.period), nok(d.amount_ore)),
                state: l.dialogue.state.as_str(),
                badge: state_badge(l.dialogue.state),
                figures: Figures::new(&l.stats),
            }
        })
        .collect();

    let mut selection = match chosen.preset {
        Some(p) => format!("period={}", p.as_str()),
        None => format!("from={}&to={}", range.from, range.to),
    };
    if archived {
        selection.push_str("&archived=1");
    }
    let next_page = listed
        .next_cursor
        .as_ref()
        .map(|c| format!("/portal/?{selection}&cursor={}", url_encode(c)));

    let mut options: Vec<PeriodOption> = Preset::ALL
        .into_iter()
        .map(|p| PeriodOption {
            value: p.as_str(),
            label: preset_label(p),
            selected: chosen.preset == Some(p),
        })
        .collect();
    options.push(PeriodOption {
        value: "custom",
        label: "Custom (from – to)",
        selected: chosen.preset.is_none(),
    });

    let figures = ListFigures {
        options,
        from: range.from.to_string(),
        to: range.to.to_string(),
        from_text: date(range.from),
        to_text: date(range.to),
        archived,
        rows,
        totals: Figures::new(&totals),
        chart: Chart::new(bucket, &buckets),
        next_page,
        first_page,
    };
    Ok(if htmx {
        ListPartial { figures }.into_response()
    } else {
        ListPage {
            layout: parts.for_user(&user, Nav::Dialogues),
            figures,
        }
        .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_kroner() {
        assert_eq!(nok(4990), "49,90\u{a0}kr");
        assert_eq!(nok(0), "0,00\u{a0}kr");
        assert_eq!(nok(123_456_700), "1\u{a0}234\u{a0}567,00\u{a0}kr");
        assert_eq!(nok(-100_000), "-1\u{a0}000,00\u{a0}kr");
    }

    #[test]
    fn the_url_chooses_a_preset_or_a_custom_period() {
        let today: NaiveDate = "2026-03-15".parse().unwrap();
        let p = |period: Option<&str>, from: Option<&str>, to: Option<&str>| ListParams {
            period: period.map(str::to_owned),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            ..ListParams::default()
        };
        let c = chosen(&p(None, None, None), today).unwrap();
        assert_eq!(c.preset, Some(Preset::ThisMonth));
        let c = chosen(&p(Some("last-7-days"), Some("2026-01-01"), None), today).unwrap();
        assert_eq!(c.preset, Some(Preset::Last7Days));
        let c = chosen(&p(None, Some("2026-01-01"), Some("2026-01-31")), today).unwrap();
        assert_eq!(c.preset, None);
        assert_eq!(c.range.to.to_string(), "2026-01-31");
        assert!(
            chosen(
                &p(Some("custom"), Some("2026-02-01"), Some("2026-01-01")),
                today
            )
            .is_err()
        );
        assert!(chosen(&p(Some("yesterday"), None, None), today).is_err());
        assert!(chosen(&p(Some("custom"), Some("soon"), None), today).is_err());
    }
}
