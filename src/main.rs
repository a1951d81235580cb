//! The `reportd` binary: everything is in the library; see `cli`.

fn main() -> std::process::ExitCode {
    one_malloc_arena();
    reportd::cli::main()
}

/// glibc gives each thread that allocates its own malloc arena and keeps
/// what was freed in it; with the storer, the classifier and its parser
/// each on a thread, a first sync's resident memory was a quarter higher
/// than what it used (132 MB against 105 MB at 50,000 messages). One arena
/// returns freed memory to one pool; the threads rarely allocate at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_malloc_arena() {
    // An administrator's own setting wins.
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: called first in main, before any other thread exists;
    // mallopt only sets a tuning parameter of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_malloc_arena() {}
