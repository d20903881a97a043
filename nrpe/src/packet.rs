//! The NRPE packet codec: protocol v2 and v3/v4, on byte slices.
//!
//! Wire layout (all integers big-endian), verified against Debian's nrpe 4.1:
//!
//! | version | layout | size |
//! | --- | --- | --- |
//! | 2 | `i16 version, i16 type, u32 crc32, i16 result, [u8; 1024] buffer, 2 bytes padding` | 1036 |
//! | 3 | `i16 version, i16 type, u32 crc32, i16 result, i16 alignment, i32 buffer_length, buffer, 3 bytes padding` | 19 + length |
//! | 4 | `i16 version, i16 type, u32 crc32, i16 result, i16 alignment, i32 buffer_length, buffer` | 16 + length |
//!
//! The 3 bytes after a v3 buffer are the C struct's tail padding, which
//! NRPE 3 counted into the packet size (`sizeof(v3_packet) - 1 + length`);
//! check_nrpe 4.1 still sends and expects them (captured: a `-3` query is
//! 1036 bytes with a buffer length of 1017). v4 fixed the size to 16 + length.
//!
//! The CRC32 covers the whole packet with the CRC field zeroed. The text is
//! the buffer up to its first NUL. A reader takes the 16-byte [`Header`]
//! first, asks it for the whole packet's length, then decodes the packet.

/// Bytes every packet starts with; enough to know the whole packet's length.
pub const HEADER_LEN: usize = 16;
/// The fixed buffer of a v2 packet (text plus its NUL).
pub const V2_BUFFER_LEN: usize = 1024;
/// A v2 packet on the wire: header fields, the buffer, 2 bytes of struct padding.
pub const V2_PACKET_LEN: usize = 10 + V2_BUFFER_LEN + 2;
/// The largest v3/v4 buffer NRPE accepts (its `NRPE_V4_MAX_PACKETBUFFER_LENGTH`);
/// anything longer is refused before a byte of it is read.
pub const MAX_BUFFER_LEN: usize = 65536;
/// The struct padding after a v3 buffer (see the module docs).
const V3_TAIL_LEN: usize = 3;

/// check_nrpe pads v3/v4 queries to the size of a v2 packet (old daemons
/// read 1036 bytes blindly), so a query buffer is never shorter than this.
fn min_query_buffer_len(version: Version) -> usize {
    V2_PACKET_LEN - HEADER_LEN - tail_len(version)
}

/// Bytes after the buffer.
fn tail_len(version: Version) -> usize {
    match version {
        Version::V3 => V3_TAIL_LEN,
        Version::V2 | Version::V4 => 0,
    }
}

/// Protocol version of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// Fixed 1024-byte buffer; what NSClient++ and old daemons speak.
    V2,
    /// Variable buffer; sent by check_nrpe 3.x, refused by nrpe 4.x daemons.
    V3,
    /// Variable buffer, same layout as v3; what nrpe 4.x speaks.
    V4,
}

impl Version {
    /// The number on the wire.
    pub fn number(self) -> i16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
            Version::V4 => 4,
        }
    }

    fn from_number(n: i16) -> Option<Version> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            4 => Some(Version::V4),
            _ => None,
        }
    }
}

/// Whether a packet asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// From the client: the command line (`name!arg1!arg2`).
    Query,
    /// From the server: the command's output and state.
    Response,
}

impl Kind {
    fn number(self) -> i16 {
        match self {
            Kind::Query => 1,
            Kind::Response => 2,
        }
    }
}

/// One decoded NRPE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Protocol version.
    pub version: Version,
    /// Query or response.
    pub kind: Kind,
    /// The plugin state (0 OK … 3 UNKNOWN) in responses; 0 in queries.
    pub result: i16,
    /// The command line (query) or the plugin output (response).
    pub text: String,
}

/// Why bytes are not a valid NRPE packet. Every variant is permanent for
/// that packet: the connection it came on should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Fewer bytes than the header or the declared length needs.
    #[error("truncated packet: {got} bytes, {need} needed")]
    Truncated {
        /// Bytes available.
        got: usize,
        /// Bytes the packet needs.
        need: usize,
    },
    /// More bytes than the packet's length.
    #[error("{0} bytes after the end of the packet")]
    Trailing(usize),
    /// A version other than 2, 3 or 4.
    #[error("unsupported packet version {0}")]
    Version(i16),
    /// A type other than query (1) or response (2).
    #[error("bad packet type {0}")]
    Kind(i16),
    /// The v3/v4 buffer length is negative or above [`MAX_BUFFER_LEN`].
    #[error("bad buffer length {0} (at most {MAX_BUFFER_LEN})")]
    Length(i32),
    /// The CRC32 does not match the packet's content.
    #[error("CRC mismatch: packet says {stated:08x}, content is {computed:08x}")]
    Crc {
        /// The CRC in the packet.
        stated: u32,
        /// The CRC of the content.
        computed: u32,
    },
    /// The text is not UTF-8.
    #[error("text is not UTF-8")]
    Utf8,
    /// The text (plus its NUL) does not fit the version's buffer.
    #[error("text of {len} bytes does not fit a {version:?} packet (at most {max})")]
    TooLong {
        /// Packet version.
        version: Version,
        /// Text length.
        len: usize,
        /// Longest text that fits.
        max: usize,
    },
    /// The text contains a NUL byte, which would cut it short on the wire.
    #[error("text contains a NUL byte")]
    Nul,
}

