//! glibc's allocator, tuned for a long-running process that now and then
//! works through a year of mail: one arena for every thread, and what a
//! pass freed handed back to the kernel when the pass is over. Elsewhere
//! (musl, macOS) both are no-ops.

/// glibc gives each thread that allocates its own malloc arena and keeps
/// what was freed in it; with the storer, the classifier and its parser
/// each on a thread, a first sync's resident memory was a quarter higher
/// than what it used (132 MB against 105 MB at 50,000 messages). One arena
/// returns freed memory to one pool; the threads rarely allocate at once.
/// Call it first in `main`, before any other thread exists. An
/// administrator's `MALLOC_ARENA_MAX` wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn one_arena() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt only sets a tuning parameter of the allocator; the
    // caller runs it before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Hands the memory a pass freed back to the kernel. glibc keeps freed
/// memory inside its heap for reuse and returns only a free top; a first
/// pass over a year of mail left an idle daemon at its peak, 76 MB, for
/// good. Trimming after the pass takes a few milliseconds.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed() {
    // SAFETY: malloc_trim only returns free pages of the allocator's own
    // heap to the kernel; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn one_arena() {}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}
