//! Where an HTTP/1.x response ends on a kept-alive connection, and whether
//! the connection may carry another request after it.
//!
//! The plugin reads until the server closes; a pooled connection is never
//! closed by the server after an answer, so the end must come from the
//! framing instead: `Content-Length`, the chunked encoding, or none at all
//! (HEAD, 1xx, 204, 304). The reader is fed the bytes as they arrive, so
//! it never needs the whole body in memory: only the header block, which
//! the caller keeps anyway.

/// How far a response has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes belong to this response.
    More,
    /// The response is complete; `reusable` says whether the connection
    /// may carry the next request.
    Done {
        /// The framing and headers allow another request.
        reusable: bool,
    },
    /// The body has no end short of the server closing (no length, or a
    /// framing that does not parse): read to EOF, never reuse.
    UntilClose,
}

/// The body's framing, decided once the header block is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// This many bytes still to come.
    Length(u64),
    /// Chunked, in this state.
    Chunked(Chunk),
    /// Read to EOF.
    UntilClose,
    /// Complete.
    Done,
}

/// The chunked decoder's position (RFC 9112 §7.1), lenient about bare LF
/// like the plugin's own decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; `digits` so far.
    Size { size: u64, digits: u8 },
    /// Skipping a chunk extension up to the line end.
    Extension { size: u64 },
    /// After the size line's CR.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data(u64),
    /// After the data, expecting CR.
    DataCr,
    /// After the data's CR, expecting LF.
    DataLf,
    /// At the start of a trailer line (or the final blank line).
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// After the final blank line's CR.
    FinalLf,
}

/// Tracks one response's end; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    body: Body,
    /// The headers allow reuse (HTTP/1.1 without `Connection: close`, or
    /// HTTP/1.0 with `Connection: keep-alive`).
    keep_alive: bool,
}

impl Framing {
    /// Reads the framing off a complete header block (status line
    /// included, up to the blank line); `head` is true for a HEAD request,
    /// whose answer has no body whatever its headers say.
    pub fn from_head(head_block: &[u8], head: bool) -> Framing {
        let mut lines = head_block
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status = lines.next().unwrap_or_default();
        let http11 = status.starts_with(b"HTTP/1.1 ");
        let code = status
            .get(9..12)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse::<u16>().ok());
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        let mut keep = false;
        let mut bad = code.is_none();
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
            if name.eq_ignore_ascii_case(b"content-length") {
                let parsed = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok());
                // Two different lengths, or one that is not a number, make
                // the end unknowable (RFC 9112 §6.3, point 5).
                match (parsed, length) {
                    (Some(n), None) => length = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => bad = true,
                }
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = trim(last).eq_ignore_ascii_case(b"chunked");
                bad |= !chunked;
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in value.split(|&b| b == b',').map(trim) {
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        let keep_alive = !close && (http11 || keep);
        let no_body = head || matches!(code, Some(100..=199 | 204 | 304));
        let body = if no_body {
            Body::Done
        } else if bad {
            Body::UntilClose
        } else if chunked {
            Body::Chunked(Chunk::Size { size: 0, digits: 0 })
        } else {
            match length {
                Some(0) => Body::Done,
                Some(n) => Body::Length(n),
                None => Body::UntilClose,
            }
        };
        Framing { body, keep_alive }
    }

    /// Where the response stands before any body byte.
    pub fn progress(&self) -> Progress {
        match self.body {
            Body::Done => Progress::Done {
                reusable: self.keep_alive,
            },
            Body::UntilClose => Progress::UntilClose,
            Body::Length(_) | Body::Chunked(_) => Progress::More,
        }
    }

    /// Feeds body bytes. Bytes past the end of the response (a server
    /// sending more than it framed) make the connection unusable.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Progress {
        while !bytes.is_empty() {
            match &mut self.body {
                Body::Length(left) => {
                    let n = (*left).min(bytes.len() as u64);
                    *left -= n;
                    // n <= bytes.len(), so this cannot truncate.
                    bytes = &bytes[n as usize..];
                    if *left == 0 {
                        self.body = Body::Done;
                    }
                }
                Body::Chunked(state) => match step(state, bytes) {
                    Some((used, done)) => {
                        bytes = &bytes[used..];
                        if done {
                            self.body = Body::Done;
                        }
                    }
                    None => self.body = Body::UntilClose,
                },
                Body::UntilClose => return Progress::UntilClose,
                Body::Done => return Progress::Done { reusable: false },
            }
        }
        self.progress()
    }
}

