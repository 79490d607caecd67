//! Small string interner: watchlist ids and watch terms become dense indices, so the hot
//! path compares integers and indexes arrays instead of hashing strings repeatedly.

use foldhash::HashMap;

/// Up to this many names, lookups scan the list instead of hashing.
const LINEAR_MAX: usize = 16;

/// Strings to dense `u32` ids, with a cap so hostile input cannot grow it without bound.
#[derive(Debug, Clone)]
pub(crate) struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    cap: usize,
}

impl Interner {
    pub fn new(cap: usize) -> Interner {
        Interner {
            ids: HashMap::default(),
            names: Vec::new(),
            cap,
        }
    }

    /// The id of `name`, adding it if there is room.
    pub fn intern(&mut self, name: &str) -> Option<u32> {
        // A handful of watchlists is the common case: comparing a few short strings beats
        // hashing one.
        if self.names.len() <= LINEAR_MAX {
            if let Some(i) = self.names.iter().position(|n| **n == *name) {
                return u32::try_from(i).ok();
            }
        } else if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        if self.names.len() >= self.cap {
            return None;
        }
        let id = u32::try_from(self.names.len()).ok()?;
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        Some(id)
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}
