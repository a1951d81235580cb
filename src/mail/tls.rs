//! TLS client settings shared by IMAP: the ring crypto provider (lettre uses
//! ring too; two providers in one process make rustls panic), the system's
//! roots, and an optional extra CA file from the config.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA file {path}: {message}; check `ca_file` in the config")]
    CaFile { path: String, message: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// A client config trusting the system roots plus the certificates in
/// `ca_file`, if given.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a CA bundle still works with an explicit ca_file.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| TlsError::CaFile {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        for cert in certs {
            let cert = cert.map_err(|e| TlsError::CaFile {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            roots.add(cert).map_err(|e| TlsError::CaFile {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The only hosts a plain, unencrypted connection may go to.
pub use crate::config::is_loopback_host as is_loopback;
