//! The agent <-> engine wire protocol: JSON messages, one per WebSocket
//! text frame, over TLS to the engine's agent endpoint (port 7661).
//!
//! A connection is one of two kinds, told apart by the TLS handshake:
//!
//! - **Enrolment** (the agent shows no client certificate): the agent sends
//!   [`AgentMessage::Enrol`] with its one-time token and a CSR; the engine
//!   answers [`EngineMessage::Enrolled`] with the signed certificate and the
//!   CA, or an [`EngineMessage::Error`], and closes.
//! - **Session** (mutual TLS with a certificate from the engine's CA; the
//!   host is the certificate's name, never a message field): the agent
//!   sends [`AgentMessage::Hello`] first; the engine answers
//!   [`EngineMessage::Welcome`] (the highest sequence number it has
//!   applied, so the agent can forget those at once) and
//!   [`EngineMessage::Assign`] (its checks; sent again on every reload).
//!   Then the agent streams [`AgentMessage::Results`] in increasing
//!   sequence order and the engine answers [`EngineMessage::Ack`] once the
//!   results are applied and the fact is on disk.
//!
//! Anything else (a frame that is not valid JSON of these shapes, a value
//! out of range, a message in the wrong place) gets an
//! [`EngineMessage::Error`] naming what was wrong; the decoders here return
//! a typed [`WireError`] for the first two, the session for the last.

use serde::{Deserialize, Serialize};

use crate::check::{CheckResult, Status};

/// Protocol version spoken by this build; sent in `Enrol` and `Hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts. A `Results` batch is cut well below
/// it ([`MAX_BATCH_BYTES`]); anything bigger is hostile or broken.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// The size agents aim a `Results` batch at (encoded), so replaying a full
/// spool is many moderate frames rather than one huge one.
pub const MAX_BATCH_BYTES: usize = 256 << 10;

/// Longest output line accepted per result, as the engine's exec probe
/// caps plugin output.
pub const MAX_TEXT_BYTES: usize = 64 << 10;

/// The WebSocket path of the agent endpoint.
pub const PATH: &str = "/v1/agent";

/// What an agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentMessage {
    /// First and only message of an enrolment connection.
    Enrol {
        /// [`PROTOCOL_VERSION`] of the agent.
        version: u32,
        /// The secret part of the enrolment token.
        token: String,
        /// PEM PKCS#10 request for the agent's own key.
        csr_pem: String,
    },
    /// First message of a session.
    Hello {
        /// [`PROTOCOL_VERSION`] of the agent.
        version: u32,
        /// The agent's software version, for `vedette agent list` and logs.
        agent_version: String,
        /// Results the spool has dropped (full) over its life.
        spool_dropped: u64,
    },
    /// Results in strictly increasing `seq` order (gaps allowed).
    Results {
        /// The batch.
        results: Vec<WireResult>,
        /// Results the spool has dropped over its life (as in `Hello`).
        spool_dropped: u64,
    },
    /// Answer to [`EngineMessage::Ping`].
    Pong {
        /// The ping's nonce.
        nonce: u64,
    },
}

/// One check result as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireResult {
    /// The agent's sequence number for this result (from its spool).
    pub seq: u64,
    /// The service, as assigned; the host comes from the certificate.
    pub service: String,
    /// Set only by agents that name their host; a name other than the
    /// certificate's is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub status: u8,
    /// First line of output, without perfdata.
    pub output: String,
    /// Perfdata text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub perfdata: String,
    /// Lines after the first.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub long_output: String,
    /// Unix seconds when the check finished.
    pub at: f64,
    /// How long the check ran, milliseconds.
    #[serde(default)]
    pub execution_ms: u32,
}

/// A check the engine assigns to an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignedCheck {
    /// The service name results must carry.
    pub service: String,
    /// The command line, macros expanded: a built-in check's plugin-style
    /// line (`check_load -w 5 -c 10`) or a plugin to run.
    pub command: String,
    /// Seconds between checks while OK or HARD.
    pub interval_s: f64,
    /// Seconds between retries while a problem is SOFT.
    pub retry_interval_s: f64,
    /// Attempts before a problem is HARD.
    pub max_attempts: u32,
    /// Seconds a plugin may run.
    pub timeout_s: f64,
    /// The state a timed-out check gets (the engine's `timeout_state`):
    /// 0-3, UNKNOWN when absent.
    #[serde(default = "unknown_status")]
    pub timeout_status: u8,
}

fn unknown_status() -> u8 {
    Status::Unknown as u8
}

