//! The TLS trust roots, compiled in: at init nothing is read from the
//! system's CA bundle, and little is parsed.
//!
//! - Mercado Pago's client trusts Mozilla's roots (`webpki-roots`), shipped
//!   in the form rustls checks chains against: its store is a copy of a
//!   static table.
//! - The AWS SDK's client trusts the roots of Amazon Trust Services, the CA
//!   of every AWS endpoint it calls: five certificates (the SDK's client takes
//!   PEM and parses it), not the system's ~150.
//!
//! `SSL_CERT_FILE` names a bundle that both clients trust instead (a TLS
//! proxy's CA, a test server's, AWS's China regions).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::config::{ConfigError, Env};

/// Amazon Root CA 1 to 4 and Starfield Services Root G2, with comments.
const AMAZON_TRUST_SERVICES: &str = include_str!("amazon-trust-services.pem");

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

#[derive(Debug, Clone)]
pub enum TrustRoots {
    /// Mozilla's roots for Mercado Pago, Amazon's for AWS.
    Compiled,
    /// The certificates of `SSL_CERT_FILE`, for both, one PEM block each.
    Bundle(Vec<String>),
}

impl TrustRoots {
    /// The compiled-in roots, unless `SSL_CERT_FILE` names a bundle; one
    /// that cannot be read or holds no usable certificate fails init,
    /// naming the variable, rather than being ignored.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let Some(path) = env.get("SSL_CERT_FILE") else {
            return Ok(Self::Compiled);
        };
        let invalid = |message: String| ConfigError::Invalid {
            name: "SSL_CERT_FILE",
            message,
        };
        let bundle = std::fs::read_to_string(&path).map_err(|e| invalid(format!("{path}: {e}")))?;
        let blocks = pem_blocks(&bundle);
        if blocks.is_empty() {
            return Err(invalid(format!("{path}: no usable certificate")));
        }
        tracing::info!(
            path,
            certificates = blocks.len(),
            "SSL_CERT_FILE: both HTTPS clients trust its certificates, not the compiled-in roots"
        );
        Ok(Self::Bundle(blocks))
    }

    /// The AWS client's roots, as PEM blocks.
    pub fn for_aws(&self) -> Vec<String> {
        match self {
            Self::Compiled => pem_blocks(AMAZON_TRUST_SERVICES),
            Self::Bundle(blocks) => blocks.clone(),
        }
    }

    /// The Mercado Pago client's TLS configuration: rustls on ring, as the
    /// AWS SDK's, trusting these roots.
    pub fn for_mercado_pago(&self) -> Result<ClientConfig, rustls::Error> {
        let roots = match self {
            Self::Compiled => webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect(),
            Self::Bundle(blocks) => {
                let mut store = RootCertStore::empty();
                for block in blocks {
                    if let Ok(der) = CertificateDer::from_pem_slice(block.as_bytes()) {
                        store.add(der)?;
                    }
                }
                store
            }
        };
        Ok(
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

/// The bundle's certificates a TLS client can trust, one PEM block each. A
/// block that does not parse is left out, as a system loader leaves it out,
/// so no client is ever handed one it would refuse.
fn pem_blocks(bundle: &str) -> Vec<String> {
    let mut probe = RootCertStore::empty();
    bundle
        .split_inclusive(END)
        // From its BEGIN line: comments between blocks are left out.
        .filter_map(|block| block.find(BEGIN).map(|start| &block[start..]))
        .filter(|block| block.ends_with(END))
        .filter(|block| {
            CertificateDer::from_pem_slice(block.as_bytes()).is_ok_and(|der| probe.add(der).is_ok())
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_aws_roots_are_amazon_trust_services_five_as_fingerprinted() {
        let blocks = TrustRoots::Compiled.for_aws();
        assert_eq!(blocks.len(), 5);
        // Each block is the certificate its comment names: its SHA-256
        // matches the fingerprint written above it.
        let fingerprints: Vec<String> = AMAZON_TRUST_SERVICES
            .lines()
            .filter_map(|line| line.strip_prefix("# SHA-256 "))
            .map(|hex| hex.replace(':', "").to_ascii_lowercase())
            .collect();
        let computed: Vec<String> = blocks
            .iter()
            .map(|pem| {
                let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
                Sha256::digest(der.as_ref())
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect()
            })
            .collect();
        assert_eq!(computed, fingerprints);
    }

    /// A self-signed certificate for `localhost`, and its PEM file.
    struct LocalCertificate {
        pem: String,
        der: CertificateDer<'static>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    }

    fn local_certificate() -> LocalCertificate {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        LocalCertificate {
            pem: generated.cert.pem(),
            der: generated.cert.der().clone(),
            key: rustls::pki_types::PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der())
                .into(),
        }
    }

    /// Whether a client with `config` completes a TLS handshake, and a
    /// round trip, with a server on 127.0.0.1 presenting `certificate`.
    async fn handshake(config: ClientConfig, certificate: &LocalCertificate) -> bool {
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der.clone()], certificate.key.clone_key())
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let serving = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.ok()?;
            let mut tls = acceptor.accept(socket).await.ok()?;
            tls.write_all(b"hello").await.ok()?;
            tls.shutdown().await.ok()
        });
        let socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut greeting = Vec::new();
        let connected = match connector.connect(name, socket).await {
            Ok(mut tls) => tls.read_to_end(&mut greeting).await.is_ok(),
            Err(_) => false,
        };
        serving.abort();
        connected && greeting == b"hello"
    }

    #[tokio::test]
    async fn mercado_pagos_client_trusts_the_compiled_roots_and_not_an_unknown_certificate() {
        let certificate = local_certificate();
        let compiled = TrustRoots::Compiled.for_mercado_pago().unwrap();
        assert!(!handshake(compiled, &certificate).await);
        // The same server, once its certificate is the bundle trusted.
        let bundle = TrustRoots::Bundle(vec![certificate.pem.clone()]);
        assert!(handshake(bundle.for_mercado_pago().unwrap(), &certificate).await);
    }

    #[test]
    fn ssl_cert_file_names_the_bundle_both_clients_trust() {
        let certificate = local_certificate();
        let path = std::env::temp_dir().join(format!("roots-{}.pem", std::process::id()));
        std::fs::write(&path, format!("# comment\n{}", certificate.pem)).unwrap();
        let named = path.to_string_lossy().into_owned();
        let env = move |name: &str| (name == "SSL_CERT_FILE").then(|| named.clone());
        let roots = TrustRoots::from_env(&env).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(roots.for_aws(), vec![certificate.pem.trim_end().to_owned()]);
        let unset = |_: &str| None;
        assert!(matches!(
            TrustRoots::from_env(&unset),
            Ok(TrustRoots::Compiled)
        ));
    }

    #[test]
    fn an_unusable_ssl_cert_file_fails_init_naming_it() {
        let missing =
            |name: &str| (name == "SSL_CERT_FILE").then(|| "/nonexistent/roots.pem".into());
        let path = std::env::temp_dir().join(format!("no-roots-{}.pem", std::process::id()));
        std::fs::write(&path, "no certificates here").unwrap();
        let named = path.to_string_lossy().into_owned();
        let empty = move |name: &str| (name == "SSL_CERT_FILE").then(|| named.clone());
        for env in [&missing as &dyn Env, &empty] {
            match TrustRoots::from_env(env) {
                Err(ConfigError::Invalid { name, .. }) => assert_eq!(name, "SSL_CERT_FILE"),
                other => panic!("{other:?}"),
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn blocks_no_client_would_accept_are_left_out() {
        let certificate = local_certificate();
        let broken = certificate.pem.replacen("MII", "MXX", 1);
        let not_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let bundle = format!("{broken}{not_base64}{}", certificate.pem);
        assert_eq!(pem_blocks(&bundle).len(), 1);
        assert!(pem_blocks("no certificates here").is_empty());
    }
}
