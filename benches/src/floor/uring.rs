//! The TCP connect floor driven by io_uring instead of tokio/mio: each
//! in-flight slot is a linked chain `socket -> connect -> close` on a
//! direct (registered) descriptor, and every chain restarted by one batch
//! of completions goes to the kernel in the same `io_uring_enter`, as a
//! wheel tick's checks would. No per-connect syscall is left: no
//! `socket`, `epoll_ctl`, `getsockopt` or `close` of its own.

use std::net::SocketAddr;
use std::time::Instant;

use io_uring::squeue::Flags;
use io_uring::types::{DestinationSlot, Fixed};
use io_uring::{opcode, IoUring};

/// Chains in flight per thread (as [`super::stream::TASKS`]).
pub const WINDOW: usize = 256;

const SOCKET: u64 = 0;
const CONNECT: u64 = 1;
const CLOSE: u64 = 2;

/// Runs [`WINDOW`] connect chains until `deadline`; returns the connects
/// that succeeded.
pub fn run(addr: SocketAddr, deadline: Instant) -> anyhow::Result<u64> {
    let SocketAddr::V4(v4) = addr else {
        anyhow::bail!("the io_uring floor connects to IPv4 peers only, not {addr}");
    };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let slots = u32::try_from(WINDOW)?;
    let mut ring = IoUring::new(slots * 4)?;
    ring.submitter().register_files_sparse(slots)?;
    let mut connected = vec![false; WINDOW];
    let mut restart: Vec<u32> = (0..slots).collect();
    let mut done = 0u64;
    loop {
        for &slot in &restart {
            push_chain(&mut ring, slot, &sa)?;
        }
        restart.clear();
        if Instant::now() >= deadline {
            break;
        }
        ring.submit_and_wait(1)?;
        for cqe in ring.completion() {
            let slot = (cqe.user_data() >> 2) as usize;
            match cqe.user_data() & 3 {
                CONNECT => connected[slot] = cqe.result() == 0,
                CLOSE => {
                    done += u64::from(std::mem::take(&mut connected[slot]));
                    restart.push(slot as u32);
                }
                _ => {}
            }
        }
    }
    Ok(done)
}

fn push_chain(ring: &mut IoUring, slot: u32, sa: &libc::sockaddr_in) -> anyhow::Result<()> {
    let tag = u64::from(slot) << 2;
    let dest = DestinationSlot::try_from_slot_target(slot)
        .map_err(|s| anyhow::anyhow!("no direct descriptor slot {s}"))?;
    let chain = [
        opcode::Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0)
            .file_index(Some(dest))
            .build()
            .flags(Flags::IO_LINK)
            .user_data(tag | SOCKET),
        opcode::Connect::new(
            Fixed(slot),
            std::ptr::from_ref(sa).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
        .build()
        // A refused connect still closes its descriptor.
        .flags(Flags::IO_HARDLINK)
        .user_data(tag | CONNECT),
        opcode::Close::new(Fixed(slot))
            .build()
            .user_data(tag | CLOSE),
    ];
    // SAFETY: the entries point at `sa`, which outlives the ring's use of
    // it (the caller keeps it until run() returns, after which no
    // submission is made), and at registered descriptor slots.
    unsafe { ring.submission().push_multiple(&chain) }
        .map_err(|_| anyhow::anyhow!("io_uring submission queue full"))?;
    Ok(())
}
