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
//! | `/chunked` | [`PAGE`], chunked (SSI drops the length) |
//! | `/private/` | basic auth, [`USER`]:[`PASSWORD`] |
//! | `/post` | 200, the request's method, type, length, `X-Test`, agent |
//!
//! every answer with `X-Vedette: probe`; `/` again on `keepalive_1s`,
//! which closes idle connections after one second; and `/` over TLS on
//! `https` (self-signed, valid 365 days) and `https_expiring` (valid 5
//! days), certificates made by the openssl CLI. Every request is logged as
//! `CONNECTION REQUESTS_ON_IT METHOD URI STATUS` ([`Nginx::access_log`]).

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
/// The user `/private/` admits.
pub const USER: &str = "vedette";
/// Their password.
pub const PASSWORD: &str = "s3cret";
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
    /// Plain HTTP port whose idle connections close after 1 s.
    pub keepalive_1s: u16,
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
        std::fs::create_dir_all(d.join("www/private")).expect("private dir");
        std::fs::write(d.join("www/private/index.html"), PAGE).expect("private page");
        std::fs::write(d.join("htpasswd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n"))
            .expect("htpasswd");
        certificate(d, "valid", 365);
        certificate(d, "expiring", 5);
        let slow = Canned::start(SLOW, b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nslow!");
        let (http, https, https_expiring) = (free_port(), free_port(), free_port());
        let keepalive_1s = free_port();
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
  log_format conn '$connection $connection_requests $request_method $uri $status';
  access_log {d_s}/access.log conn;
  add_header X-Vedette probe;
  client_body_temp_path {d_s}/tmp; proxy_temp_path {d_s}/tmp;
  fastcgi_temp_path {d_s}/tmp; uwsgi_temp_path {d_s}/tmp; scgi_temp_path {d_s}/tmp;
  root {d_s}/www;
  server {{
    listen 127.0.0.1:{http};
    location = /redir {{ return 302 /; }}
    location = /rel {{ absolute_redirect off; return 301 /; }}
    location = /slow {{ proxy_pass http://{slow}/; }}
    location = /chunked {{ ssi on; try_files /index.html =404; }}
    location /private/ {{ auth_basic "vedette"; auth_basic_user_file {d_s}/htpasswd; }}
    location = /post {{
      default_type text/plain;
      return 200 "method=$request_method type=$content_type length=$content_length x-test=$http_x_test agent=$http_user_agent\n";
    }}
  }}
  server {{
    listen 127.0.0.1:{keepalive_1s};
    keepalive_timeout 1s;
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
        for port in [http, https, https_expiring, keepalive_1s] {
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
            keepalive_1s,
            child,
            _slow: slow,
            dir,
        }
    }

    /// The access log so far, one `CONNECTION REQUESTS METHOD URI STATUS`
    /// line per request.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
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

/// A fixture server: reads a request, waits, writes fixed bytes, holds
/// the connection (a server stalling mid-answer), closes.
pub struct Canned {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Canned {
    /// Starts it on 127.0.0.1; answers after `delay` and closes at once.
    pub fn start(delay: Duration, answer: &'static [u8]) -> Canned {
        Canned::stalling(delay, answer, Duration::ZERO)
    }

    /// Starts it on 127.0.0.1; answers after `delay`, then keeps the
    /// connection open for `hold` before closing it. Each connection is
    /// served on a thread of its own, so a held one blocks no other.
    pub fn stalling(delay: Duration, answer: &'static [u8], hold: Duration) -> Canned {
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
                std::thread::spawn(move || {
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf);
                    std::thread::sleep(delay);
                    let _ = conn.write_all(answer);
                    std::thread::sleep(hold);
                });
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
