//! Where a stage swaps a reloaded set in: [`Reloading`] wraps the stage's processor and,
//! before each record and each tick, hands it the newest set when there is one. The stage
//! loop calls the processor from one thread, one record at a time, so the swap falls between
//! two records: none is processed with half of one set and half of another.

use std::sync::{Arc, RwLock};

use earshot_kafka::{Input, Output, Processor, Reject};
use tracing::info;

use super::Updates;
use crate::config_set::ConfigSet;

/// A processor that takes a reloaded set.
pub trait Reconfigure {
    /// Swaps in what `set` holds for this stage; keeps whatever state the stage carries.
    fn reconfigure(&mut self, set: &ConfigSet);
}

/// The version a stage processes with, read by `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct InForce(Arc<RwLock<String>>);

impl InForce {
    pub fn new(version: &str) -> InForce {
        InForce(Arc::new(RwLock::new(version.to_string())))
    }

    pub fn version(&self) -> String {
        self.0.read().map(|v| v.clone()).unwrap_or_default()
    }

    fn set(&self, version: &str) {
        if let Ok(mut v) = self.0.write() {
            v.clear();
            v.push_str(version);
        }
    }
}

/// A stage's processor that follows reloads. See the module docs.
#[derive(Debug)]
pub struct Reloading<P> {
    inner: P,
    stage: &'static str,
    updates: Updates,
    in_force: InForce,
}

impl<P: Processor + Reconfigure> Reloading<P> {
    /// `inner` runs with the set `updates` holds now; `in_force` reports it.
    pub fn new(stage: &'static str, inner: P, updates: Updates) -> Reloading<P> {
        let in_force = InForce::new(&updates.borrow().version);
        Reloading {
            inner,
            stage,
            updates,
            in_force,
        }
    }

    /// What `/readyz` reads: the version this stage processes with.
    pub fn in_force(&self) -> InForce {
        self.in_force.clone()
    }

    /// Takes the newest set, if one came since the last record. `has_changed` is an atomic
    /// load: cheap enough for every record. A reloader that is gone (shutdown) changes nothing.
    fn catch_up(&mut self) {
        if !self.updates.has_changed().unwrap_or(false) {
            return;
        }
        let set = self.updates.borrow_and_update().clone();
        self.inner.reconfigure(&set);
        self.in_force.set(&set.version);
        info!(stage = self.stage, version = %set.version, "Configuration swapped in");
    }
}

impl<P: Processor + Reconfigure> Processor for Reloading<P> {
    fn process(&mut self, input: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
        self.catch_up();
        self.inner.process(input, out)
    }

    fn read_ahead(&self) -> usize {
        self.inner.read_ahead()
    }

    /// Swaps a new set in first: what is prepared is prepared with the set in force.
    fn prepare(&mut self, inputs: &[Input<'_>]) {
        self.catch_up();
        self.inner.prepare(inputs);
    }

    fn tick(&mut self, out: &mut Vec<Output>) {
        self.catch_up();
        self.inner.tick(out);
    }

    fn assigned(&mut self, partitions: &[i32]) -> Result<(), String> {
        self.inner.assigned(partitions)
    }

    fn revoked(&mut self, partitions: &[i32], settled: bool) {
        self.inner.revoked(partitions, settled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A processor that writes the name of the set it processed each record with.
    #[derive(Debug, Default)]
    struct Echo {
        version: String,
        swaps: usize,
    }

    impl Reconfigure for Echo {
        fn reconfigure(&mut self, set: &ConfigSet) {
            self.version = set.version.clone();
            self.swaps += 1;
        }
    }

    impl Processor for Echo {
        fn process(&mut self, _: &Input<'_>, out: &mut Vec<Output>) -> Result<(), Reject> {
            out.push(Output::new("t", None, self.version.clone().into_bytes(), 1));
            Ok(())
        }
    }

    fn set(version: &str) -> Arc<ConfigSet> {
        let settings = crate::settings::Settings::default();
        let mut set = ConfigSet::load(&settings, crate::config_set::Need::Analyzer)
            .expect("the built-in set loads");
        set.version = version.into();
        Arc::new(set)
    }

    fn input() -> Input<'static> {
        Input::bare("in", 0, 0, None)
    }

    #[test]
    fn a_new_set_is_taken_before_the_next_record_and_only_once() {
        let (tx, rx) = tokio::sync::watch::channel(set("v1"));
        let echo = Echo {
            version: "v1".into(),
            swaps: 0,
        };
        let mut p = Reloading::new("analyze", echo, rx);
        let in_force = p.in_force();
        let mut out = Vec::new();
        p.process(&input(), &mut out).unwrap();
        assert_eq!(
            p.inner.swaps, 0,
            "the set in force at start is not swapped in again"
        );
        tx.send_replace(set("v2"));
        tx.send_replace(set("v3"));
        assert_eq!(
            in_force.version(),
            "v1",
            "nothing swaps between records by itself"
        );
        p.process(&input(), &mut out).unwrap();
        p.process(&input(), &mut out).unwrap();
        let seen: Vec<&[u8]> = out.iter().map(|o| o.payload.as_deref().unwrap()).collect();
        assert_eq!(seen, [&b"v1"[..], b"v3", b"v3"]);
        assert_eq!(
            p.inner.swaps, 1,
            "two reloads between records: the newest, once"
        );
        assert_eq!(in_force.version(), "v3");
        // A tick catches up too (an idle stage), and a reloader gone changes nothing.
        tx.send_replace(set("v4"));
        p.tick(&mut out);
        assert_eq!(in_force.version(), "v4");
        drop(tx);
        p.process(&input(), &mut out).unwrap();
        assert_eq!(p.inner.swaps, 2);
    }
}
