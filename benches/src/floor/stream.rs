//! TCP and HTTP floors: [`TASKS`] tokio tasks on a current-thread
//! runtime, each doing its round trip in a loop until the deadline.
//! Requests are written by hand: the floor is the syscalls, not a client.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::peers::HTTP_PATH;

/// Round trips in flight per thread: enough that the loop is bound by CPU,
/// not by round-trip time (64 left it waiting when other processes
/// delayed the peer).
pub const TASKS: usize = 256;

/// Which round trip.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// connect + close.
    Connect,
    /// A new connection per `GET`.
    HttpNew,
    /// One connection per task, reused.
    HttpKeepAlive,
}

/// Runs [`TASKS`] loops until `deadline`; returns completed round trips.
pub fn run(mode: Mode, addr: SocketAddr, deadline: Instant) -> anyhow::Result<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = tokio::time::Instant::from_std(deadline);
    rt.block_on(async move {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| tokio::spawn(one_task(mode, addr, deadline)))
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap_or(0);
        }
        Ok(total)
    })
}

async fn one_task(mode: Mode, addr: SocketAddr, deadline: tokio::time::Instant) -> u64 {
    let close = format!(
        "GET {HTTP_PATH} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        addr.ip()
    );
    let keep = format!("GET {HTTP_PATH} HTTP/1.1\r\nHost: {}\r\n\r\n", addr.ip());
    let mut buf = vec![0u8; 4096];
    let mut kept: Option<TcpStream> = None;
    let mut n = 0u64;
    while tokio::time::Instant::now() < deadline {
        let ok = match mode {
            Mode::Connect => TcpStream::connect(addr).await.is_ok(),
            Mode::HttpNew => get_close(addr, close.as_bytes(), &mut buf).await,
            Mode::HttpKeepAlive => {
                if kept.is_none() {
                    kept = TcpStream::connect(addr).await.ok();
                }
                match kept.as_mut() {
                    Some(s) => {
                        let ok = get_kept(s, keep.as_bytes(), &mut buf).await;
                        if !ok {
                            kept = None;
                        }
                        ok
                    }
                    None => false,
                }
            }
        };
        n += u64::from(ok);
    }
    n
}

/// One request on a new connection, read until the server closes it.
async fn get_close(addr: SocketAddr, request: &[u8], buf: &mut [u8]) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(request).await.is_err() {
        return false;
    }
    let mut head = false;
    loop {
        match s.read(buf).await {
            Ok(0) => return head,
            Ok(k) => head = head || buf[..k].starts_with(b"HTTP/1.1 200"),
            Err(_) => return false,
        }
    }
}

/// One request on a kept-open connection, read until the body is in
/// (by its `Content-Length`).
async fn get_kept(s: &mut TcpStream, request: &[u8], buf: &mut [u8]) -> bool {
    if s.write_all(request).await.is_err() {
        return false;
    }
    let mut have = 0;
    loop {
        let Ok(k) = s.read(&mut buf[have..]).await else {
            return false;
        };
        if k == 0 {
            return false;
        }
        have += k;
        if let Some(total) = response_len(&buf[..have]) {
            if have >= total {
                return buf.starts_with(b"HTTP/1.1 200");
            }
        }
        if have == buf.len() {
            return false;
        }
    }
}

/// Head plus body length of a response whose head is complete.
fn response_len(b: &[u8]) -> Option<usize> {
    let end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&b[..end]).ok()?;
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    })?;
    Some(end + len)
}

#[cfg(test)]
mod tests {
    use super::response_len;

    #[test]
    fn response_len_needs_the_whole_head() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
        assert_eq!(response_len(r), Some(r.len()));
        assert_eq!(response_len(&r[..20]), None);
        assert_eq!(response_len(b"HTTP/1.1 200 OK\r\n\r\n"), None);
    }
}
