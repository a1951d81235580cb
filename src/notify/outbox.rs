//! The outbox (being written).
