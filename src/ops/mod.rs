//! What the people who run reportd need beside the daemon itself: a health
//! check for monitoring (`health`, with a Prometheus textfile), consistent
//! online backups and their restore (`backup`), and the systemd protocol
//! (`systemd`: readiness and the watchdog).

pub mod backup;
pub mod guard;
pub mod health;
pub mod systemd;
pub mod textfile;
