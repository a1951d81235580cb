//! Running one process and measuring it the way the figures are
//! defined: wall time, peak RSS (`ru_maxrss` of this very child, from
//! `wait4`), CPU time, and bytes written (`/proc/<pid>/io`, read while the
//! child is a zombie: exited, its counters final, not yet reaped).
//!
//! A child's `ru_maxrss` is at least the bench's own peak when it was
//! spawned: Linux keeps the high-water mark of the memory a process had
//! before `exec`, which a spawned child shares with (or copies from) the
//! bench. So the bench never holds much itself (it counts JSON rows without
//! building them), and the daemon's peak is read from its `VmHWM`, which
//! counts only what it had since `exec` ([`peak_since_exec`]).

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What one run of a process cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub wall: Duration,
    /// Peak resident set, bytes.
    pub max_rss: u64,
    /// User + system CPU time.
    pub cpu: Duration,
    /// Bytes the process caused to be written to storage (`write_bytes`).
    pub write_bytes: u64,
    /// Bytes it passed to write(2) and friends (`wchar`), whether or not
    /// they reached the disk.
    pub wchar: u64,
}

/// Writes back whatever the bench itself left waiting to reach the disk,
/// so that a timed run does not wait for it.
pub fn flush_writeback() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Runs `cmd` to its end with stdout and stderr into `log`; fails when it
/// exits unsuccessfully (the log's tail says why). It starts with nothing
/// of the bench's own waiting to be written to disk: the database copied
/// for a digest pass (634 MiB), or the 1.7 GB an earlier first sync wrote,
/// was otherwise written back during the timed run, whose first fsync
/// waited for it (0.2 s of a 0.45 s digest pass; each first sync slower
/// than the one before).
pub fn run(mut cmd: Command, log: &Path) -> anyhow::Result<Cost> {
    let out = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    flush_writeback();
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("running {cmd:?}"))?;
    let (cost, status) = wait(child, start)?;
    if status != 0 {
        let text = fs::read_to_string(log).unwrap_or_default();
        let tail: String = text
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!("{cmd:?} exited with status {status}:\n{tail}");
    }
    Ok(cost)
}

/// Waits for `child` (started at `start`) and measures it; returns the
/// cost and the raw wait status.
pub fn wait(child: Child, start: Instant) -> anyhow::Result<(Cost, i32)> {
    let pid = child.id() as libc::pid_t;
    // Wait for the exit but leave the zombie, so /proc/<pid>/io still holds
    // the final counters.
    // SAFETY: `info` is a properly sized, zeroed siginfo_t the kernel fills.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        bail!("waitid({pid}): {}", std::io::Error::last_os_error());
    }
    let wall = start.elapsed();
    let (write_bytes, wchar) = proc_io(pid).unwrap_or((0, 0));
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value the kernel overwrites.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        bail!("wait4({pid}): {}", std::io::Error::last_os_error());
    }
    // The child is reaped: std's handle must not wait for it again.
    drop(child);
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok((
        Cost {
            wall,
            max_rss: usage.ru_maxrss as u64 * 1024,
            cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
            write_bytes,
            wchar,
        },
        status,
    ))
}

/// `(write_bytes, wchar)` of a process.
pub fn proc_io(pid: libc::pid_t) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((field("write_bytes:")?, field("wchar:")?))
}

/// The peak resident set (bytes) of a live process since its `exec`,
/// from `/proc/<pid>/status` (`VmHWM`).
pub fn peak_since_exec(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// User + system CPU time of a live process, from `/proc/<pid>/stat`.
pub fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // "pid (comm) state ppid ...": utime and stime are fields 14 and 15,
    // the 12th and 13th after the closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total = ticks(11) + ticks(12);
    Ok(Duration::from_millis(total * 1000 / hz))
}

/// The median of some durations (the upper middle for an even count).
pub fn median_duration(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The run whose wall time is the median: its other figures go with it.
pub fn median_cost(costs: &[Cost]) -> Cost {
    let mut v = costs.to_vec();
    v.sort_by_key(|c| c.wall);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The `p`-th percentile (0..=100) by nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Total size of the files in `dir` whose names start with `prefix`
/// (a SQLite database and its `-wal` and `-shm`).
pub fn files_size(dir: &Path, prefix: &str) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
