//! Reading and writing whole packets on an async stream, shared by the
//! client and the server.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::packet::{self, Header, Packet, PacketError, HEADER_LEN};

/// Why no packet could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer closed the connection after `got` bytes of the header.
    #[error("connection closed after {got} bytes")]
    Closed {
        /// Header bytes received.
        got: usize,
    },
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid packet.
    #[error(transparent)]
    Packet(#[from] PacketError),
}

/// Reads one packet. Its length is validated from the header before the
/// rest is read, so a hostile length costs at most [`packet::MAX_BUFFER_LEN`].
pub async fn read_packet<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Packet, ReadError> {
    let mut buf = vec![0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match stream.read(&mut buf[got..]).await? {
            0 => return Err(ReadError::Closed { got }),
            n => got += n,
        }
    }
    let header = Header::parse(&buf)?;
    buf.resize(header.packet_len, 0);
    stream.read_exact(&mut buf[HEADER_LEN..]).await?;
    Ok(packet::decode(&buf)?)
}

/// Encodes and writes one packet, then flushes.
pub async fn write_packet<S: AsyncWrite + Unpin>(
    stream: &mut S,
    packet: &Packet,
) -> Result<(), std::io::Error> {
    let bytes = packet::encode(packet)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    stream.write_all(&bytes).await?;
    stream.flush().await
}
