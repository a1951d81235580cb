//! `MANIFEST.sha256`: one `sha256sum` line (`<hex>  <path>`) for every
//! other file of the archive, paths relative to the manifest's folder, so
//! `sha256sum -c MANIFEST.sha256` checks an unpacked archive too. And
//! [`verify`], which checks a zip against its manifest and names every file
//! changed, missing or added.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Read, Seek};
use std::path::Path;

use super::sha256_hex;

pub const FILE_NAME: &str = "MANIFEST.sha256";

/// The manifest of `files` (path inside the folder, bytes), in the order
/// given.
pub fn render(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let hashed: Vec<(&str, String)> = files
        .iter()
        .map(|(path, bytes)| (path.as_str(), sha256_hex(bytes)))
        .collect();
    from_hashes(&hashed)
}

/// The manifest of files given by (path inside the folder, hex SHA-256),
/// in the order given.
pub fn from_hashes(files: &[(&str, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (path, sha256) in files {
        out.push_str(sha256);
        out.push_str("  ");
        out.push_str(path);
        out.push('\n');
    }
    out.into_bytes()
}

/// One way a zip differs from its manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// In the manifest and the zip, with other content (or unreadable).
    Changed(String),
    /// In the manifest, not in the zip.
    Missing(String),
    /// In the zip, not in the manifest.
    Added(String),
    /// A manifest line that is not `<64 hex>  <path>` (1-based).
    Unreadable(usize),
    /// The manifest's own SHA-256 is not the one expected (from the email).
    ManifestChanged { expected: String, found: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Changed(p) => write!(f, "changed: {p}"),
            Finding::Missing(p) => write!(f, "missing: {p}"),
            Finding::Added(p) => write!(f, "added: {p}"),
            Finding::Unreadable(line) => {
                write!(
                    f,
                    "changed: {FILE_NAME} line {line} is not `<sha256>  <path>`"
                )
            }
            Finding::ManifestChanged { expected, found } => write!(
                f,
                "changed: {FILE_NAME} has SHA-256 {found}, not {expected} as the archive email says"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The manifest's path inside the zip.
    pub manifest: String,
    pub manifest_sha256: String,
    /// Files the manifest lists that match.
    pub matching: usize,
    /// Empty when the archive is intact.
    pub findings: Vec<Finding>,
}

impl Verdict {
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Why a file could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}; check the path")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a readable zip: {source}; is it a reportd archive?")]
    NotZip {
        path: String,
        source: zip::result::ZipError,
    },
    #[error(
        "{path} holds no {FILE_NAME}: it is not a reportd archive, or the manifest was removed"
    )]
    NoManifest { path: String },
}

/// Checks every file of the zip at `path` against its `MANIFEST.sha256`,
/// and the manifest itself against `expected` (its SHA-256 from the archive
/// email) when given.
pub fn verify(path: &Path, expected: Option<&str>) -> Result<Verdict, VerifyError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| VerifyError::Open {
        path: shown.clone(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|source| VerifyError::NotZip {
        path: shown.clone(),
        source,
    })?;
    let hashes = hash_entries(&mut zip);
    // The top-most manifest is the archive's; any other is an added file.
    let manifest = hashes
        .keys()
        .filter(|n| *n == FILE_NAME || n.ends_with(&format!("/{FILE_NAME}")))
        .min_by_key(|n| (n.matches('/').count(), n.len()))
        .cloned()
        .ok_or(VerifyError::NoManifest { path: shown })?;
    // An unreadable manifest lists nothing: every file shows as added.
    let text: Vec<u8> = read_entry(&mut zip, &manifest).unwrap_or_default();
    let folder = manifest.strip_suffix(FILE_NAME).unwrap_or("").to_string();
    Ok(compare(&manifest, &folder, &text, &hashes, expected))
}

