//! The Overview's jobs-per-minute chart: for each of the last 60 minutes, the attempts that
//! finished done and those that failed (retried, failed for good, orphaned, killed), as two
//! server-rendered SVG bars side by side, with the same numbers in a table for screen readers
//! and for reading off exact values.

use crate::{db::queue::attempts::Minute, portal::format};

/// The chart's drawing area in SVG units (it is scaled to the page's width).
const WIDTH: u32 = 720;
const HEIGHT: u32 = 120;
/// Minutes shown, the newest on the right.
const MINUTES: i64 = 60;
const MINUTE_MS: i64 = 60_000;

/// One minute: its two bars and its numbers.
pub struct MinuteBar {
    /// The minute's start in Oslo time, `HH:MM`.
    pub label: String,
    pub done: i64,
    pub failed: i64,
    pub x_done: u32,
    pub x_failed: u32,
    pub y_done: u32,
    pub y_failed: u32,
    pub h_done: u32,
    pub h_failed: u32,
}

/// The chart as the template draws it.
pub struct Throughput {
    pub bars: Vec<MinuteBar>,
    pub bar_width: u32,
    /// The largest number of attempts in one minute (the chart's top).
    pub max: i64,
    pub total_done: i64,
    pub total_failed: i64,
}

impl Throughput {
    /// The last 60 minutes up to `now_ms` from `minutes` (minutes with none may be missing).
    pub fn new(minutes: &[Minute], now_ms: i64) -> Self {
        let last = now_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        let first = last - (MINUTES - 1) * MINUTE_MS;
        let of = |start: i64| {
            minutes
                .iter()
                .find(|m| m.minute == start)
                .map_or((0, 0), |m| (m.done, m.failed))
        };
        let counts: Vec<(i64, i64, i64)> = (0..MINUTES)
            .map(|i| {
                let start = first + i * MINUTE_MS;
                let (done, failed) = of(start);
                (start, done, failed)
            })
            .collect();
        let max = counts.iter().map(|&(_, d, f)| d.max(f)).max().unwrap_or(0);
        let slot = WIDTH / MINUTES as u32;
        let bar_width = (slot / 2).saturating_sub(1).max(1);
        let height = |n: i64| {
            if max == 0 {
                0
            } else {
                u32::try_from(n * i64::from(HEIGHT) / max).unwrap_or(HEIGHT)
            }
        };
        let bars = counts
            .iter()
            .zip(0u32..)
            .map(|(&(start, done, failed), i)| {
                let (h_done, h_failed) = (height(done), height(failed));
                MinuteBar {
                    label: format::hour_minute(start),
                    done,
                    failed,
                    x_done: i * slot,
                    x_failed: i * slot + bar_width,
                    y_done: HEIGHT - h_done,
                    y_failed: HEIGHT - h_failed,
                    h_done,
                    h_failed,
                }
            })
            .collect();
        Self {
            bars,
            bar_width,
            max,
            total_done: counts.iter().map(|c| c.1).sum(),
            total_failed: counts.iter().map(|c| c.2).sum(),
        }
    }

    pub fn width(&self) -> u32 {
        WIDTH
    }

    pub fn height(&self) -> u32 {
        HEIGHT
    }

    /// The minutes in which anything finished, for the table (60 empty rows say nothing).
    pub fn busy(&self) -> impl Iterator<Item = &MinuteBar> {
        self.bars.iter().filter(|b| b.done > 0 || b.failed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_minutes_with_the_numbers_where_they_happened() {
        let now = 1_780_000_000_000_i64;
        let this_minute = now / MINUTE_MS * MINUTE_MS;
        let minutes = [
            Minute {
                minute: this_minute,
                done: 10,
                failed: 5,
            },
            Minute {
                minute: this_minute - 59 * MINUTE_MS,
                done: 2,
                failed: 0,
            },
            // Older than the window: not shown.
            Minute {
                minute: this_minute - 60 * MINUTE_MS,
                done: 99,
                failed: 99,
            },
        ];
        let chart = Throughput::new(&minutes, now);
        assert_eq!(chart.bars.len(), 60);
        assert_eq!(chart.max, 10);
        assert_eq!((chart.total_done, chart.total_failed), (12, 5));
        let newest = chart.bars.last().unwrap();
        assert_eq!((newest.done, newest.failed), (10, 5));
        assert_eq!((newest.h_done, newest.h_failed), (HEIGHT, HEIGHT / 2));
        assert_eq!(newest.y_done, 0);
        assert_eq!(chart.bars[0].done, 2);
        assert_eq!(chart.busy().count(), 2);
        assert!(newest.x_failed > newest.x_done);
        assert!(newest.x_failed + chart.bar_width <= WIDTH);
    }

    #[test]
    fn an_idle_hour_draws_no_bars() {
        let chart = Throughput::new(&[], 1_780_000_000_000);
        assert_eq!(chart.max, 0);
        assert!(chart.bars.iter().all(|b| b.h_done == 0 && b.h_failed == 0));
        assert_eq!(chart.busy().count(), 0);
    }
}
