//! The model file: a versioned binary container, refused whole if anything is off.
//!
//! ```text
//! magic     8 bytes  "EARSHOTM"
//! version   u32 LE   FORMAT_VERSION
//! meta      u32 LE length, then that many bytes of JSON (ModelMeta: names, feature
//!           configuration, thresholds, data card)
//! rows      u32 LE   number of stored rows
//! each row  u32 LE row index (increasing), then Output::COUNT × f32 LE
//! checksum  u64 LE   xxh3-64 of every byte before it
//! ```
//!
//! Rows whose weights are all zero are not stored (training with L1 leaves most hash
//! buckets empty), so the file is a fraction of the table it becomes in memory. The
//! checksum catches truncation and bit rot before a half-read model scores anything.

use xxhash_rust::xxh3::xxh3_64;

use super::model::{Model, ModelMeta, Output};

/// The format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"EARSHOTM";

/// Why a model file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelFileError {
    #[error("not an Earshot model file (it does not start with \"EARSHOTM\")")]
    NotAModel,
    #[error("model format version {found} is newer than this Earshot reads ({supported}); upgrade Earshot or retrain with this version")]
    TooNew { found: u32, supported: u32 },
    #[error("model format version {found} is not one this Earshot reads ({supported})")]
    Unsupported { found: u32, supported: u32 },
    #[error("the model file is corrupt: {0}")]
    Corrupt(String),
    #[error("the model file is inconsistent: {0}")]
    Invalid(String),
}

impl ModelFileError {
    /// A short, stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ModelFileError::NotAModel => "not_a_model",
            ModelFileError::TooNew { .. } => "model_too_new",
            ModelFileError::Unsupported { .. } => "model_unsupported",
            ModelFileError::Corrupt(_) => "model_corrupt",
            ModelFileError::Invalid(_) => "model_invalid",
        }
    }
}

/// Writes a model; the same model always gives the same bytes.
pub fn to_bytes(model: &Model) -> Vec<u8> {
    let meta = serde_json::to_vec(model.meta()).unwrap_or_default();
    let weights = model.weights();
    let mut out = Vec::with_capacity(meta.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta);
    let rows: Vec<(usize, &[f32])> = weights
        .chunks_exact(Output::COUNT)
        .enumerate()
        .filter(|(_, row)| row.iter().any(|&w| w != 0.0))
        .collect();
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for (index, row) in rows {
        out.extend_from_slice(&(index as u32).to_le_bytes());
        for w in row {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    let checksum = xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Reads a model, checking magic, version, checksum and that every part fits.
pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelFileError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ModelFileError::NotAModel);
    }
    let mut r = Reader { bytes, at: 8 };
    let version = r.u32()?;
    if version > FORMAT_VERSION {
        return Err(ModelFileError::TooNew {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version != FORMAT_VERSION {
        return Err(ModelFileError::Unsupported {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let Some(body) = bytes.len().checked_sub(8) else {
        return Err(corrupt("too short"));
    };
    let stored = u64::from_le_bytes(bytes[body..].try_into().map_err(|_| corrupt("too short"))?);
    if xxh3_64(&bytes[..body]) != stored {
        return Err(corrupt("checksum mismatch (truncated or damaged)"));
    }
    let r = &mut Reader {
        bytes: &bytes[..body],
        at: 12,
    };
    let meta_len = r.u32()? as usize;
    let meta: ModelMeta = serde_json::from_slice(r.take(meta_len)?)
        .map_err(|e| ModelFileError::Invalid(format!("metadata: {e}")))?;
    meta.features
        .check()
        .map_err(|e| ModelFileError::Invalid(format!("feature configuration: {e}")))?;
    let rows = meta.features.rows();
    let mut weights = vec![0f32; rows * Output::COUNT];
    let stored_rows = r.u32()? as usize;
    let mut previous: Option<usize> = None;
    for _ in 0..stored_rows {
        let index = r.u32()? as usize;
        if index >= rows || previous.is_some_and(|p| p >= index) {
            return Err(ModelFileError::Invalid(format!(
                "row {index} out of order or beyond the {rows} rows of the table"
            )));
        }
        previous = Some(index);
        // A whole row at once: the built-in model is read at every start.
        let row = r.take(4 * Output::COUNT)?;
        let slots = &mut weights[index * Output::COUNT..(index + 1) * Output::COUNT];
        for (w, bytes) in slots.iter_mut().zip(row.chunks_exact(4)) {
            let mut le = [0u8; 4];
            le.copy_from_slice(bytes);
            *w = f32::from_le_bytes(le);
        }
    }
    if r.at != r.bytes.len() {
        return Err(corrupt("bytes left over after the weights"));
    }
    Model::new(meta, weights).map_err(ModelFileError::Invalid)
}

fn corrupt(why: &str) -> ModelFileError {
    ModelFileError::Corrupt(why.to_string())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelFileError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| corrupt("ends early"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelFileError> {
        self.take(N)?.try_into().map_err(|_| corrupt("ends early"))
    }

    fn u32(&mut self) -> Result<u32, ModelFileError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
}
