//! Reports: classifying ingested messages and judging them against deadlines.

pub mod classify;
