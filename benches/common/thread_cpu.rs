//! A criterion measurement of the benchmark thread's CPU time instead of wall time.
//!
//! On the shared 2-core development machine another build descheduling the benchmark
//! thread moved wall-time figures by ±15% between runs of the same code; time spent off
//! the CPU is not counted here. Read from `/proc/thread-self/schedstat` (nanoseconds on
//! the CPU, Linux), so no unsafe code is needed; elsewhere [`criterion`] refuses to start
//! rather than report zeros.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};

/// CPU time of the calling thread, ns.
#[derive(Debug, Clone, Copy)]
pub struct ThreadCpu;

/// A criterion on thread CPU time; panics where the system does not report it.
pub fn criterion() -> Criterion<ThreadCpu> {
    assert!(
        now().is_some(),
        "/proc/thread-self/schedstat is not readable: run this bench on Linux"
    );
    Criterion::default().with_measurement(ThreadCpu)
}

fn now() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        now().unwrap_or_default()
    }

    fn end(&self, started: u64) -> u64 {
        now().unwrap_or_default().saturating_sub(started)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Nanoseconds, shown as wall time's are, with "cpu" in the unit.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns cpu"),
            t if t < 1e6 => (1e-3, "µs cpu"),
            t if t < 1e9 => (1e-6, "ms cpu"),
            _ => (1e-9, "s cpu"),
        };
        for value in values {
            *value *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        // Per second of CPU, as wall time's formatter does per second.
        WallTime
            .formatter()
            .scale_throughputs(typical, throughput, values)
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
