//! Kubernetes manifests as the cluster would get them: rendered by `kubectl kustomize`, and a
//! Deployment's container laid out on disk as its pod would see it (every mounted ConfigMap
//! and Secret written under a folder standing for `/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::Value;

use crate::yaml::{array_at, documents, str_at};

/// The objects a kustomization renders to.
pub struct Manifests {
    pub objects: Vec<Value>,
}

impl Manifests {
    /// `kubectl kustomize <dir>`, `dir` relative to the repository.
    pub fn render(kubectl: &Path, dir: &str) -> Manifests {
        let output = Command::new(kubectl)
            .arg("kustomize")
            .arg(earshot_e2e::repo_root().join(dir))
            .output()
            .expect("running kubectl kustomize");
        assert!(
            output.status.success(),
            "kubectl kustomize {dir} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
        Manifests {
            objects: documents(&text, dir),
        }
    }

    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |o| o["kind"] == kind)
    }

    pub fn named(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }
}

/// The files a ConfigMap or Secret holds, decoded.
pub fn files_of(object: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    for (key, value) in object["data"].as_object().into_iter().flatten() {
        let text = value.as_str().unwrap_or_default();
        let bytes = if object["kind"] == "Secret" {
            // kustomize writes long values as block scalars, over several lines.
            let text: String = text.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_else(|e| panic!("Secret {name}: {key} is not base64: {e}"))
        } else {
            text.as_bytes().to_vec()
        };
        files.insert(key.clone(), bytes);
    }
    for (key, value) in object["stringData"].as_object().into_iter().flatten() {
        files.insert(
            key.clone(),
            value.as_str().unwrap_or_default().as_bytes().to_vec(),
        );
    }
    files
}

/// One container of a Deployment, laid out under `root` as its pod would see it.
pub struct Pod<'a> {
    pub deployment: &'a Value,
    pub container: &'a Value,
    pub root: PathBuf,
    /// Mount paths in the container, and their folders under `root`.
    pub mounts: Vec<(String, PathBuf)>,
}

impl<'a> Pod<'a> {
    /// Writes every ConfigMap and Secret the first container mounts under `root`. An optional
    /// Secret that the manifests do not define (one the operator creates) is left out.
    pub fn lay_out(manifests: &Manifests, deployment: &'a Value, root: &Path) -> Pod<'a> {
        let name = str_at(deployment, "/metadata/name", "a Deployment");
        let spec = &deployment["spec"]["template"]["spec"];
        let container = &array_at(spec, "/containers")[0];
        let mut mounts = Vec::new();
        for mount in array_at(container, "/volumeMounts") {
            let volume_name = str_at(mount, "/name", name);
            let mount_path = str_at(mount, "/mountPath", name);
            let volume = array_at(spec, "/volumes")
                .iter()
                .find(|v| v["name"] == volume_name)
                .unwrap_or_else(|| panic!("{name}: no volume {volume_name}"));
            let (kind, source, optional) = if volume["configMap"].is_object() {
                (
                    "ConfigMap",
                    &volume["configMap"],
                    &volume["configMap"]["optional"],
                )
            } else if volume["secret"].is_object() {
                ("Secret", &volume["secret"], &volume["secret"]["optional"])
            } else {
                panic!("{name}: volume {volume_name} is neither a ConfigMap nor a Secret")
            };
            let source_name = source["name"]
                .as_str()
                .or(source["secretName"].as_str())
                .unwrap_or_else(|| panic!("{name}: volume {volume_name} names no {kind}"));
            let Some(object) = manifests.named(kind, source_name) else {
                assert!(
                    optional == &Value::Bool(true),
                    "{name}: volume {volume_name} mounts {kind} {source_name}, which the manifests do not define and which is not optional"
                );
                continue;
            };
            let folder = root.join(mount_path.trim_start_matches('/'));
            std::fs::create_dir_all(&folder).expect("creating a mount folder");
            for (file, bytes) in files_of(object) {
                std::fs::write(folder.join(&file), bytes).expect("writing a mounted file");
            }
            mounts.push((mount_path.to_string(), folder));
        }
        Pod {
            deployment,
            container,
            root: root.to_path_buf(),
            mounts,
        }
    }

    pub fn name(&self) -> &str {
        str_at(self.deployment, "/metadata/name", "a Deployment")
    }

    pub fn args(&self) -> Vec<String> {
        array_at(self.container, "/args")
            .iter()
            .map(|a| a.as_str().expect("args are strings").to_string())
            .collect()
    }

    /// The value after `--config` in the container's arguments.
    pub fn config_path(&self) -> String {
        let args = self.args();
        let at = args
            .iter()
            .position(|a| a == "--config")
            .unwrap_or_else(|| panic!("{}: no --config in {args:?}", self.name()));
        args.get(at + 1).cloned().expect("a path after --config")
    }

    /// `path` in the container, as a path under `root` — after checking that it lies on a
    /// mounted volume.
    pub fn host_path(&self, path: &str) -> PathBuf {
        assert!(
            self.mounts
                .iter()
                .any(|(mount, _)| path.starts_with(&format!("{mount}/"))),
            "{}: {path} is on no mounted volume ({:?})",
            self.name(),
            self.mounts.iter().map(|(m, _)| m).collect::<Vec<_>>()
        );
        self.root.join(path.trim_start_matches('/'))
    }

    /// `text` with every mount path replaced by its folder under `root`.
    pub fn relocate(&self, text: &str) -> String {
        self.mounts
            .iter()
            .fold(text.to_string(), |text, (mount, folder)| {
                text.replace(&format!("{mount}/"), &format!("{}/", folder.display()))
            })
    }

    /// The container's environment (literal values only).
    pub fn env(&self) -> Vec<(String, String)> {
        array_at(self.container, "/env")
            .iter()
            .map(|e| {
                let name = str_at(e, "/name", self.name()).to_string();
                let value = e["value"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: env {name} has no literal value", self.name()));
                (name, value.to_string())
            })
            .collect()
    }

    /// The number of the container port called `name`.
    pub fn port(&self, name: &str) -> u64 {
        array_at(self.container, "/ports")
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("{}: no container port {name}", self.name()))
    }

    /// The pod template's labels.
    pub fn labels(&self) -> &serde_json::Map<String, Value> {
        self.deployment["spec"]["template"]["metadata"]["labels"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: pod template without labels", self.name()))
    }

    /// Whether `selector` (a map of labels) selects this pod.
    pub fn selected_by(&self, selector: &Value) -> bool {
        let labels = self.labels();
        selector
            .as_object()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
    }
}

/// A valid Kubernetes object name (DNS-1123 subdomain).
pub fn valid_object_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !name.is_empty()
        && name.len() <= 253
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}
