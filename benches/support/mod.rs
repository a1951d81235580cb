//! What the benchmarks share: a generated company mailbox (`mailbox`: the
//! roster, the messages and their labels) and the bytes of each message
//! (`render`). Each benchmark uses part of it.
#![allow(dead_code)]

pub mod mailbox;
pub mod render;
