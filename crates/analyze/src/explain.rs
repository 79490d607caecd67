//! A readable rendering of an analysis, for `earshot explain` and for people debugging a
//! watchlist, a lexicon or a model change.

use std::fmt::Write;

use earshot_model::{Analysis, HitKind, ModelOutput, Reason};

/// Renders `analysis` of `text` as a few aligned sections: the verdict, the model's
/// probabilities and the features behind each decision, every lexicon hit with its span and
/// contribution, the watchlists matched, and the reasons behind urgency and influence.
pub fn render(text: &str, analysis: &Analysis) -> String {
    let mut out = String::new();
    let intents: Vec<&str> = analysis.intents.iter().map(|i| i.as_str()).collect();
    let _ = writeln!(out, "text       {text}");
    let _ = writeln!(
        out,
        "verdict    {} {:+.3}  intents: {}  urgency: {:.2}  influence: {:.2}  lang: {}",
        analysis.sentiment.label.as_str(),
        analysis.sentiment.score,
        intents.join(", "),
        analysis.urgency,
        analysis.influence,
        analysis.lang,
    );
    if !analysis.flags.is_empty() {
        let flags: Vec<&str> = analysis.flags.iter().map(|f| f.as_str()).collect();
        let _ = writeln!(out, "flags      {}", flags.join(", "));
    }
    if let Some(model) = &analysis.model {
        model_section(&mut out, text, model);
    }
    if analysis.hits.is_empty() {
        let _ = writeln!(out, "hits       none");
    } else {
        let _ = writeln!(out, "hits");
        for hit in &analysis.hits {
            let surface = text.get(hit.start..hit.end).unwrap_or("?");
            let what = match hit.kind {
                HitKind::Sentiment => {
                    format!("sentiment {:+.2} -> {:+.3}", hit.value, hit.contribution)
                }
                HitKind::Negation => "negation".to_string(),
                HitKind::Modifier => format!("modifier {:+.2}", hit.value),
                HitKind::Contrast => "contrast".to_string(),
                HitKind::Intent => format!(
                    "intent {} +{:.2}",
                    hit.intent.map_or("?", |i| i.as_str()),
                    hit.value
                ),
                HitKind::Urgency => format!("urgency +{:.2}", hit.value),
            };
            let notes = if hit.notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", hit.notes.join("; "))
            };
            let _ = writeln!(
                out,
                "  {:>4}..{:<4} {}  {}{}",
                hit.start, hit.end, surface, what, notes
            );
        }
    }
    if !analysis.watch.is_empty() {
        let _ = writeln!(out, "watch");
        for watch in &analysis.watch {
            let terms: Vec<String> = watch
                .terms
                .iter()
                .map(|t| format!("{} @{}..{}", t.term, t.start, t.end))
                .collect();
            let _ = writeln!(
                out,
                "  {}: {}",
                watch.id,
                if terms.is_empty() {
                    "(by query)".into()
                } else {
                    terms.join(", ")
                }
            );
        }
    }
    section(&mut out, "urgency", &analysis.urgency_reasons);
    section(&mut out, "influence", &analysis.influence_reasons);
    out
}

fn model_section(out: &mut String, text: &str, model: &ModelOutput) {
    let s = &model.sentiment;
    let i = &model.intents;
    let _ = writeln!(
        out,
        "model      {}: negative {:.2} neutral {:.2} positive {:.2}",
        model.name, s.negative, s.neutral, s.positive
    );
    let _ = writeln!(
        out,
        "           complaint {:.2} question {:.2} request {:.2} outage {:.2} praise {:.2}  scam {:.2} spam {:.2}",
        i.complaint, i.question, i.request, i.outage, i.praise, model.flags.scam, model.flags.spam
    );
    if model.features.is_empty() {
        return;
    }
    let _ = writeln!(out, "why");
    let mut last = "";
    for f in &model.features {
        let decision = if f.decision == last {
            ""
        } else {
            f.decision.as_str()
        };
        last = &f.decision;
        let place = match (f.start, f.end) {
            (Some(a), Some(b)) if text.get(a..b).is_some() => format!("  @{a}..{b}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {decision:<10} {:+.3} {}{place}",
            f.weight, f.feature
        );
    }
}

fn section(out: &mut String, name: &str, reasons: &[Reason]) {
    if reasons.is_empty() {
        return;
    }
    let _ = writeln!(out, "{name}");
    for r in reasons {
        let _ = writeln!(
            out,
            "  {:+.3} {:<18} {}",
            r.contribution, r.factor, r.detail
        );
    }
}
