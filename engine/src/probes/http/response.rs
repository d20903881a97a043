//! Reading a raw HTTP answer the way `check_http` does: as a C string, with
//! `strcspn`/`strspn` over `\r\n` — not as a strict HTTP parser, so that
//! odd and broken answers get the plugin's verdict (a garbage first line is
//! just a status line that does not contain `HTTP/1.`).

use std::borrow::Cow;

/// An answer split into status line, header block and page.
#[derive(Debug)]
pub struct Page<'a> {
    /// The first line, trailing blanks stripped.
    pub status_line: String,
    /// The header lines (without the status line and the blank line).
    pub header: &'a [u8],
    /// The page after the headers, de-chunked when the headers say so;
    /// `None` when a chunk claims more bytes than the page has (the
    /// plugin's "Failed to unchunk message body").
    pub body: Option<Cow<'a, [u8]>>,
}

/// Where a redirect points, as the plugin's `sscanf` patterns read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `scheme://host[:port][/path]`; the path always starts with `/`.
    Absolute {
        /// Up to five of `HTPShtps`.
        scheme: String,
        /// Letters, digits, `-` and `.`.
        host: String,
        /// The port, if written.
        port: Option<u32>,
        /// The path.
        path: String,
    },
    /// Anything else made of URI characters: a path, maybe relative.
    Path(String),
}

/// Why a redirect cannot be followed; the plugin's UNKNOWN texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadLocation {
    /// No `Location:` header.
    Missing,
    /// `Location:` with nothing after it.
    Empty,
    /// A value the patterns do not match (the rest of the header).
    Unparsable(String),
}

/// Splits `raw` like check_http's `check_http()` does after reading.
pub fn split(raw: &[u8]) -> Page<'_> {
    let page = c_str(raw);
    let line_end = cspn(page, 0);
    let status = &page[..line_end];
    let keep = status
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    let status_line = String::from_utf8_lossy(&status[..keep]).into_owned();

    let start = line_end + spn(page, line_end);
    let mut at = start;
    let mut header_end = start;
    while cspn(page, at) > 0 {
        at += cspn(page, at);
        header_end = at;
        let crs = page[at..].iter().take_while(|&&b| b == b'\r').count();
        let lfs = page[at..].iter().take_while(|&&b| b == b'\n').count();
        at += if (crs == 1 || lfs == 1) && spn(page, at) >= 2 {
            2
        } else {
            1
        };
        at = at.min(page.len());
    }
    at += spn(page, at);
    let header = &page[start..header_end];
    let rest = &page[at.min(page.len())..];
    let chunked = header_value(header, b"Transfer-Encoding") == Some(&b"chunked"[..]);
    let body = if chunked && !rest.is_empty() {
        dechunk(rest).map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(rest))
    };
    Page {
        status_line,
        header,
        body,
    }
}

/// `expected_statuscode`: any comma-separated code is a substring of the
/// status line.
pub fn expected(status_line: &str, codes: &str) -> bool {
    codes
        .split(',')
        .filter(|c| !c.is_empty())
        .any(|c| status_line.contains(c))
}

/// `header_value`: the first occurrence of `name` anywhere in the header
/// block (case-sensitive), its value up to the line's end.
fn header_value<'a>(header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let at = find(header, name)?;
    let mut s = &header[at..];
    let skip = s
        .iter()
        .take_while(|b| !b.is_ascii_whitespace() && **b != b':')
        .count();
    s = &s[skip..];
    if let Some(rest) = s.strip_prefix(b":") {
        s = rest;
    }
    let blank = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    s = &s[blank..];
    Some(&s[..cspn(s, 0)])
}

/// `decode_chunked_page`: hex size, skip the line, copy, skip `\r\n`;
/// `None` when a chunk runs past the end.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let digits = raw.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return None;
        }
        let size = std::str::from_utf8(&raw[..digits])
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .unwrap_or(usize::MAX);
        if size == 0 {
            return Some(out);
        }
        let from = (cspn(raw, 0) + 2).min(raw.len());
        let to = from.saturating_add(size);
        if to > raw.len() {
            return None;
        }
        out.extend_from_slice(&raw[from..to]);
        raw = &raw[to.saturating_add(2).min(raw.len())..];
    }
}

/// The `Location:` of a redirect, read by the plugin's `redir()`.
pub fn location(header: &[u8]) -> Result<Location, BadLocation> {
    let mut at = 0;
    let value = loop {
        let line = &header[at..];
        if line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"location:") {
            let mut v = at + 9;
            v += header[v..]
                .iter()
                .take_while(|&&b| matches!(b, b' ' | b'\t'))
                .count();
            // An empty value may continue on an indented next line.
            while spn(header, v) > 0 {
                v += spn(header, v);
                let indent = header[v..]
                    .iter()
                    .take_while(|&&b| matches!(b, b' ' | b'\t'))
                    .count();
                if indent == 0 {
                    return Err(BadLocation::Empty);
                }
                v += indent;
            }
            break &header[v..];
        }
        at += cspn(header, at);
        at += spn(header, at);
        if at >= header.len() {
            return Err(BadLocation::Missing);
        }
    };
    parse_location(value)
        .ok_or_else(|| BadLocation::Unparsable(String::from_utf8_lossy(value).into_owned()))
}

