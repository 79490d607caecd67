//! Reading JSON lines with a bound on how much one line may take: a line longer than the
//! limit is not kept whole (`earshot score /dev/zero` must not grow until allocation
//! fails); its first `max` bytes are, with the whole line's size and SHA-256, so it can be
//! reported or dead-lettered. Blank lines are skipped, a trailing `\r` and a UTF-8 byte
//! order mark at the start of the input are dropped.

use std::io::{self, BufRead};

use earshot_kafka::{PayloadHasher, Truncated};

/// One non-blank line.
#[derive(Debug)]
pub enum Line<'a> {
    Text(&'a [u8]),
    /// Longer than the limit: its first bytes and what the whole line was.
    TooLong {
        prefix: &'a [u8],
        original: Truncated,
    },
}

/// The lines of a reader, each at most `max` bytes kept.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    max: usize,
    number: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R, max: usize) -> Lines<R> {
        Lines {
            reader,
            max,
            number: 0,
            buf: Vec::new(),
        }
    }

    /// The next non-blank line and its 1-based number, or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, Line<'_>)>> {
        if self.number == 0 && self.reader.fill_buf()?.starts_with(BOM) {
            self.reader.consume(BOM.len());
        }
        loop {
            let Some(too_long) = self.read_line()? else {
                return Ok(None);
            };
            self.number += 1;
            if too_long.is_none() {
                if self.buf.last() == Some(&b'\r') {
                    self.buf.pop();
                }
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
            }
            let line = match too_long {
                None => Line::Text(&self.buf),
                Some(original) => Line::TooLong {
                    prefix: &self.buf,
                    original,
                },
            };
            return Ok(Some((self.number, line)));
        }
    }

    /// Reads up to the next newline into `buf`, keeping at most `max` bytes; `None` at the
    /// end of the input, `Some(Some(original))` when the line was longer.
    fn read_line(&mut self) -> io::Result<Option<Option<Truncated>>> {
        self.buf.clear();
        let mut hasher: Option<PayloadHasher> = None;
        let mut read_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let newline = memchr::memchr(b'\n', available);
            let chunk = &available[..newline.unwrap_or(available.len())];
            match &mut hasher {
                Some(hasher) => hasher.update(chunk),
                None if self.buf.len() + chunk.len() > self.max => {
                    let mut whole = PayloadHasher::default();
                    whole.update(&self.buf);
                    whole.update(chunk);
                    let keep = self.max - self.buf.len();
                    self.buf.extend_from_slice(&chunk[..keep]);
                    hasher = Some(whole);
                }
                None => self.buf.extend_from_slice(chunk),
            }
            let used = chunk.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                break;
            }
        }
        Ok(Some(hasher.map(PayloadHasher::finish)))
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Counts the newlines of a file without keeping it (for a progress bar).
pub fn count_lines(path: &std::path::Path) -> io::Result<usize> {
    let mut reader = io::BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let mut count = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(count);
        }
        count += memchr::memchr_iter(b'\n', available).count();
        let used = available.len();
        reader.consume(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn lines(input: &[u8], max: usize) -> Vec<(usize, String)> {
        // A tiny buffer, so that lines span many reads.
        let mut lines = Lines::new(io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        while let Some((n, line)) = lines.next_line().unwrap() {
            out.push((
                n,
                match line {
                    Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    Line::TooLong { prefix, original } => format!(
                        "{}… ({} bytes, {})",
                        String::from_utf8_lossy(prefix),
                        original.original_bytes,
                        &original.sha256[..8]
                    ),
                },
            ));
        }
        out
    }

    #[test]
    fn long_lines_are_cut_with_their_size_and_hash() {
        let got = lines(b"\xEF\xBB\xBFab\r\n\n  \nabcdefgh\nxy", 5);
        assert_eq!(
            got,
            [
                (1, "ab".to_string()),
                (4, "abcde… (8 bytes, 9c56cc51)".to_string()),
                (5, "xy".to_string())
            ]
        );
    }

    #[test]
    fn an_endless_line_keeps_memory_bounded() {
        let mut lines = Lines::new(io::BufReader::new(io::repeat(0).take(50_000_000)), 1000);
        let (n, line) = lines.next_line().unwrap().unwrap();
        assert_eq!(n, 1);
        let Line::TooLong { prefix, original } = line else {
            panic!("{line:?}")
        };
        assert_eq!((prefix.len(), original.original_bytes), (1000, 50_000_000));
        assert!(lines.buf.capacity() < 64 * 1024);
    }
}
