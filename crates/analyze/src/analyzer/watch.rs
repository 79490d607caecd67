//! Watchlist queries evaluated over one post's hits: terms (minus masks), hashtags,
//! mentions, NEAR, regexes, language, platform and author filters.

use earshot_model::{Post, WatchMatch, WatchTerm};
use earshot_text::script::{is_cjk, is_spaced_word_char};

use super::{Analyzer, Scratch};
use crate::watchlist::Node;

impl Analyzer {
    pub(super) fn evaluate_watchlists(
        &self,
        post: &Post,
        lang: &str,
        s: &mut Scratch,
    ) -> Vec<WatchMatch> {
        let w = &self.watchlists;
        if w.is_empty() {
            return Vec::new();
        }
        s.watch_hits.sort_unstable();
        s.watch_hits.dedup();
        s.candidates.clear();
        s.candidates.resize(w.watchlists.len(), false);
        for &(term, ..) in &s.watch_hits {
            for &index in &w.term_watchlists[term as usize] {
                s.candidates[index as usize] = true;
            }
        }
        s.regex_hits.clear();
        if let Some(set) = &self.regex_set {
            let text = s.text.as_str();
            for r in set.matches(text).iter() {
                for m in w.regexes[r].1.find_iter(text) {
                    s.regex_hits
                        .push((r as u32, m.start() as u32, m.end() as u32));
                }
                for &index in &w.regex_watchlists[r] {
                    s.candidates[index as usize] = true;
                }
            }
        }
        let mut out = Vec::new();
        for (index, watchlist) in w.watchlists.iter().enumerate() {
            if !(s.candidates[index] || watchlist.always_candidate) {
                continue;
            }
            let ctx = Ctx {
                analyzer: self,
                post,
                lang,
                s,
                watchlist: index as u32,
            };
            if !ctx.eval(&watchlist.node) {
                continue;
            }
            let mut terms = Vec::new();
            for &term in &watchlist.shown_terms {
                for (start, end) in ctx.term_positions(term) {
                    let (a, b) = s.text.source_span(start as usize, end as usize);
                    terms.push(WatchTerm {
                        term: w.terms[term as usize].display.clone(),
                        start: a,
                        end: b,
                    });
                }
            }
            for &r in &watchlist.shown_regexes {
                for &(_, start, end) in s.regex_hits.iter().filter(|h| h.0 == r) {
                    let (a, b) = s.text.source_span(start as usize, end as usize);
                    terms.push(WatchTerm {
                        term: format!("regex:/{}/", w.regexes[r as usize].0),
                        start: a,
                        end: b,
                    });
                }
            }
            let mut entities = Vec::new();
            positive_entities(&watchlist.node, &mut entities);
            for node in entities {
                let (spans, sigil) = match node {
                    Node::Hashtag(tag) => (ctx.entity_positions(&s.entities.hashtags, tag), '#'),
                    Node::Mention(handle) => {
                        (ctx.entity_positions(&s.entities.mentions, handle), '@')
                    }
                    _ => continue,
                };
                for (start, end) in spans {
                    let (a, b) = s.text.source_span(start as usize, end as usize);
                    terms.push(WatchTerm {
                        term: format!(
                            "{sigil}{}",
                            entity_name(s.text.as_str(), start as usize, end as usize)
                        ),
                        start: a,
                        end: b,
                    });
                }
            }
            terms.sort_by_key(|t| (t.start, t.end));
            terms.dedup();
            out.push(WatchMatch {
                id: watchlist.id.clone(),
                terms,
            });
        }
        out
    }
}

/// Evaluation of one watchlist's query over one post's hits.
struct Ctx<'a> {
    analyzer: &'a Analyzer,
    post: &'a Post,
    lang: &'a str,
    s: &'a Scratch,
    watchlist: u32,
}

