//! The ticket's JSON writer: the bytes of `serde_json::to_vec(&ticket)`, with the scored
//! post's short paths (constant keys, strings copied when nothing needs escaping, common
//! floats and times written directly). The route stage encodes every ticket revision, so
//! this is on the per-post path.
//!
//! As in the parent module, structs are destructured without `..`: a field added to
//! [`Ticket`] or its parts does not compile until it is written here too.

use super::Json;
use crate::{ReasonKind, Ticket, TicketAnalysis, TicketReason, TicketSla};

impl Ticket {
    /// Appends the ticket as JSON to `out` (no newline): the bytes of
    /// `serde_json::to_vec(self)`, faster.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_ticket(self, out);
    }

    /// The ticket as JSON: `serde_json::to_vec(self)`, faster.
    pub fn to_json_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        write_ticket(self, &mut out);
        out
    }
}

/// Appends `ticket` as one JSON object to `out` (no newline).
pub fn write_ticket(ticket: &Ticket, out: &mut Vec<u8>) {
    let mut json = Json { out };
    json.raw("{");
    json.ticket_fields(ticket);
    json.raw("}");
}

/// Appends `ticket` as the variant of an internally tagged enum (`#[serde(tag = "…")]`):
/// the object starts with `"tag": "value"`, then the ticket's fields, as serde writes
/// `{"kind":"ticket",…}` for the route stage's output.
pub fn write_tagged_ticket(ticket: &Ticket, tag: &str, value: &str, out: &mut Vec<u8>) {
    let mut json = Json { out };
    json.raw("{");
    json.str(tag);
    json.raw(":");
    json.str(value);
    json.raw(",");
    json.ticket_fields(ticket);
    json.raw("}");
}

impl Json<'_> {
    /// The ticket's fields between the braces.
    fn ticket_fields(&mut self, ticket: &Ticket) {
        let Ticket {
            schema_version,
            ticket_id,
            revision,
            created_at,
            updated_at,
            queue,
            priority,
            tags,
            team,
            due_at,
            sla,
            rule_id,
            conversation_id,
            conversation_key,
            incident_id,
            post,
            post_ids,
            post_count,
            analysis,
            reasons,
        } = ticket;
        self.raw("\"schema_version\":");
        self.u64(u64::from(*schema_version));
        self.raw(",\"ticket_id\":");
        self.str(ticket_id);
        self.raw(",\"revision\":");
        self.u64(u64::from(*revision));
        self.raw(",\"created_at\":");
        self.time(created_at);
        self.raw(",\"updated_at\":");
        self.time(updated_at);
        self.raw(",\"queue\":");
        self.str(queue);
        self.raw(",\"priority\":");
        self.name(priority.as_str());
        self.raw(",\"tags\":");
        self.list(tags, |json, tag| json.str(tag));
        // The options below have no `skip_serializing_if`: `None` is written as `null`.
        self.raw(",\"team\":");
        self.nullable(team.as_deref(), Self::str);
        self.raw(",\"due_at\":");
        self.nullable(due_at.as_ref(), Self::time);
        self.raw(",\"sla\":");
        self.nullable(sla.as_ref(), Self::sla);
        self.raw(",\"rule_id\":");
        self.str(rule_id);
        self.raw(",\"conversation_id\":");
        self.nullable(conversation_id.as_deref(), Self::str);
        self.raw(",\"conversation_key\":");
        self.str(conversation_key);
        self.raw(",\"incident_id\":");
        self.nullable(incident_id.as_deref(), Self::str);
        self.raw(",\"post\":");
        self.post_fields(post);
        self.raw("},\"post_ids\":");
        self.list(post_ids, |json, id| json.str(id));
        self.raw(",\"post_count\":");
        self.u64(u64::from(*post_count));
        self.raw(",\"analysis\":");
        self.ticket_analysis(analysis);
        self.raw(",\"reasons\":");
        self.list(reasons, Self::ticket_reason);
    }

    /// The value, or `null`.
    fn nullable<T: ?Sized>(&mut self, value: Option<&T>, write: impl FnOnce(&mut Self, &T)) {
        match value {
            Some(value) => write(self, value),
            None => self.raw("null"),
        }
    }

    fn sla(&mut self, sla: &TicketSla) {
        let TicketSla {
            target_seconds,
            calendar,
            time_zone,
            started_at,
        } = sla;
        self.raw("{\"target_seconds\":");
        self.u64(*target_seconds);
        self.raw(",\"calendar\":");
        self.str(calendar);
        self.raw(",\"time_zone\":");
        self.str(time_zone);
        self.raw(",\"started_at\":");
        self.time(started_at);
        self.raw("}");
    }

    fn ticket_analysis(&mut self, analysis: &TicketAnalysis) {
        let TicketAnalysis {
            lang,
            sentiment,
            intents,
            urgency,
            influence,
            watch,
            flags,
        } = analysis;
        self.scores(lang, sentiment, intents, *urgency, *influence, watch);
        // `#[serde(default)]` only matters when reading: the list is always written.
        self.raw(",\"flags\":");
        self.list(flags, |json, flag| json.name(flag.as_str()));
        self.raw("}");
    }

    fn ticket_reason(&mut self, reason: &TicketReason) {
        let TicketReason {
            kind,
            rule_id,
            detail,
        } = reason;
        self.raw("{\"kind\":");
        self.name(reason_kind_name(*kind));
        if let Some(rule_id) = rule_id {
            self.raw(",\"rule_id\":");
            self.str(rule_id);
        }
        self.raw(",\"detail\":");
        self.str(detail);
        self.raw("}");
    }
}

fn reason_kind_name(kind: ReasonKind) -> &'static str {
    match kind {
        ReasonKind::Rule => "rule",
        ReasonKind::Priority => "priority",
        ReasonKind::Escalation => "escalation",
        ReasonKind::Modifier => "modifier",
        ReasonKind::Sla => "sla",
        ReasonKind::Incident => "incident",
        ReasonKind::Fold => "fold",
    }
}

#[cfg(test)]
mod tests;
