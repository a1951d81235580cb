//! Composing emails (being written).
