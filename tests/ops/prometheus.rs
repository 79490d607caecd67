//! A Prometheus server (Debian's package) started by a test on a free loopback port, with a
//! scrape configuration and rule files of the test's choosing, and its HTTP API.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use earshot_e2e::process::{free_port, Proc};
use serde_json::Value;

pub struct Prometheus {
    pub process: Proc,
    base: String,
    agent: ureq::Agent,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (job name, `host:port`) every second and
    /// evaluating `rules` every second; returns once it answers `/-/ready`.
    pub fn start(bin: &Path, dir: &Path, rules: &Path, targets: &[(&str, String)]) -> Prometheus {
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        config.push_str(&format!("rule_files:\n  - {}\n", rules.display()));
        config.push_str("scrape_configs:\n");
        for (job, target) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            ));
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("writing prometheus.yml");
        let port = free_port();
        let mut command = Command::new(bin);
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let mut prometheus = Prometheus {
            process: Proc::spawn("prometheus", command, dir),
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        prometheus.wait("Prometheus to be ready", Duration::from_secs(60), |p| {
            p.agent
                .get(format!("{}/-/ready", p.base))
                .call()
                .is_ok_and(|r| r.status() == 200)
        });
        prometheus
    }

    /// Polls `done` until it holds; panics after `within` with Prometheus's log.
    pub fn wait(&mut self, what: &str, within: Duration, done: impl FnMut(&Prometheus) -> bool) {
        if !self.poll(what, within, done) {
            panic!(
                "timed out after {} s waiting for {what}\n{}",
                within.as_secs(),
                self.process.log_tail()
            );
        }
    }

    /// Polls `done` until it holds (true) or `within` passed (false).
    pub fn poll(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&Prometheus) -> bool,
    ) -> bool {
        let started = Instant::now();
        loop {
            self.process
                .assert_running(&format!("while waiting for {what}"));
            if done(self) {
                return true;
            }
            if started.elapsed() >= within {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// `GET /api/v1/<path>`: the `data` of a success, or the error Prometheus gave.
    fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let mut request = self.agent.get(format!("{}/api/v1/{path}", self.base));
        for (key, value) in params {
            request = request.query(*key, *value);
        }
        let mut response = request.call().map_err(|e| format!("{path}: {e}"))?;
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{path}: reading the body: {e}"))?;
        let json: Value =
            serde_json::from_str(&body).map_err(|e| format!("{path}: not JSON ({e}): {body}"))?;
        if json["status"] == "success" {
            Ok(json["data"].clone())
        } else {
            Err(format!("{}: {}", json["errorType"], json["error"]))
        }
    }

    /// An instant query: the result vector.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("query", &[("query", expr)])?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// A range query over the last `seconds`, one point a second: the result matrix.
    pub fn query_range(&self, expr: &str, seconds: u64) -> Result<Vec<Value>, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let (start, end) = ((now - seconds).to_string(), now.to_string());
        let data = self.api(
            "query_range",
            &[
                ("query", expr),
                ("start", &start),
                ("end", &end),
                ("step", "1"),
            ],
        )?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The sum of an instant query's values (0 when it has none).
    pub fn sum(&self, expr: &str) -> f64 {
        self.query(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .iter()
            .filter_map(|s| s["value"][1].as_str()?.parse::<f64>().ok())
            .sum()
    }

    /// Every rule of every loaded group, as `/api/v1/rules` describes it.
    pub fn rules(&self) -> Vec<Value> {
        let data = self.api("rules", &[]).expect("/api/v1/rules");
        data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Active alerts (pending and firing).
    pub fn alerts(&self) -> Vec<Value> {
        let data = self.api("alerts", &[]).expect("/api/v1/alerts");
        data["alerts"].as_array().cloned().unwrap_or_default()
    }

    /// Every metric name Prometheus holds.
    pub fn metric_names(&self) -> BTreeSet<String> {
        let data = self
            .api("label/__name__/values", &[])
            .expect("/api/v1/label/__name__/values");
        data.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}

/// Whether a query result holds at least one number (not NaN): a series with a sample
/// (instant vector) or a point (matrix).
pub fn has_numbers(result: &[Value]) -> bool {
    let number = |v: &Value| {
        v[1].as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|x| !x.is_nan())
    };
    result.iter().any(|series| {
        series.get("value").is_some_and(number)
            || series["values"]
                .as_array()
                .is_some_and(|vs| vs.iter().any(number))
    })
}
