//! `reportd demo`: the whole pipeline on a generated month of a fictional
//! team's mail, with no server and a simulated clock.

use std::path::PathBuf;

pub async fn run(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let _ = dir;
    anyhow::bail!("the demo is not written yet")
}
