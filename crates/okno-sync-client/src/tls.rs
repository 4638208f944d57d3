//! The trust a desk (or a simulated one) puts in its server: the Mozilla roots, plus the
//! certificates a center provisions (its own CA, or its server's self-signed certificate).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why a CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("a certificate in the CA file: {0}")]
    Pem(#[from] rustls::pki_types::pem::Error),
    #[error("a certificate in the CA file: {0}")]
    Certificate(#[from] rustls::Error),
    #[error("the CA file holds no PEM certificate")]
    Empty,
}

/// The rustls client configuration: the Mozilla roots, plus the certificates in `ca_pem`.
pub fn tls_client(ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(pem) = ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert?)?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::Empty);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
