//! Splitting HTTP streaming bodies into messages, whatever the chunk boundaries: lines for
//! the X filtered stream (a blank line is a keep-alive) and Server-Sent Events for Mastodon.
//! Both keep at most one partial message, bounded, so a peer that never sends a newline cannot
//! grow memory without limit.

/// Lines of a chunked body; `\r\n` and `\n` both end a line.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
    max: usize,
}

impl Lines {
    /// Lines longer than `max` bytes are an error.
    pub fn new(max: usize) -> Lines {
        Lines {
            partial: Vec::new(),
            max,
        }
    }

    /// Adds a chunk; returns the complete lines (without their ending), or `Err` with the
    /// length when a line grew past the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, usize> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..i]);
            let mut line = std::mem::take(&mut self.partial);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(line);
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > self.max {
            let len = self.partial.len();
            self.partial.clear();
            return Err(len);
        }
        Ok(lines)
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when absent.
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Server-Sent Events of a chunked body (comments such as Mastodon's `:thump` heartbeat are
/// dropped).
#[derive(Debug)]
pub struct Sse {
    lines: Lines,
    event: Option<String>,
    data: Option<String>,
}

impl Sse {
    pub fn new(max_line: usize) -> Sse {
        Sse {
            lines: Lines::new(max_line),
            event: None,
            data: None,
        }
    }

    /// Adds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, usize> {
        let mut events = Vec::new();
        for line in self.lines.push(chunk)? {
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    events.push(SseEvent {
                        event: self.event.take().unwrap_or_else(|| "message".into()),
                        data,
                    });
                }
                self.event = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_ref(), ""),
            };
            match field {
                "event" => self.event = Some(value.to_string()),
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                },
                _ => {}
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks() {
        let mut l = Lines::new(100);
        assert_eq!(l.push(b"{\"a\":").ok(), Some(vec![]));
        assert_eq!(
            l.push(b"1}\r\n\r\n{\"b\"").ok(),
            Some(vec![b"{\"a\":1}".to_vec(), Vec::new()])
        );
        assert_eq!(l.push(b":2}\n").ok(), Some(vec![b"{\"b\":2}".to_vec()]));
        assert_eq!(Lines::new(4).push(b"12345").err(), Some(5));
    }

    #[test]
    fn sse_events_heartbeats_and_multiline_data() {
        let mut s = Sse::new(1000);
        let mut got = s.push(b":thump\n\nevent: upd").unwrap_or_default();
        got.extend(s.push(b"ate\ndata: {\"id\":\"1\"}\n\n").unwrap_or_default());
        got.extend(
            s.push(b"event: delete\r\ndata: 5\r\n\r\ndata: a\ndata: b\n\n")
                .unwrap_or_default(),
        );
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: "update".into(),
                    data: "{\"id\":\"1\"}".into()
                },
                SseEvent {
                    event: "delete".into(),
                    data: "5".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "a\nb".into()
                },
            ]
        );
    }
}
