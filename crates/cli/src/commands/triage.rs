//! `earshot triage`: analyze + route offline over posts as JSON lines, each post's
//! `created_at` driving the clock, so months of history replay in seconds and new rules can be
//! tried on past data before they go live.
//!
//! One JSON line per output (`"kind"`: `ticket`, `incident` or `unrouted`) on stdout; a
//! summary on stderr.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use earshot_analyze::Scratch;
use earshot_model::ScoredPost;
use earshot_route::RouteOutput;

use crate::commands::score::{for_each_post, open_input};
use crate::output::{note, OutputError, Stdout};
use crate::settings::Settings;

/// How often (in post time) the router is ticked, so incidents close and folding state
/// expires between posts as it would in the pipeline.
const TICK_EVERY_SECONDS: i64 = 60;

#[derive(Debug, Default)]
struct Summary {
    posts: usize,
    invalid: usize,
    /// Matched no watchlist and is no reply: what the pipeline's analyze stage drops.
    discarded: usize,
    new_tickets: BTreeMap<(String, String), usize>,
    ticket_updates: usize,
    incidents_opened: usize,
    incident_updates: usize,
    unrouted: usize,
}

pub fn run(config: Option<&Path>, input: Option<&Path>) -> Result<ExitCode> {
    let settings = Settings::load(config)?;
    let analyzer = settings.analyzer()?;
    let mut router = settings.router(&analyzer)?;
    let reader = open_input(input)?;
    let mut out = Stdout::new();
    let mut scratch = Scratch::new();
    let mut summary = Summary::default();
    let mut clock: Option<DateTime<Utc>> = None;
    let mut last_tick: Option<DateTime<Utc>> = None;
    summary.invalid = for_each_post(reader, &settings.limits, |post| {
        // Replays follow post time; a post without a time, or one older than the last, does
        // not move the clock backwards.
        let stamp = post.created_at.or(post.received_at);
        let now = match (clock, stamp) {
            (Some(c), Some(t)) => c.max(t),
            (None, Some(t)) => t,
            (Some(c), None) => c,
            (None, None) => Utc::now(),
        };
        clock = Some(now);
        if last_tick.is_none_or(|t| (now - t).num_seconds() >= TICK_EVERY_SECONDS) {
            for output in router.tick(now) {
                emit(&mut out, &output, &mut summary)?;
            }
            last_tick = Some(now);
        }
        let analysis = analyzer.analyze_with(&post, &mut scratch);
        summary.posts += 1;
        if !earshot_analyze::is_relevant(&post, &analysis) {
            summary.discarded += 1;
            return Ok(());
        }
        for output in router.route(&ScoredPost { post, analysis }, now) {
            emit(&mut out, &output, &mut summary)?;
        }
        Ok(())
    })?;
    if let Some(now) = clock {
        for output in router.tick(now) {
            emit(&mut out, &output, &mut summary)?;
        }
    }
    out.flush()?;
    print_summary(&summary)?;
    Ok(if summary.invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn emit(out: &mut Stdout, output: &RouteOutput, summary: &mut Summary) -> Result<()> {
    match output {
        RouteOutput::Ticket(ticket) if ticket.revision == 1 => {
            *summary
                .new_tickets
                .entry((
                    ticket.queue.to_string(),
                    ticket.priority.as_str().to_string(),
                ))
                .or_default() += 1;
        }
        RouteOutput::Ticket(_) => summary.ticket_updates += 1,
        RouteOutput::Incident(incident) if incident.revision == 1 => summary.incidents_opened += 1,
        RouteOutput::Incident(_) => summary.incident_updates += 1,
        RouteOutput::Unrouted(_) => summary.unrouted += 1,
    }
    out.json_line(output)?;
    Ok(())
}

fn print_summary(summary: &Summary) -> Result<(), OutputError> {
    let tickets: usize = summary.new_tickets.values().sum();
    note(format_args!(
        "earshot triage: {} post(s), {} invalid line(s) skipped, {} matched no watchlist (dropped)",
        summary.posts, summary.invalid, summary.discarded
    ))?;
    note(format_args!(
        "  tickets: {tickets} new, {} update(s) of open tickets (folded conversations)",
        summary.ticket_updates
    ))?;
    let mut queues: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((queue, priority), n) in &summary.new_tickets {
        queues
            .entry(queue)
            .or_default()
            .push(format!("{priority}={n}"));
    }
    for (queue, counts) in queues {
        note(format_args!("    {queue:<14} {}", counts.join(" ")))?;
    }
    note(format_args!(
        "  incidents: {} opened, {} update(s)",
        summary.incidents_opened, summary.incident_updates
    ))?;
    note(format_args!("  unrouted: {}", summary.unrouted))
}
