//! A real nginx for the http probe tests, on free 127.0.0.1 ports with a
//! temporary prefix, plus a canned-answer fixture for what nginx cannot
//! play (a slow upstream, a server that answers garbage).
//!
//! nginx serves, on `http`:
//!
//! | path | answer |
//! | --- | --- |
//! | `/` | 200, [`PAGE`] |
//! | `/missing` | 404 |
//! | `/redir` | 302 to `/` (absolute `Location`) |
//! | `/rel` | 301 to `/` (`Location: /`) |
//! | `/slow` | proxied to a fixture that answers after [`SLOW`] |
//!
//! and `/` over TLS on `https` (self-signed, valid 365 days) and
//! `https_expiring` (valid 5 days), certificates made by the openssl CLI.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{free_port, TempDir};

/// The body of `/`.
pub const PAGE: &str = "<html><body>vedette http probe test page</body></html>\n";
/// How long `/slow` takes.
pub const SLOW: Duration = Duration::from_millis(1200);

/// A running nginx; killed (it runs as one process) on drop.
pub struct Nginx {
    /// Plain HTTP port.
    pub http: u16,
    /// HTTPS port, certificate valid 365 days.
    pub https: u16,
    /// HTTPS port, certificate valid 5 days.
    pub https_expiring: u16,
    child: Child,
    _slow: Canned,
    dir: TempDir,
}

impl Nginx {
    /// Starts nginx and waits until all its ports accept.
    pub fn start() -> Nginx {
        let nginx = Path::new("/usr/sbin/nginx");
        assert!(
            nginx.exists(),
            "{} is missing: install Debian's nginx (apt-get install nginx)",
            nginx.display()
        );
        let dir = TempDir::new("nginx");
        let d = dir.path();
        std::fs::create_dir_all(d.join("www")).expect("www dir");
        std::fs::create_dir_all(d.join("tmp")).expect("tmp dir");
        std::fs::write(d.join("www/index.html"), PAGE).expect("page");
        certificate(d, "valid", 365);
        certificate(d, "expiring", 5);
        let slow = Canned::start(SLOW, b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nslow!");
        let (http, https, https_expiring) = (free_port(), free_port(), free_port());
        let d_s = d.display();
        // As root, workers would switch to `nobody` and miss the files.
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root;"
        } else {
            ""
        };
        let conf = format!(
            r#"{user}
daemon off;
master_process off;
pid {d_s}/nginx.pid;
error_log {d_s}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d_s}/tmp; proxy_temp_path {d_s}/tmp;
  fastcgi_temp_path {d_s}/tmp; uwsgi_temp_path {d_s}/tmp; scgi_temp_path {d_s}/tmp;
  root {d_s}/www;
  server {{
    listen 127.0.0.1:{http};
    location = /redir {{ return 302 /; }}
    location = /rel {{ absolute_redirect off; return 301 /; }}
    location = /slow {{ proxy_pass http://{slow}/; }}
  }}
  server {{
    listen 127.0.0.1:{https} ssl;
    ssl_certificate {d_s}/valid.crt; ssl_certificate_key {d_s}/valid.key;
  }}
  server {{
    listen 127.0.0.1:{https_expiring} ssl;
    ssl_certificate {d_s}/expiring.crt; ssl_certificate_key {d_s}/expiring.key;
  }}
}}
"#,
            slow = slow.addr
        );
        std::fs::write(d.join("nginx.conf"), conf).expect("nginx.conf");
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("stderr.log")).expect("stderr log"))
            .spawn()
            .expect("spawn nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [http, https, https_expiring] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("nginx exited with {status}:\n{}", logs(d));
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx never listened:\n{}",
                    logs(d)
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Nginx {
            http,
            https,
            https_expiring,
            child,
            _slow: slow,
            dir,
        }
    }

    /// nginx's logs so far, for failure messages.
    pub fn logs(&self) -> String {
        logs(self.dir.path())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(dir: &Path) -> String {
    ["stderr.log", "error.log"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A self-signed certificate for CN=localhost, `NAME.crt` + `NAME.key`.
fn certificate(dir: &Path, name: &str, days: u32) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-days")
        .arg(days.to_string())
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt")))
        .output()
        .expect("the openssl CLI is missing: install Debian's openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fixture server: reads a request, waits, writes fixed bytes, closes.
pub struct Canned {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Canned {
    /// Starts it on 127.0.0.1 (one connection at a time).
    pub fn start(delay: Duration, answer: &'static [u8]) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                std::thread::sleep(delay);
                let _ = conn.write_all(answer);
            }
        });
        Canned {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops it and re-raises a panic from its thread.
    pub fn join(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
