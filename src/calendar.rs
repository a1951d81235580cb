//! The official working-day calendar: public holidays and make-up working
//! days (调休上班), loaded from one TOML file per year. The single home of
//! "is this a working day" and "first working day of a month".
//!
//! SKELETON: signatures are settled; bodies are being written.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read calendar file {path}: {source}; check the `calendar` list in the config")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("calendar file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Working days of the years the loaded files cover; Monday to Friday (with a
/// loud warning) for any other year.
#[derive(Debug, Clone, Default)]
pub struct Calendar {}

impl Calendar {
    /// Loads and merges every file; two files for the same year is an error.
    pub fn load(paths: &[PathBuf]) -> Result<Calendar, CalendarError> {
        let _ = paths;
        todo!()
    }

    /// Parses one calendar file's text; `path` is only used in messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Calendar, CalendarError> {
        let _ = (text, path);
        todo!()
    }

    /// Whether a calendar file covers `year`.
    pub fn covers(&self, year: i32) -> bool {
        let _ = year;
        todo!()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let _ = date;
        todo!()
    }

    /// The first working day of the month (may be a weekend make-up day).
    pub fn first_working_day(&self, year: i32, month: u32) -> NaiveDate {
        let _ = (year, month);
        todo!()
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        let _ = date;
        todo!()
    }
}