/// What the engine sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EngineMessage {
    /// Enrolment succeeded: the agent's certificate and the CA to trust.
    Enrolled {
        /// The host the certificate is for.
        host: String,
        /// PEM certificate for the CSR's key.
        cert_pem: String,
        /// PEM certificate of the engine's CA.
        ca_pem: String,
    },
    /// Session accepted.
    Welcome {
        /// The host, from the certificate.
        host: String,
        /// Highest sequence number already applied for this host (0: none).
        applied_seq: u64,
    },
    /// The checks to run; replaces any earlier assignment.
    Assign {
        /// Increases with each assignment the engine makes.
        generation: u64,
        /// The checks.
        checks: Vec<AssignedCheck>,
    },
    /// Every result up to and including `up_to` is applied (or was a
    /// duplicate) and may be forgotten.
    Ack {
        /// Highest sequence number acknowledged.
        up_to: u64,
    },
    /// Liveness probe; answer with `Pong`.
    Ping {
        /// Echoed in the pong.
        nonce: u64,
    },
    /// The agent's last message (or the connection) was refused.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// What was wrong, for the agent's log.
        message: String,
    },
}

/// Why the engine refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON of a known message shape, or a value out of range.
    Malformed,
    /// Frame larger than [`MAX_FRAME_BYTES`].
    TooLarge,
    /// A message where it may not come (e.g. results before hello), or a
    /// batch whose sequence numbers do not follow the session's last one.
    /// (Within one batch, numbers that do not increase are `Malformed`.)
    OutOfOrder,
    /// A protocol version this side does not speak.
    Version,
    /// The enrolment token was refused (unknown, used, expired).
    EnrolmentRefused,
    /// The agent's certificate is revoked.
    Revoked,
    /// A result names a host other than the certificate's.
    WrongHost,
    /// A result for a service not assigned to this agent.
    UnknownService,
    /// The engine failed on its side (disk); try again later.
    Internal,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes is larger than the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl WireError {
    /// The error code to answer with.
    pub fn code(&self) -> ErrorCode {
        match self {
            WireError::TooLarge(_) => ErrorCode::TooLarge,
            WireError::Malformed(_) => ErrorCode::Malformed,
        }
    }
}

/// Reads an agent's frame, refusing oversized frames and values out of range.
pub fn decode_agent(frame: &[u8]) -> Result<AgentMessage, WireError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge(frame.len()));
    }
    // The hot message first, straight into its type; anything else (and
    // any error, worded for the whole protocol) through the enum.
    let msg = match serde_json::from_slice::<ResultsFrame>(frame) {
        Ok(f) => AgentMessage::Results {
            results: f.results,
            spool_dropped: f.spool_dropped,
        },
        Err(_) => decode(frame)?,
    };
    if let AgentMessage::Results { results, .. } = &msg {
        let mut last = 0;
        for r in results {
            validate_result(r)?;
            if r.seq <= last {
                return Err(WireError::Malformed(format!(
                    "sequence numbers must increase within a batch: {} after {last}",
                    r.seq
                )));
            }
            last = r.seq;
        }
    }
    Ok(msg)
}

/// A `Results` message as its own type: serde reads an internally tagged
/// enum by buffering the whole frame as generic values first, which the
/// profile of a busy hub showed as a tenth of its CPU.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsFrame {
    #[serde(rename = "type")]
    _kind: ResultsTag,
    results: Vec<WireResult>,
    spool_dropped: u64,
}

#[derive(Deserialize)]
enum ResultsTag {
    #[serde(rename = "results")]
    Results,
}

/// Reads an engine's frame.
pub fn decode_engine(frame: &[u8]) -> Result<EngineMessage, WireError> {
    decode(frame)
}

/// Writes any message as its frame text.
pub fn encode<T: Serialize>(msg: &T) -> String {
    // Serialising these types cannot fail: no maps with non-string keys,
    // no non-finite floats reach here unchecked by `validate_result`.
    serde_json::to_string(msg).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","code":"internal","message":"encode: {e}"}}"#)
    })
}

fn decode<T: for<'de> Deserialize<'de>>(frame: &[u8]) -> Result<T, WireError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge(frame.len()));
    }
    serde_json::from_slice(frame).map_err(|e| WireError::Malformed(e.to_string()))
}

fn validate_result(r: &WireResult) -> Result<(), WireError> {
    let bad = |what: String| Err(WireError::Malformed(format!("result {}: {what}", r.seq)));
    if r.seq == 0 {
        return bad("sequence number 0 is reserved".into());
    }
    if r.status > 3 {
        return bad(format!(
            "status {} is not 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN)",
            r.status
        ));
    }
    if r.service.is_empty() {
        return bad("empty service name".into());
    }
    for (name, text) in [
        ("output", &r.output),
        ("perfdata", &r.perfdata),
        ("long_output", &r.long_output),
    ] {
        if text.len() > MAX_TEXT_BYTES {
            return bad(format!(
                "{name} of {} bytes exceeds {MAX_TEXT_BYTES}",
                text.len()
            ));
        }
    }
    if !r.at.is_finite() || r.at < 0.0 {
        return bad(format!("time {} is not a Unix time", r.at));
    }
    Ok(())
}

impl WireResult {
    /// The result as a check result, for the state machine.
    pub fn to_check_result(&self) -> CheckResult {
        CheckResult {
            status: Status::from_exit_code(i32::from(self.status)),
            output: self.output.as_str().into(),
            perfdata: self.perfdata.as_str().into(),
            long_output: self.long_output.as_str().into(),
        }
    }

