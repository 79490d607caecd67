//! Intent, urgency and influence: explained numbers, never hidden scores.
//!
//! * Intent: cue words and phrases add their weight to an intent; a question mark, a clearly
//!   negative or positive sentiment add evidence too. An intent whose evidence reaches
//!   [`SignalParams::intent_threshold`] is reported; none reported means `other`.
//! * Urgency in [0, 1]: outage and complaint intents, negative sentiment, and cue words by
//!   reason (safety, legal, money, time, distress, churn, escalation; the strongest cue per
//!   reason counts), each listed with what it added.
//! * Influence in [0, 1]: followers and engagement on log scales, plus a verified account.

use earshot_model::{Engagement, Intent, Reason};

use crate::lexicon::UrgencyReason;

/// The knobs of intent and urgency scoring.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalParams {
    /// Evidence an intent needs to be reported.
    pub intent_threshold: f64,
    /// Evidence for `question` from a `?` in the text.
    pub question_mark: f64,
    /// Sentiment at or below which a post counts as evidence of a complaint.
    pub complaint_sentiment: f64,
    /// Evidence for `complaint` from such a sentiment.
    pub complaint_evidence: f64,
    /// Sentiment at or above which a post counts as evidence of praise.
    pub praise_sentiment: f64,
    pub praise_evidence: f64,
}

impl Default for SignalParams {
    fn default() -> Self {
        SignalParams {
            intent_threshold: 0.6,
            question_mark: 0.8,
            complaint_sentiment: -0.25,
            complaint_evidence: 0.6,
            praise_sentiment: 0.4,
            praise_evidence: 0.6,
        }
    }
}

/// Evidence gathered for each intent, indexed like [`Intent::ALL`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct IntentEvidence([f64; 6]);

impl IntentEvidence {
    pub fn add(&mut self, intent: Intent, weight: f64) {
        self.0[intent as usize] += weight;
    }

    pub fn get(&self, intent: Intent) -> f64 {
        self.0[intent as usize]
    }
}

/// Decides the intents from cue evidence, punctuation and sentiment.
pub(crate) fn intents(
    params: &SignalParams,
    mut evidence: IntentEvidence,
    has_question_mark: bool,
    sentiment: f64,
) -> Vec<Intent> {
    if has_question_mark {
        evidence.add(Intent::Question, params.question_mark);
    }
    // Clear feelings are evidence on their own, growing with strength: at the threshold
    // they need a cue to back them; 0.4 beyond it they decide alone.
    if sentiment <= params.complaint_sentiment {
        let strength = ((params.complaint_sentiment - sentiment) / 0.4).min(1.0);
        evidence.add(
            Intent::Complaint,
            params.complaint_evidence * (1.0 + strength),
        );
    }
    if sentiment >= params.praise_sentiment {
        let strength = ((sentiment - params.praise_sentiment) / 0.4).min(1.0);
        evidence.add(Intent::Praise, params.praise_evidence * (1.0 + strength));
    }
    // Praise cues in a clearly negative post are sarcasm or politeness ("thanks for nothing").
    if sentiment <= params.complaint_sentiment {
        evidence.0[Intent::Praise as usize] *= 0.5;
    }
    let mut intents: Vec<Intent> = [
        Intent::Complaint,
        Intent::Question,
        Intent::Request,
        Intent::Outage,
        Intent::Praise,
    ]
    .into_iter()
    .filter(|&i| evidence.get(i) >= params.intent_threshold)
    .collect();
    if intents.is_empty() {
        intents.push(Intent::Other);
    }
    intents
}

/// A score in [0, 1] made of factors, with the list of them only when it is wanted: the
/// sentences that explain a factor are the costly part, so they are built only then.
struct Factors {
    total: f64,
    reasons: Option<Vec<Reason>>,
}

impl Factors {
    fn new(explain: bool) -> Factors {
        Factors {
            total: 0.0,
            reasons: explain.then(Vec::new),
        }
    }

    /// Adds a factor, rounded as it is shown, so that the score is the sum of its reasons.
    fn add(&mut self, factor: &str, contribution: f64, detail: impl FnOnce() -> String) {
        let contribution = round3(contribution);
        self.total += contribution;
        if let Some(reasons) = &mut self.reasons {
            reasons.push(Reason {
                factor: factor.to_string(),
                contribution,
                detail: detail(),
            });
        }
    }

    fn finish(self) -> (f64, Vec<Reason>) {
        (
            round3(self.total.min(1.0)),
            self.reasons.unwrap_or_default(),
        )
    }
}

