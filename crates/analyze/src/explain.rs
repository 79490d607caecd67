//! A readable rendering of an analysis, for `earshot explain` and for people debugging a
//! watchlist or a lexicon change.

use std::fmt::Write;

use earshot_model::{Analysis, HitKind, Reason};

/// Renders `analysis` of `text` as a few aligned sections: the verdict, every hit with its
/// span and contribution, the watchlists matched, and the reasons behind urgency and
/// influence.
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