/// The SHA-256 of every file entry, or `None` for one that cannot be read
/// (a damaged entry fails its CRC) or whose name occurs twice (which of
/// the two counts is anybody's guess).
fn hash_entries<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let (name, hash) = match zip.by_index(i) {
            Ok(mut entry) if !entry.is_dir() => {
                let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
                let mut bytes = Vec::new();
                let hash = entry
                    .read_to_end(&mut bytes)
                    .ok()
                    .map(|_| sha256_hex(&bytes));
                (name, hash)
            }
            Ok(_) => continue,
            Err(_) => (format!("(entry {i}, unreadable)"), None),
        };
        if out.insert(name.clone(), hash).is_some() {
            out.insert(name, None);
        }
    }
    out
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> std::io::Result<Vec<u8>> {
    let mut entry = zip.by_name(name).map_err(std::io::Error::other)?;
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The pure part of [`verify`]: the manifest's text against the hashes of
/// the zip's entries.
fn compare(
    manifest: &str,
    folder: &str,
    text: &[u8],
    hashes: &BTreeMap<String, Option<String>>,
    expected: Option<&str>,
) -> Verdict {
    let mut findings = Vec::new();
    let manifest_sha256 = sha256_hex(text);
    if let Some(expected) = expected.map(|e| e.trim().to_ascii_lowercase())
        && expected != manifest_sha256
    {
        findings.push(Finding::ManifestChanged {
            expected,
            found: manifest_sha256.clone(),
        });
    }
    let mut listed = BTreeSet::new();
    let mut matching = 0;
    for (i, line) in String::from_utf8_lossy(text).lines().enumerate() {
        let Some((hash, path)) = parse_line(line) else {
            findings.push(Finding::Unreadable(i + 1));
            continue;
        };
        let full = format!("{folder}{path}");
        listed.insert(full.clone());
        match hashes.get(&full) {
            None => findings.push(Finding::Missing(full)),
            Some(Some(found)) if *found == hash => matching += 1,
            Some(_) => findings.push(Finding::Changed(full)),
        }
    }
    for name in hashes.keys() {
        if name != manifest && !listed.contains(name) {
            findings.push(Finding::Added(name.clone()));
        }
    }
    findings.sort();
    Verdict {
        manifest: manifest.to_string(),
        manifest_sha256,
        matching,
        findings,
    }
}

/// `<64 hex>  <path>` or `<64 hex> *<path>` (sha256sum's binary mark).
fn parse_line(line: &str) -> Option<(String, &str)> {
    let (hash, rest) = line.split_at_checked(64)?;
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let path = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    (!path.is_empty()).then(|| (hash.to_ascii_lowercase(), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            ("eml/a.eml".to_string(), b"report".to_vec()),
            ("index.html".to_string(), b"<html>".to_vec()),
        ]
    }

    /// The zip's entry hashes for `files` under `f/`, plus the manifest.
    fn entries(present: &[(String, Vec<u8>)]) -> BTreeMap<String, Option<String>> {
        let mut out: BTreeMap<String, Option<String>> = present
            .iter()
            .map(|(p, b)| (format!("f/{p}"), Some(sha256_hex(b))))
            .collect();
        out.insert(
            format!("f/{FILE_NAME}"),
            Some(sha256_hex(&render(&files()))),
        );
        out
    }

    fn check(hashes: &BTreeMap<String, Option<String>>, expected: Option<&str>) -> Verdict {
        let manifest = format!("f/{FILE_NAME}");
        compare(&manifest, "f/", &render(&files()), hashes, expected)
    }

    #[test]
    fn the_manifest_is_sha256sum_format() {
        let text = String::from_utf8(render(&files())).expect("utf-8");
        let first = text.lines().next().expect("line");
        assert_eq!(first, format!("{}  eml/a.eml", sha256_hex(b"report")));
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn an_intact_archive_has_no_findings() {
        let v = check(&entries(&files()), Some(&sha256_hex(&render(&files()))));
        assert!(v.intact(), "{:?}", v.findings);
        assert_eq!(v.matching, 2);
    }

    #[test]
    fn a_changed_file_is_named() {
        let mut tampered = files();
        tampered[0].1 = b"forged".to_vec();
        let v = check(&entries(&tampered), None);
        assert_eq!(v.findings, [Finding::Changed("f/eml/a.eml".into())]);
        assert_eq!(v.findings[0].to_string(), "changed: f/eml/a.eml");
    }

    #[test]
    fn an_unreadable_entry_counts_as_changed() {
        let mut hashes = entries(&files());
        hashes.insert("f/index.html".into(), None);
        assert_eq!(
            check(&hashes, None).findings,
            [Finding::Changed("f/index.html".into())]
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let mut hashes = entries(&files());
        hashes.remove("f/eml/a.eml");
        let v = check(&hashes, None);
        assert_eq!(v.findings, [Finding::Missing("f/eml/a.eml".into())]);
        assert_eq!(v.findings[0].to_string(), "missing: f/eml/a.eml");
    }

    #[test]
    fn an_added_file_is_named() {
        let mut hashes = entries(&files());
        hashes.insert("f/eml/extra.eml".into(), Some(sha256_hex(b"x")));
        let v = check(&hashes, None);
        assert_eq!(v.findings, [Finding::Added("f/eml/extra.eml".into())]);
        assert_eq!(v.findings[0].to_string(), "added: f/eml/extra.eml");
    }

    #[test]
    fn a_manifest_other_than_the_emailed_one_is_named() {
        let v = check(&entries(&files()), Some(&"0".repeat(64)));
        assert!(matches!(
            v.findings.as_slice(),
            [Finding::ManifestChanged { .. }]
        ));
        assert!(
            v.findings[0]
                .to_string()
                .starts_with("changed: MANIFEST.sha256")
        );
    }

    #[test]
    fn a_garbled_manifest_line_is_named_by_its_number() {
        let mut text = render(&files());
        text.extend_from_slice(b"not a line\n");
        let v = compare(
            &format!("f/{FILE_NAME}"),
            "f/",
            &text,
            &entries(&files()),
            None,
        );
        assert_eq!(v.findings, [Finding::Unreadable(3)]);
    }

    #[test]
    fn binary_mode_lines_are_read_too() {
        let hash = sha256_hex(b"x");
        assert_eq!(
            parse_line(&format!("{hash} *eml/a.eml")),
            Some((hash.clone(), "eml/a.eml"))
        );
        assert_eq!(parse_line(&format!("{hash} eml/a.eml")), None);
        assert_eq!(parse_line("短"), None);
    }
}