impl Ctx<'_> {
    fn eval(&self, node: &Node) -> bool {
        let w = &self.analyzer.watchlists;
        match node {
            Node::Terms(ids) => ids.iter().any(|&t| self.term_positions(t).next().is_some()),
            Node::Hashtag(tag) => self
                .entity_positions(&self.s.entities.hashtags, tag)
                .next()
                .is_some(),
            Node::Mention(handle) => self
                .entity_positions(&self.s.entities.mentions, handle)
                .next()
                .is_some(),
            Node::Lang(code) => self
                .lang
                .strip_prefix(code.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-')),
            Node::Platform(name) => self.post.platform.eq_ignore_ascii_case(name),
            Node::Followers(cmp, n) => cmp.holds(self.post.author.followers, *n),
            Node::Verified(v) => self.post.author.verified == *v,
            Node::AuthorList(list) => {
                let members = &w.lists[*list as usize];
                members.contains(&self.post.author.handle.to_lowercase())
                    || members.contains(&self.post.author.id)
            }
            Node::Regex(r) => self.s.regex_hits.iter().any(|h| h.0 == *r),
            Node::Near(left, right, distance) => {
                let left = self.positions(left);
                let right = self.positions(right);
                let text = self.s.text.as_str();
                left.iter().any(|&(ls, le)| {
                    right.iter().any(|&(rs, re)| {
                        let (a, b) = if le <= rs {
                            (le, rs)
                        } else if re <= ls {
                            (re, ls)
                        } else {
                            return true;
                        };
                        let gap = text.get(a as usize..b as usize).unwrap_or_default();
                        tokens(gap) <= *distance as usize
                    })
                })
            }
            Node::Not(inner) => !self.eval(inner),
            Node::And(children) => children.iter().all(|c| self.eval(c)),
            Node::Or(children) => children.iter().any(|c| self.eval(c)),
        }
    }

    fn positions(&self, node: &Node) -> Vec<(u32, u32)> {
        match node {
            Node::Terms(ids) => ids.iter().flat_map(|&t| self.term_positions(t)).collect(),
            Node::Regex(r) => self
                .s
                .regex_hits
                .iter()
                .filter(|h| h.0 == *r)
                .map(|h| (h.1, h.2))
                .collect(),
            Node::Hashtag(tag) => self
                .entity_positions(&self.s.entities.hashtags, tag)
                .collect(),
            Node::Mention(handle) => self
                .entity_positions(&self.s.entities.mentions, handle)
                .collect(),
            Node::Or(children) => children.iter().flat_map(|c| self.positions(c)).collect(),
            _ => Vec::new(),
        }
    }

    /// Occurrences of a term that no mask of this watchlist or term covers.
    fn term_positions(&self, term: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let hits = &self.s.watch_hits;
        let first = hits.partition_point(|h| h.0 < term);
        hits[first..]
            .iter()
            .take_while(move |h| h.0 == term)
            .map(|h| (h.1, h.2))
            .filter(move |&(start, end)| {
                !self.s.mask_hits.iter().any(|&(mask, ms, me)| {
                    let def = &self.analyzer.watchlists.masks[mask as usize];
                    ms <= start
                        && end <= me
                        && def.watchlist.is_none_or(|w| w == self.watchlist)
                        && def.term.is_none_or(|t| t == term)
                })
            })
    }

    fn entity_positions<'b>(
        &'b self,
        spans: &'b [(usize, usize)],
        name: &'b str,
    ) -> impl Iterator<Item = (u32, u32)> + 'b {
        let text = self.s.text.as_str();
        spans
            .iter()
            .filter(move |&&(a, b)| entity_name(text, a, b) == name)
            .map(|&(a, b)| (a as u32, b as u32))
    }
}

/// The name of a hashtag or mention at `a..b` of the normalised text, without its sigil
/// (`#` and `@` are one byte after normalisation).
pub(super) fn entity_name(text: &str, a: usize, b: usize) -> &str {
    text.get(a + 1..b).unwrap_or_default()
}

/// Hashtag and mention atoms of a query that are not under a NOT, for the explanation.
fn positive_entities<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    match node {
        Node::Hashtag(_) | Node::Mention(_) => out.push(node),
        Node::Near(left, right, _) => {
            positive_entities(left, out);
            positive_entities(right, out);
        }
        Node::And(children) | Node::Or(children) => {
            children.iter().for_each(|c| positive_entities(c, out))
        }
        _ => {}
    }
}

/// Tokens in a stretch of normalised text, for NEAR: a run of letters or digits of a spaced
/// script is one token, and so is each CJK character.
fn tokens(gap: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for c in gap.chars() {
        if is_cjk(c) {
            count += 1;
            in_word = false;
        } else if is_spaced_word_char(c) {
            if !in_word {
                count += 1;
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_count_words_and_cjk_characters() {
        assert_eq!(tokens(" very slow "), 2);
        assert_eq!(tokens("のバッテリーが"), 7);
        assert_eq!(tokens(""), 0);
    }
}
