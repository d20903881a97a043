//! The request check_http sends, header by header in its order: request
//! line, `User-Agent` (`-A`), `Connection`, `Host` (or the last `-k Host:`),
//! the other `-k` headers, `Authorization` (`-a`), then `-P` data with its
//! `Content-Type` (`-T`) and `Content-Length`.
//!
//! With keep-alive on, the request is HTTP/1.1 with `Connection:
//! keep-alive` and always names a host (the address when there is no
//! `-H`), as HTTP/1.1 requires.

use super::redirect::Hop;
use super::HttpProbe;

/// The `User-Agent` monitoring-plugins 2.3.3's check_http sends.
pub const USER_AGENT: &str = "check_http/v2.3.3 (monitoring-plugins 2.3.3)";

impl HttpProbe {
    /// The request for `hop`; `keepalive` asks the server to keep the
    /// connection open.
    pub(super) fn request(&self, hop: &Hop, keepalive: bool) -> Vec<u8> {
        let version = if hop.host_name.is_some() || keepalive {
            "HTTP/1.1"
        } else {
            "HTTP/1.0"
        };
        let agent = self.user_agent.as_deref().unwrap_or(USER_AGENT);
        let connection = if keepalive { "keep-alive" } else { "close" };
        let mut req = format!(
            "{} {} {version}\r\nUser-Agent: {agent}\r\nConnection: {connection}\r\n",
            self.method(),
            hop.uri
        );
        // The plugin takes the last `-k Host:...` as the Host header and
        // sends every other `-k` as given; without `-H` it sends neither.
        let forced = self.headers.iter().rposition(|h| h.starts_with("Host:"));
        let host = hop
            .host_name
            .as_deref()
            .or(keepalive.then_some(&*hop.address));
        match (host, forced) {
            (Some(_), Some(i)) => push_line(&mut req, &self.headers[i]),
            (Some(host), None) => {
                let default_port = if hop.ssl { 443 } else { 80 };
                if hop.port == default_port {
                    req.push_str(&format!("Host: {host}\r\n"));
                } else {
                    req.push_str(&format!("Host: {host}:{}\r\n", hop.port));
                }
            }
            (None, _) => {}
        }
        for (i, h) in self.headers.iter().enumerate() {
            if Some(i) != forced {
                push_line(&mut req, h);
            }
        }
        if let Some(auth) = &self.auth {
            req.push_str("Authorization: Basic ");
            base64(auth.as_bytes(), &mut req);
            req.push_str("\r\n");
        }
        match &self.post {
            Some(data) => {
                let kind = self
                    .content_type
                    .as_deref()
                    .unwrap_or("application/x-www-form-urlencoded");
                req.push_str(&format!(
                    "Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n{data}",
                    data.len()
                ));
            }
            None => req.push_str("\r\n"),
        }
        req.into_bytes()
    }
}

fn push_line(req: &mut String, line: &str) {
    req.push_str(line);
    req.push_str("\r\n");
}

/// Standard base64 with padding (RFC 4648 §4), as `-a` is sent.
fn base64(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::http::config;

    fn probe(args: &[&str]) -> HttpProbe {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        config::parse(&args).expect("native")
    }

    fn hop(host_name: Option<&str>, port: u16) -> Hop {
        Hop {
            host_name: host_name.map(String::from),
            address: "10.0.0.1".into(),
            port,
            ssl: false,
            scheme: "http".into(),
            uri: "/x".into(),
        }
    }

    fn text(p: &HttpProbe, hop: &Hop, keepalive: bool) -> String {
        String::from_utf8_lossy(&p.request(hop, keepalive)).into_owned()
    }

    #[test]
    fn base64_pads_like_rfc4648() {
        let table = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("user:pass", "dXNlcjpwYXNz"),
        ];
        for (plain, want) in table {
            let mut out = String::new();
            base64(plain.as_bytes(), &mut out);
            assert_eq!(out, want, "{plain}");
        }
    }

    #[test]
    fn headers_in_the_plugins_order() {
        let p = probe(&["-H", "www", "-p", "8080"]);
        assert_eq!(
            text(&p, &hop(Some("www"), 8080), false),
            format!("GET /x HTTP/1.1\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\nHost: www:8080\r\n\r\n")
        );
        let p = probe(&[
            "-I", "10.0.0.1", "-A", "probe/1", "-k", "Host: a", "-k", "X-A: 1", "-k", "Host: b",
            "-a", "u:p", "-P", "k=v",
        ]);
        assert_eq!(
            text(&p, &hop(None, 80), false),
            "POST /x HTTP/1.0\r\nUser-Agent: probe/1\r\nConnection: close\r\nHost: a\r\nX-A: 1\r\n\
             Authorization: Basic dTpw\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 3\r\n\r\nk=v"
        );
        assert_eq!(
            text(&p, &hop(None, 80), true),
            "POST /x HTTP/1.1\r\nUser-Agent: probe/1\r\nConnection: keep-alive\r\nHost: b\r\nHost: a\r\n\
             X-A: 1\r\nAuthorization: Basic dTpw\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 3\r\n\r\nk=v"
        );
        let p = probe(&[
            "-I",
            "10.0.0.1",
            "-j",
            "PUT",
            "-P",
            "{}",
            "-T",
            "application/json",
        ]);
        assert_eq!(
            text(&p, &hop(None, 81), true),
            format!("PUT /x HTTP/1.1\r\nUser-Agent: {USER_AGENT}\r\nConnection: keep-alive\r\nHost: 10.0.0.1:81\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}")
        );
    }
}
