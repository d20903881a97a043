//! `tcp` scenario: native probe vs bare connect loop vs forked check_tcp.

use crate::Load;

/// Runs the scenario.
pub fn run(_load: &Load) -> anyhow::Result<()> {
    anyhow::bail!("the tcp scenario needs the native tcp probe")
}

/// The listener child.
pub fn listen(_port: u16) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