    /// A wire result from a finished check.
    pub fn from_check_result(
        seq: u64,
        service: &str,
        r: &CheckResult,
        at: f64,
        execution_ms: u32,
    ) -> WireResult {
        WireResult {
            seq,
            service: service.to_string(),
            host: None,
            status: r.status as u8,
            output: r.output.to_string(),
            perfdata: r.perfdata.to_string(),
            long_output: r.long_output.to_string(),
            at,
            execution_ms,
        }
    }
}

/// An enrolment token as printed by `vedette agent token`:
/// `SECRET.CAPIN`, the one-time secret and the SHA-256 (hex) of the CA
/// certificate (DER) the agent must find at the end of the engine's chain
/// before it trusts the engine with the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The secret the engine redeems.
    pub secret: String,
    /// Lower-case hex SHA-256 of the CA certificate's DER.
    pub ca_pin: String,
}

/// Why a token's text is not a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "enrolment token must be SECRET.CAPIN (64 hex digits, a dot, 64 hex digits), as printed by `vedette agent token`"
)]
pub struct TokenFormatError;

impl Token {
    /// Parses the printed form (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Token, TokenFormatError> {
        let (secret, pin) = text.trim().split_once('.').ok_or(TokenFormatError)?;
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex64(secret) || !hex64(pin) {
            return Err(TokenFormatError);
        }
        Ok(Token {
            secret: secret.to_ascii_lowercase(),
            ca_pin: pin.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.secret, self.ca_pin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seq: u64) -> WireResult {
        WireResult {
            seq,
            service: "load".into(),
            host: None,
            status: 1,
            output: "LOAD WARNING".into(),
            perfdata: "load1=5".into(),
            long_output: String::new(),
            at: 1.5e9,
            execution_ms: 3,
        }
    }

    #[test]
    fn round_trips() {
        let msgs = [
            AgentMessage::Hello {
                version: PROTOCOL_VERSION,
                agent_version: "0.1.0".into(),
                spool_dropped: 2,
            },
            AgentMessage::Results {
                results: vec![result(1), result(5)],
                spool_dropped: 0,
            },
        ];
        for m in msgs {
            assert_eq!(decode_agent(encode(&m).as_bytes()), Ok(m));
        }
        // Field order does not matter on the fast path.
        let tag_last = r#"{"results":[{"seq":3,"service":"a","status":0,"output":"","at":1}],"spool_dropped":4,"type":"results"}"#;
        match decode_agent(tag_last.as_bytes()) {
            Ok(AgentMessage::Results {
                results,
                spool_dropped: 4,
            }) => assert_eq!(results[0].seq, 3),
            other => panic!("{other:?}"),
        }
        let e = EngineMessage::Error {
            code: ErrorCode::WrongHost,
            message: "x".into(),
        };
        let text = encode(&e);
        assert!(text.contains(r#""code":"wrong_host""#), "{text}");
        assert_eq!(decode_engine(text.as_bytes()), Ok(e));
    }

    #[test]
    fn refuses_bad_frames_with_reasons() {
        let cases: [(&str, &str); 6] = [
            ("{", "EOF"),
            (r#"{"type":"launch"}"#, "unknown variant"),
            (r#"{"type":"pong","nonce":1,"x":2}"#, "unknown field"),
            (
                r#"{"type":"results","spool_dropped":0,"results":[{"seq":1,"service":"a","status":9,"output":"","at":1}]}"#,
                "status 9",
            ),
            (
                r#"{"type":"results","spool_dropped":0,"results":[{"seq":2,"service":"a","status":0,"output":"","at":1},{"seq":2,"service":"a","status":0,"output":"","at":1}]}"#,
                "must increase",
            ),
            (
                r#"{"type":"results","spool_dropped":0,"results":[{"seq":0,"service":"a","status":0,"output":"","at":1}]}"#,
                "reserved",
            ),
        ];
        for (frame, want) in cases {
            let err = decode_agent(frame.as_bytes()).expect_err(frame);
            assert!(err.to_string().contains(want), "{frame}: {err}");
            assert_eq!(err.code(), ErrorCode::Malformed);
        }
        let big = vec![b' '; MAX_FRAME_BYTES + 1];
        assert_eq!(
            decode_agent(&big).map_err(|e| e.code()),
            Err(ErrorCode::TooLarge)
        );
    }

    #[test]
    fn tokens() {
        let s = "a".repeat(64);
        let p = "B".repeat(64);
        let t = Token::parse(&format!(" {s}.{p}\n")).expect("token");
        assert_eq!(t.ca_pin, "b".repeat(64));
        assert_eq!(Token::parse(&t.to_string()), Ok(t));
        for bad in ["", &s, &format!("{s}.{}", "g".repeat(64)), &format!("{s}.")] {
            assert_eq!(Token::parse(bad), Err(TokenFormatError), "{bad}");
        }
    }

    #[test]
    fn converts_results() {
        let r = result(7).to_check_result();
        assert_eq!(r.status, Status::Warning);
        let back = WireResult::from_check_result(7, "load", &r, 1.5e9, 3);
        assert_eq!(back, result(7));
    }
}