/// The first [`HEADER_LEN`] bytes of a packet: enough to validate the
/// version and learn how many bytes the whole packet has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: Version,
    /// Length of the whole packet in bytes, header included.
    pub packet_len: usize,
}

impl Header {
    /// Reads the header at the start of `bytes`.
    ///
    /// # Errors
    /// [`PacketError::Truncated`], [`PacketError::Version`] or [`PacketError::Length`].
    pub fn parse(bytes: &[u8]) -> Result<Header, PacketError> {
        let head = bytes.get(..HEADER_LEN).ok_or(PacketError::Truncated {
            got: bytes.len(),
            need: HEADER_LEN,
        })?;
        let raw_version = i16::from_be_bytes([head[0], head[1]]);
        let version = Version::from_number(raw_version).ok_or(PacketError::Version(raw_version))?;
        let packet_len = match version {
            Version::V2 => V2_PACKET_LEN,
            Version::V3 | Version::V4 => {
                let len = i32::from_be_bytes([head[12], head[13], head[14], head[15]]);
                match usize::try_from(len) {
                    Ok(n) if n <= MAX_BUFFER_LEN => HEADER_LEN + n + tail_len(version),
                    _ => return Err(PacketError::Length(len)),
                }
            }
        };
        Ok(Header {
            version,
            packet_len,
        })
    }
}

/// Decodes exactly one whole packet.
///
/// # Errors
/// Any [`PacketError`] but `TooLong` and `Nul`.
pub fn decode(bytes: &[u8]) -> Result<Packet, PacketError> {
    let header = Header::parse(bytes)?;
    if bytes.len() < header.packet_len {
        return Err(PacketError::Truncated {
            got: bytes.len(),
            need: header.packet_len,
        });
    }
    if bytes.len() > header.packet_len {
        return Err(PacketError::Trailing(bytes.len() - header.packet_len));
    }
    let stated = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let computed = crc_with_zeroed_field(bytes);
    if stated != computed {
        return Err(PacketError::Crc { stated, computed });
    }
    let raw_kind = i16::from_be_bytes([bytes[2], bytes[3]]);
    let kind = match raw_kind {
        1 => Kind::Query,
        2 => Kind::Response,
        other => return Err(PacketError::Kind(other)),
    };
    let result = i16::from_be_bytes([bytes[8], bytes[9]]);
    let buffer = match header.version {
        Version::V2 => &bytes[10..10 + V2_BUFFER_LEN],
        Version::V3 | Version::V4 => &bytes[HEADER_LEN..bytes.len() - tail_len(header.version)],
    };
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let text = std::str::from_utf8(&buffer[..end]).map_err(|_| PacketError::Utf8)?;
    Ok(Packet {
        version: header.version,
        kind,
        result,
        text: text.to_string(),
    })
}

/// The longest text a packet of `version` carries.
pub fn max_text_len(version: Version) -> usize {
    match version {
        Version::V2 => V2_BUFFER_LEN - 1,
        Version::V3 | Version::V4 => MAX_BUFFER_LEN - 1,
    }
}

/// Encodes a packet. v3/v4 queries are padded to the size of a v2 packet,
/// as check_nrpe does; padding is zeros.
///
/// # Errors
/// [`PacketError::TooLong`] or [`PacketError::Nul`].
pub fn encode(packet: &Packet) -> Result<Vec<u8>, PacketError> {
    let text = packet.text.as_bytes();
    if text.contains(&0) {
        return Err(PacketError::Nul);
    }
    let max = max_text_len(packet.version);
    if text.len() > max {
        return Err(PacketError::TooLong {
            version: packet.version,
            len: text.len(),
            max,
        });
    }
    let mut out = Vec::with_capacity(V2_PACKET_LEN.max(HEADER_LEN + text.len() + 1));
    out.extend_from_slice(&packet.version.number().to_be_bytes());
    out.extend_from_slice(&packet.kind.number().to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&packet.result.to_be_bytes());
    match packet.version {
        Version::V2 => {
            out.extend_from_slice(text);
            out.resize(V2_PACKET_LEN, 0);
        }
        Version::V3 | Version::V4 => {
            let mut buffer_len = text.len() + 1;
            if packet.kind == Kind::Query {
                buffer_len = buffer_len.max(min_query_buffer_len(packet.version));
            }
            // buffer_len <= MAX_BUFFER_LEN, checked above, fits an i32.
            let wire_len = i32::try_from(buffer_len).unwrap_or(i32::MAX);
            out.extend_from_slice(&[0; 2]);
            out.extend_from_slice(&wire_len.to_be_bytes());
            out.extend_from_slice(text);
            out.resize(HEADER_LEN + buffer_len + tail_len(packet.version), 0);
        }
    }
    let crc = crc_with_zeroed_field(&out);
    out[4..8].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// CRC32 of `bytes` as if its CRC field (bytes 4..8) were zero.
fn crc_with_zeroed_field(bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..4]);
    hasher.update(&[0; 4]);
    hasher.update(&bytes[8..]);
    hasher.finalize()
}

#[cfg(test)]
mod tests;
