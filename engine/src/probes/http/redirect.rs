//! Following a redirect the way `check_http`'s `redir()` does: the next
//! request's scheme, host, port and path from the `Location` header, with
//! the plugin's depth limit, loop check and UNKNOWN texts.

use crate::check::Status;

use super::response::{self, BadLocation, Location};
use super::wire::Failed;

/// The plugin's `DEFAULT_MAX_REDIRS` (`--max-redirs` changes it).
pub const MAX_REDIRECTS: u32 = 15;

/// Where the current request goes; redirects rewrite it.
#[derive(Debug, Clone)]
pub struct Hop {
    /// `Host:` (`-H`, then each redirect's host).
    pub host_name: Option<String>,
    /// Where to connect.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// TLS or not.
    pub ssl: bool,
    /// As printed (`http`, `https`, or a redirect's spelling).
    pub scheme: String,
    /// The request path.
    pub uri: String,
}

/// `redir()`: the next hop from a 3xx answer's `Location`, the
/// `depth`th of at most `max`.
pub fn redirect(hop: &Hop, header: &[u8], line: &str, depth: u32, max: u32) -> Result<Hop, Failed> {
    let unknown = |text: String| (Status::Unknown, format!("HTTP UNKNOWN - {text}"));
    let (scheme, addr, port, uri) = match response::location(header) {
        Ok(Location::Absolute {
            scheme,
            host,
            port,
            path,
        }) => {
            let default = if scheme == "https" { 443 } else { 80 };
            (scheme, host, port.unwrap_or(default), path)
        }
        Ok(Location::Path(path)) => {
            let path = if path.starts_with('/') {
                path
            } else {
                let base = hop.uri.rfind('/').map_or(&hop.uri[..], |i| &hop.uri[..i]);
                format!("{base}/{path}")
            };
            let addr = hop.host_name.clone().unwrap_or_else(|| hop.address.clone());
            (hop.scheme.clone(), addr, u32::from(hop.port), path)
        }
        Err(BadLocation::Missing) => {
            return Err(unknown(format!(
                "Could not find redirect location - {line}"
            )))
        }
        Err(BadLocation::Empty) => return Err(unknown("Empty redirect location".into())),
        Err(BadLocation::Unparsable(v)) => {
            return Err(unknown(format!("Could not parse redirect location - {v}")))
        }
    };
    let at = format!("{scheme}://{addr}:{port}{uri}");
    if depth > max {
        let text = format!("HTTP WARNING - maximum redirection depth {max} exceeded - {at}");
        return Err((Status::Warning, text));
    }
    if u32::from(hop.port) == port
        && hop.address == addr
        && hop.host_name.as_deref() == Some(&addr)
        && hop.uri == uri
    {
        let text = format!("HTTP WARNING - redirection creates an infinite loop - {at}");
        return Err((Status::Warning, text));
    }
    let Ok(port) = u16::try_from(port) else {
        return Err(unknown(format!("Redirection to port above 65535 - {at}")));
    };
    Ok(Hop {
        host_name: Some(addr.clone()),
        address: addr,
        port,
        ssl: scheme == "https",
        scheme,
        uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(host_name: Option<&str>, uri: &str) -> Hop {
        Hop {
            host_name: host_name.map(String::from),
            address: "10.0.0.1".into(),
            port: 8080,
            ssl: false,
            scheme: "http".into(),
            uri: uri.into(),
        }
    }

    fn next(from: &Hop, location: &str, depth: u32) -> Result<String, Failed> {
        let header = format!("Server: x\r\nLocation: {location}");
        redirect(
            from,
            header.as_bytes(),
            "HTTP/1.1 302 Found",
            depth,
            MAX_REDIRECTS,
        )
        .map(|h| {
            format!(
                "{}://{}:{}{} ssl={} host={:?}",
                h.scheme, h.address, h.port, h.uri, h.ssl, h.host_name
            )
        })
    }

    #[test]
    fn next_hop_like_redir() {
        let table: &[(Option<&str>, &str, &str, &str)] = &[
            (
                None,
                "/a/b",
                "https://w.example/x",
                "https://w.example:443/x ssl=true host=Some(\"w.example\")",
            ),
            (
                None,
                "/a/b",
                "http://w:81",
                "http://w:81/ ssl=false host=Some(\"w\")",
            ),
            (
                None,
                "/a/b",
                "/c",
                "http://10.0.0.1:8080/c ssl=false host=Some(\"10.0.0.1\")",
            ),
            (
                Some("vh"),
                "/a/b",
                "c",
                "http://vh:8080/a/c ssl=false host=Some(\"vh\")",
            ),
        ];
        for &(host, uri, location, want) in table {
            assert_eq!(
                next(&hop(host, uri), location, 1),
                Ok(want.to_string()),
                "{location}"
            );
        }
    }

    #[test]
    fn bad_redirects_say_why() {
        let warn = |t: &str| Err((Status::Warning, t.to_string()));
        let unknown = |t: &str| Err((Status::Unknown, t.to_string()));
        let from = hop(Some("10.0.0.1"), "/a");
        assert_eq!(
            next(&from, "/b", 16),
            warn("HTTP WARNING - maximum redirection depth 15 exceeded - http://10.0.0.1:8080/b")
        );
        assert_eq!(
            next(&from, "/a", 1),
            warn("HTTP WARNING - redirection creates an infinite loop - http://10.0.0.1:8080/a")
        );
        assert_eq!(
            next(&from, "http://h:99999/", 1),
            unknown("HTTP UNKNOWN - Redirection to port above 65535 - http://h:99999/")
        );
        assert_eq!(
            next(&from, "<nope>", 1),
            unknown("HTTP UNKNOWN - Could not parse redirect location - <nope>")
        );
        let missing = redirect(&from, b"Server: x", "HTTP/1.1 302 Found", 1, MAX_REDIRECTS);
        assert_eq!(
            missing.map(|h| h.uri),
            unknown("HTTP UNKNOWN - Could not find redirect location - HTTP/1.1 302 Found")
        );
    }
}