/// Urgency from intents, sentiment and the strongest cue of each reason; the reasons are
/// listed when `explain`.
pub(crate) fn urgency<'t>(
    intents: &[Intent],
    sentiment: f64,
    cues: &[(UrgencyReason, f64, u32)],
    term: impl Fn(u32) -> &'t str,
    explain: bool,
) -> (f64, Vec<Reason>) {
    let mut factors = Factors::new(explain);
    if intents.contains(&Intent::Outage) {
        factors.add("outage", 0.35, || "reports a service outage".into());
    }
    if intents.contains(&Intent::Complaint) {
        factors.add("complaint", 0.15, || "is a complaint".into());
    }
    if sentiment < -0.05 {
        let c = 0.25 * -sentiment;
        factors.add("negative_sentiment", c, || {
            format!("sentiment {sentiment:.2}")
        });
    }
    for r in UrgencyReason::ALL {
        let strongest = cues
            .iter()
            .filter(|(reason, ..)| *reason == r)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some(&(_, weight, entry)) = strongest {
            factors.add(r.as_str(), weight, || format!("\"{}\"", term(entry)));
        }
    }
    factors.finish()
}

/// Influence from the author's reach and the post's engagement; the reasons are listed
/// when `explain`.
pub(crate) fn influence(
    followers: u64,
    verified: bool,
    engagement: &Engagement,
    explain: bool,
) -> (f64, Vec<Reason>) {
    let mut factors = Factors::new(explain);
    // 1,000,000 followers saturate the follower part; 10 followers add almost nothing.
    let reach = ((followers as f64 + 1.0).log10() / 6.0).min(1.0) * 0.6;
    if followers > 0 {
        factors.add("followers", reach, || {
            format!(
                "{} followers (log scale, 1M = max)",
                group_digits(followers)
            )
        });
    }
    if verified {
        factors.add("verified", 0.2, || "verified account".into());
    }
    let interactions = engagement.likes + 2 * engagement.reposts + engagement.replies;
    if interactions > 0 {
        let part = ((interactions as f64 + 1.0).log10() / 4.0).min(1.0) * 0.2;
        factors.add("engagement", part, || {
            format!(
                "{} likes, {} reposts, {} replies (log scale, 10k = max)",
                engagement.likes, engagement.reposts, engagement.replies
            )
        });
    }
    factors.finish()
}

/// Rounds to three decimals for output; `+ 0.0` turns the `-0.0` of an empty sum into `0.0`.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0 + 0.0
}

fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_mark_alone_makes_a_question_and_nothing_makes_other() {
        let p = SignalParams::default();
        assert_eq!(
            intents(&p, IntentEvidence::default(), true, 0.0),
            [Intent::Question]
        );
        assert_eq!(
            intents(&p, IntentEvidence::default(), false, 0.0),
            [Intent::Other]
        );
    }

    #[test]
    fn cues_add_up_to_an_intent() {
        let p = SignalParams::default();
        let mut e = IntentEvidence::default();
        e.add(Intent::Outage, 0.5);
        assert_eq!(intents(&p, e, false, 0.0), [Intent::Other]);
        e.add(Intent::Outage, 0.5);
        assert_eq!(
            intents(&p, e, false, -0.6),
            [Intent::Complaint, Intent::Outage]
        );
    }

    #[test]
    fn urgency_lists_its_reasons_and_is_capped() {
        let cues = [
            (UrgencyReason::Safety, 0.6, 0),
            (UrgencyReason::Safety, 0.3, 1),
            (UrgencyReason::Time, 0.3, 2),
        ];
        let terms = ["発火", "煙", "至急"];
        let term = |i: u32| terms[i as usize];
        let (u, reasons) = urgency(
            &[Intent::Outage, Intent::Complaint],
            -0.8,
            &cues,
            term,
            true,
        );
        assert_eq!(u, 1.0);
        let factors: Vec<&str> = reasons.iter().map(|r| r.factor.as_str()).collect();
        assert_eq!(
            factors,
            [
                "outage",
                "complaint",
                "negative_sentiment",
                "safety",
                "time"
            ]
        );
        assert_eq!(reasons[3].contribution, 0.6);
        let (calm, none) = urgency(&[Intent::Other], 0.0, &[], term, true);
        assert_eq!((calm, none.len()), (0.0, 0));
        let (quiet, unexplained) = urgency(
            &[Intent::Outage, Intent::Complaint],
            -0.8,
            &cues,
            term,
            false,
        );
        assert_eq!((quiet, unexplained.len()), (u, 0));
    }

    #[test]
    fn influence_is_log_scaled() {
        let e = Engagement::default();
        let (small, _) = influence(100, false, &e, true);
        let (large, reasons) = influence(
            1_000_000,
            true,
            &Engagement {
                likes: 9_999,
                reposts: 0,
                replies: 0,
            },
            true,
        );
        assert!(small > 0.15 && small < 0.25, "{small}");
        assert_eq!(large, 1.0);
        assert_eq!(
            reasons[0].detail,
            "1,000,000 followers (log scale, 1M = max)"
        );
        assert_eq!(influence(0, false, &e, true).0, 0.0);
        assert_eq!(influence(100, false, &e, false), (small, Vec::new()));
    }
}