/// The plugin's `HD1`..`HD5` patterns, tried in order.
fn parse_location(value: &[u8]) -> Option<Location> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let path_at = |s: &[u8]| -> String {
        let n = s.iter().take_while(|&&b| is_path_char(b)).count();
        format!("/{}", text(&s[..n]))
    };
    let scheme = value
        .iter()
        .take(5)
        .take_while(|b| b"HTPShtps".contains(b))
        .count();
    if scheme > 0 && value[scheme..].starts_with(b"://") {
        let rest = &value[scheme + 3..];
        let host = rest
            .iter()
            .take(255)
            .take_while(|&&b| is_host_char(b))
            .count();
        if host > 0 {
            let mut tail = &rest[host..];
            let mut port = None;
            if let Some(after) = tail.strip_prefix(b":") {
                let digits = after
                    .iter()
                    .take(6)
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 {
                    // Only `HD4` (scheme and host) matches.
                    tail = b"";
                } else {
                    port = std::str::from_utf8(&after[..digits]).ok()?.parse().ok();
                    tail = &after[digits..];
                }
            }
            let path = match tail.strip_prefix(b"/") {
                Some(p) if p.first().is_some_and(|&b| is_path_char(b)) => path_at(p),
                _ => "/".to_string(),
            };
            return Some(Location::Absolute {
                scheme: text(&value[..scheme]),
                host: text(&rest[..host]),
                port,
                path,
            });
        }
    }
    let n = value.iter().take_while(|&&b| is_path_char(b)).count();
    (n > 0).then(|| Location::Path(text(&value[..n])))
}

fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'();/?:@&=+$,%#".contains(&b)
}

/// The bytes up to the first NUL.
pub fn c_str(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |i| &bytes[..i])
}

/// `strcspn(s + at, "\r\n")`.
fn cspn(s: &[u8], at: usize) -> usize {
    s[at.min(s.len())..]
        .iter()
        .take_while(|&&b| b != b'\r' && b != b'\n')
        .count()
}

/// `strspn(s + at, "\r\n")`.
fn spn(s: &[u8], at: usize) -> usize {
    s[at.min(s.len())..]
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// First position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether `page` (up to its first NUL) contains `needle` (`strstr`).
pub fn contains(page: &[u8], needle: &str) -> bool {
    needle.is_empty() || find(c_str(page), needle.as_bytes()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_plugin() {
        let raw = b"HTTP/1.1 200 OK \r\nServer: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x\r\n!!!\r\n0\r\n\r\n";
        let page = split(raw);
        assert_eq!(page.status_line, "HTTP/1.1 200 OK");
        assert_eq!(page.header, b"Server: x\r\nTransfer-Encoding: chunked");
        assert_eq!(page.body.as_deref(), Some(&b"hello!!!"[..]));
        let page =
            split(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nshort\r\n0\r\n\r\n");
        assert_eq!(page.body, None);
        let page = split(b"garbage\0HTTP/1.1 200 OK\r\n");
        assert_eq!(
            (page.status_line.as_str(), page.header),
            ("garbage", &b""[..])
        );
        assert!(expected("HTTP/1.1 404 Not Found", "200,404"));
        assert!(!expected("HTTP/1.1 404 Not Found", ",500,"));
        assert!(contains(b"abc\0def", "abc") && !contains(b"abc\0def", "def"));
    }

    #[test]
    fn reads_locations_like_redir() {
        let abs = |scheme: &str, host: &str, port, path: &str| Location::Absolute {
            scheme: scheme.into(),
            host: host.into(),
            port,
            path: path.into(),
        };
        let table: &[(&[u8], Result<Location, BadLocation>)] = &[
            (
                b"X: y\r\nLocation: http://h:81/a/b?c",
                Ok(abs("http", "h", Some(81), "/a/b?c")),
            ),
            (
                b"location: https://h.example/x y",
                Ok(abs("https", "h.example", None, "/x")),
            ),
            (
                b"LOCATION:http://h:8080",
                Ok(abs("http", "h", Some(8080), "/")),
            ),
            (b"Location: http://h:/p", Ok(abs("http", "h", None, "/"))),
            (
                b"Location: /index.html",
                Ok(Location::Path("/index.html".into())),
            ),
            (b"Location: next", Ok(Location::Path("next".into()))),
            (b"Location: \r\nX: y", Err(BadLocation::Empty)),
            (b"Location: <>", Err(BadLocation::Unparsable("<>".into()))),
            (b"Server: x\r\nX: y", Err(BadLocation::Missing)),
        ];
        for (header, want) in table {
            assert_eq!(
                &location(header),
                want,
                "{}",
                String::from_utf8_lossy(header)
            );
        }
    }
}