/// Advances the chunked decoder over `bytes`: how many were used, and
/// whether the body ended; `None` when the encoding does not parse.
fn step(state: &mut Chunk, bytes: &[u8]) -> Option<(usize, bool)> {
    // Data runs are consumed whole; everything else byte by byte.
    if let Chunk::Data(left) = state {
        let n = (*left).min(bytes.len() as u64);
        *left -= n;
        if *left == 0 {
            *state = Chunk::DataCr;
        }
        return Some((n as usize, false));
    }
    let b = bytes[0];
    *state = match (*state, b) {
        (Chunk::Size { size, digits }, _) if b.is_ascii_hexdigit() => {
            // 15 hex digits keep every size below 2^60: no overflow.
            if digits >= 15 {
                return None;
            }
            let d = u64::from((b as char).to_digit(16)?);
            Chunk::Size {
                size: size * 16 + d,
                digits: digits + 1,
            }
        }
        (Chunk::Size { size, digits }, b';' | b' ' | b'\t') if digits > 0 => {
            Chunk::Extension { size }
        }
        (Chunk::Size { size, digits }, b'\r') if digits > 0 => Chunk::SizeLf { size },
        (Chunk::Extension { size }, b'\r') => Chunk::SizeLf { size },
        (Chunk::Extension { size }, b'\n') | (Chunk::SizeLf { size }, b'\n') => sized(size),
        (Chunk::Size { size, digits }, b'\n') if digits > 0 => sized(size),
        (Chunk::Extension { size }, _) => Chunk::Extension { size },
        (Chunk::DataCr, b'\r') => Chunk::DataLf,
        (Chunk::DataCr | Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
        (Chunk::TrailerStart, b'\r') => Chunk::FinalLf,
        (Chunk::TrailerStart | Chunk::FinalLf, b'\n') => return Some((1, true)),
        (Chunk::TrailerLine, b'\n') => Chunk::TrailerStart,
        (Chunk::TrailerStart | Chunk::TrailerLine, _) => Chunk::TrailerLine,
        _ => return None,
    };
    Some((1, false))
}

/// The state after a size line: data, or the trailer after the last chunk.
fn sized(size: u64) -> Chunk {
    if size == 0 {
        Chunk::TrailerStart
    } else {
        Chunk::Data(size)
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let end = s.len()
        - s.iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` one byte at a time (the hardest split) and whole.
    fn read(head: &str, is_head: bool, body: &[u8]) -> (Progress, Progress) {
        let mut f = Framing::from_head(head.as_bytes(), is_head);
        let mut bytewise = f.progress();
        for b in body {
            bytewise = f.feed(std::slice::from_ref(b));
        }
        let mut g = Framing::from_head(head.as_bytes(), is_head);
        let whole = if body.is_empty() {
            g.progress()
        } else {
            g.feed(body)
        };
        (bytewise, whole)
    }

    #[test]
    fn ends_where_the_framing_says() {
        const REUSE: Progress = Progress::Done { reusable: true };
        const ONCE: Progress = Progress::Done { reusable: false };
        const EOF: Progress = Progress::UntilClose;
        const MORE: Progress = Progress::More;
        let table: &[(&str, bool, &[u8], Progress)] = &[
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5",
                false,
                b"hello",
                REUSE,
            ),
            ("HTTP/1.1 200 OK\r\ncontent-length:5", false, b"hel", MORE),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5",
                false,
                b"hello!",
                ONCE,
            ),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5", true, b"", REUSE),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 5",
                false,
                b"",
                REUSE,
            ),
            ("HTTP/1.1 204 No Content", false, b"", REUSE),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close",
                false,
                b"hello",
                ONCE,
            ),
            (
                "HTTP/1.0 200 OK\r\nContent-Length: 5",
                false,
                b"hello",
                ONCE,
            ),
            (
                "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive",
                false,
                b"hello",
                REUSE,
            ),
            ("HTTP/1.1 200 OK", false, b"hello", EOF),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5x",
                false,
                b"hello",
                EOF,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6",
                false,
                b"hello",
                EOF,
            ),
            ("garbage", false, b"", EOF),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                false,
                b"5\r\nhello\r\n3;x=y\r\n!!!\r\n0\r\n\r\n",
                REUSE,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                false,
                b"5\nhello\n0\nX-T: 1\n\n",
                REUSE,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                false,
                b"5\r\nhello\r\n0\r\n",
                MORE,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                false,
                b"5\r\nhelloXX0\r\n\r\n",
                EOF,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                false,
                b"zz\r\n",
                EOF,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
                false,
                b"ffffffffffffffffff\r\n",
                EOF,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip",
                false,
                b"x",
                EOF,
            ),
        ];
        for &(head, is_head, body, want) in table {
            let (bytewise, whole) = read(head, is_head, body);
            assert_eq!(bytewise, want, "{head:?} {:?} byte by byte", body);
            assert_eq!(whole, want, "{head:?} {:?} whole", body);
        }
    }
}
