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
use earshot_pipeline::{Pipeline, Pushed};
use earshot_route::RouteOutput;

use crate::commands::score::{for_each_post, open_input};
use crate::output::{note, OutputError, Stdout};
use crate::settings::Settings;

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
    let analyzer = std::sync::Arc::new(settings.analyzer()?);
    let router = settings.router(&analyzer)?;
    // The same core as the Kafka stages (analyze → relevance → route), on the event clock.
    let mut pipeline = Pipeline::new(analyzer, router);
    let reader = open_input(input)?;
    let mut out = Stdout::new();
    let mut summary = Summary::default();
    let mut outputs = Vec::new();
    summary.invalid = for_each_post(reader, &settings.limits, |post| {
        summary.posts += 1;
        if pipeline.push(post, &mut outputs) == Pushed::Discarded {
            summary.discarded += 1;
        }
        for output in outputs.drain(..) {
            emit(&mut out, &output, &mut summary)?;
        }
        Ok(())
    })?;
    pipeline.finish(&mut outputs);
    for output in outputs.drain(..) {
        emit(&mut out, &output, &mut summary)?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::commands::score::tests::{posts, repo};

    /// The route stage encodes its outputs with [`RouteOutput::write_json`] (tickets through
    /// the hand-written writer): byte for byte what serde_json writes, on every output the
    /// example configuration makes of the example posts and the project's data.
    #[test]
    fn the_fast_writer_writes_what_serde_writes_for_every_output() {
        let settings = Settings::load(Some(&repo("examples/earshot.toml"))).unwrap();
        let analyzer = Arc::new(settings.analyzer().unwrap());
        let router = settings.router(&analyzer).unwrap();
        let mut pipeline = Pipeline::new(analyzer, router);
        let mut outputs = Vec::new();
        for post in posts() {
            pipeline.push(post, &mut outputs);
        }
        pipeline.finish(&mut outputs);
        let mut tickets = 0;
        let mut fast = Vec::new();
        for output in &outputs {
            fast.clear();
            output.write_json(&mut fast).unwrap();
            let reference = serde_json::to_vec(output).unwrap();
            assert!(
                fast == reference,
                "{}\n{}",
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&reference)
            );
            tickets += usize::from(output.as_ticket().is_some());
        }
        // Enough tickets, revisions and incidents that the comparison means something.
        assert!(tickets > 100, "{tickets} tickets");
        assert!(outputs.iter().any(|o| o.as_incident().is_some()));
        assert!(outputs
            .iter()
            .filter_map(RouteOutput::as_ticket)
            .any(|t| t.revision > 1 && t.due_at.is_some() && t.team.is_some()));
    }
}
