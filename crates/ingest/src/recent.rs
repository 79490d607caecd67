//! The post ids this process published lately, to recognise a platform's retry of a delivery
//! that did get through (LINE redeliveries, Meta's retries, a stream's overlap after a
//! reconnect) and answer it without publishing again. Bounded: the oldest id is forgotten
//! first. This is only a shortcut; ids that fall out, or arrive at another replica, are
//! published again and the route stage ignores them (a post already folded changes nothing).

use std::collections::{HashSet, VecDeque};

/// A bounded set of recently acknowledged ids, oldest forgotten first.
#[derive(Debug, Clone, Default)]
pub struct RecentIds {
    ids: HashSet<Box<str>>,
    order: VecDeque<Box<str>>,
    capacity: usize,
}

impl RecentIds {
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds {
            ids: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Remembers `id` (acknowledged by Kafka), forgetting the oldest beyond the capacity.
    pub fn insert(&mut self, id: &str) {
        if self.capacity == 0 || self.ids.contains(id) {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.ids.insert(id.into());
        self.order.push_back(id.into());
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::RecentIds;

    #[test]
    fn bounded_oldest_first() {
        let mut r = RecentIds::new(2);
        r.insert("a");
        r.insert("b");
        r.insert("a");
        assert!(r.contains("a") && r.contains("b"));
        r.insert("c");
        assert!(!r.contains("a"));
        assert!(r.contains("b") && r.contains("c"));
        assert_eq!(r.len(), 2);
        let mut off = RecentIds::new(0);
        off.insert("a");
        assert!(!off.contains("a") && off.is_empty());
    }
}
