//! The durable resume cursor of a stream: one line of text in a file, replaced atomically
//! (write a temporary file, fsync it, rename it over the old one, fsync the folder), so a
//! crash at any moment leaves either the old cursor or the new one, never a torn file.
//!
//! The stream stores a cursor only after Kafka acknowledged every post before it; a restart
//! reads it back and resumes from there.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A cursor file.
#[derive(Debug, Clone)]
pub struct CursorFile {
    path: PathBuf,
}

impl CursorFile {
    pub fn new(path: impl Into<PathBuf>) -> CursorFile {
        CursorFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored cursor; `None` when there is no file yet.
    pub fn load(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                let text = text.trim();
                Ok((!text.is_empty()).then(|| text.to_string()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the stored cursor with `value`, durably.
    pub fn store(&self, value: &str) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir)?;
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = dir.join(tmp_name);
        {
            let mut file = File::create(&tmp)?;
            file.write_all(value.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        // The rename itself is durable only once the folder is synced.
        File::open(&dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_load() {
        let dir = std::env::temp_dir().join(format!("earshot-cursor-{}", std::process::id()));
        let file = CursorFile::new(dir.join("sub/bluesky.cursor"));
        assert_eq!(file.load().ok(), Some(None));
        file.store("1790000000123456").unwrap_or_default();
        assert_eq!(file.load().ok(), Some(Some("1790000000123456".into())));
        file.store("1790000000999999").unwrap_or_default();
        assert_eq!(file.load().ok(), Some(Some("1790000000999999".into())));
        let leftovers: Vec<_> = fs::read_dir(dir.join("sub"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        let _ = fs::remove_dir_all(&dir);
    }
}
