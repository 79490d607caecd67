//! Author lists (VIPs, staff, a blocklist, …) that rules can test a post's author against.
//!
//! An entry names an account as `platform:id` (`x:1234`), `platform:@handle`
//! (`x:@hoshizora_ceo`), or without a platform (`1234`, `@handle`) to match on any platform.
//! Handles compare case-insensitively. The platform is everything before the first `:`, so
//! an id that contains colons is written with its platform (`mastodon:a:b`).
//!
//! All lists are folded into one lookup table from account to a bit mask of the lists it is
//! on, so testing a post against every list costs at most four hash lookups.

use foldhash::HashMap;

/// At most this many lists: each is one bit of a `u64`.
pub const MAX_AUTHOR_LISTS: usize = 64;

/// The compiled author lists.
#[derive(Debug, Clone, Default)]
pub struct AuthorLists {
    names: Vec<String>,
    /// Per platform ("" for any; a short list, scanned): account id → lists bit mask.
    ids: Table,
    /// Per platform: lower-case handle → lists bit mask.
    handles: Table,
}

type Table = Vec<(Box<str>, HashMap<Box<str>, u64>)>;

fn table<'a>(tables: &'a Table, platform: &str) -> Option<&'a HashMap<Box<str>, u64>> {
    tables
        .iter()
        .find(|(p, _)| **p == *platform)
        .map(|(_, m)| m)
}

impl AuthorLists {
    /// Adds a list (up to [`MAX_AUTHOR_LISTS`]); returns its index, or `None` when full.
    pub fn add_list<'a>(
        &mut self,
        name: &str,
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Option<usize> {
        if self.names.len() >= MAX_AUTHOR_LISTS {
            return None;
        }
        let bit = 1u64 << self.names.len();
        self.names.push(name.to_string());
        for entry in entries {
            let (platform, account) = split_entry(entry);
            let (table, key) = match account.strip_prefix('@') {
                Some(handle) => (&mut self.handles, handle.to_lowercase()),
                None => (&mut self.ids, account.to_string()),
            };
            let i = match table.iter().position(|(p, _)| **p == *platform) {
                Some(i) => i,
                None => {
                    table.push((platform.as_str().into(), HashMap::default()));
                    table.len() - 1
                }
            };
            *table[i].1.entry(key.into()).or_default() |= bit;
        }
        Some(self.names.len() - 1)
    }

    /// The index of a list by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The lists (as a bit mask, bit `i` for list `i`) the author is on.
    pub fn lists_of(&self, platform: &str, author_id: &str, handle: &str) -> u64 {
        if self.names.is_empty() {
            return 0;
        }
        let mut mask = 0;
        for p in ["", platform] {
            if !author_id.is_empty() {
                mask |= table(&self.ids, p)
                    .and_then(|m| m.get(author_id))
                    .copied()
                    .unwrap_or(0);
            }
            if !handle.is_empty() {
                if let Some(m) = table(&self.handles, p) {
                    // Allocate only for handles that are not already lower case.
                    let hit =
                        if handle.bytes().any(|b| b.is_ascii_uppercase()) || !handle.is_ascii() {
                            m.get(handle.to_lowercase().as_str())
                        } else {
                            m.get(handle)
                        };
                    mask |= hit.copied().unwrap_or(0);
                }
            }
            if platform.is_empty() {
                break;
            }
        }
        mask
    }
}

fn split_entry(entry: &str) -> (String, &str) {
    match entry.split_once(':') {
        Some((p, rest)) if !p.is_empty() && !p.starts_with('@') => (p.to_ascii_lowercase(), rest),
        _ => (String::new(), entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_by_platform_id_and_handle() {
        let mut lists = AuthorLists::default();
        lists
            .add_list("vip", ["x:42", "@Hoshizora_CEO", "line:@shop"])
            .unwrap();
        lists.add_list("blocklist", ["999", "x:@spam"]).unwrap();
        assert_eq!(lists.lists_of("x", "42", ""), 0b01);
        assert_eq!(lists.lists_of("facebook", "42", ""), 0);
        assert_eq!(lists.lists_of("facebook", "", "hoshizora_ceo"), 0b01);
        assert_eq!(lists.lists_of("x", "1", "HOSHIZORA_CEO"), 0b01);
        assert_eq!(lists.lists_of("line", "", "shop"), 0b01);
        assert_eq!(lists.lists_of("x", "", "shop"), 0);
        assert_eq!(lists.lists_of("instagram", "999", "spam"), 0b10);
        assert_eq!(lists.lists_of("x", "999", "spam"), 0b10);
    }
}
