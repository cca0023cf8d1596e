//! The TLS trust roots, read once at init from the system's CA bundle and
//! handed to both HTTPS clients (the AWS SDK's and Mercado Pago's). Left to
//! themselves, each loads the system's roots on its own, bundle file and
//! certificate directory both: that was most of a function's init.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use std::sync::OnceLock;

use crate::config::{Env, ProcessEnv};

/// Where systems keep their CA bundle: Amazon Linux 2023 (Lambda's
/// `provided.al2023`), Debian and Ubuntu, then Alpine and macOS.
const BUNDLES: [&str; 3] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/cert.pem",
];

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Root certificates, one PEM block each; empty when no bundle was found,
/// and then each client loads the system's roots itself.
#[derive(Debug, Clone, Default)]
pub struct TrustRoots(Vec<String>);

impl TrustRoots {
    /// The system's roots, read once per process, on first use.
    pub fn system() -> &'static TrustRoots {
        static ROOTS: OnceLock<TrustRoots> = OnceLock::new();
        ROOTS.get_or_init(|| TrustRoots::from_system(&ProcessEnv))
    }

    /// `SSL_CERT_FILE` when set, else the first bundle that exists.
    pub fn from_system(env: &dyn Env) -> Self {
        env.get("SSL_CERT_FILE")
            .into_iter()
            .chain(BUNDLES.iter().map(|path| (*path).to_owned()))
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|bundle| Self::from_bundle(&bundle))
            .find(|roots| !roots.0.is_empty())
            .unwrap_or_default()
    }

    /// The bundle's certificates a TLS client can trust. A block that does
    /// not parse is left out here, as the system loader would leave it out,
    /// so no client is ever handed one it would refuse.
    pub fn from_bundle(bundle: &str) -> Self {
        let mut probe = RootCertStore::empty();
        let blocks = bundle
            .split_inclusive(END)
            // From its BEGIN line: comments between blocks are left out.
            .filter_map(|block| block.find(BEGIN).map(|start| &block[start..]))
            .filter(|block| block.ends_with(END))
            .filter(|block| {
                CertificateDer::from_pem_slice(block.as_bytes())
                    .is_ok_and(|der| probe.add(der).is_ok())
            })
            .map(str::to_owned)
            .collect();
        Self(blocks)
    }

    /// Each certificate as PEM; none means "use the system's own".
    pub fn pem_blocks(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real root (ISRG Root X1), as bundles carry them.
    const ISRG_ROOT_X1: &str = "-----BEGIN CERTIFICATE-----
MIIFazCCA1OgAwIBAgIRAIIQz7DSQONZRGPgu2OCiwAwDQYJKoZIhvcNAQELBQAw
TzELMAkGA1UEBhMCVVMxKTAnBgNVBAoTIEludGVybmV0IFNlY3VyaXR5IFJlc2Vh
cmNoIEdyb3VwMRUwEwYDVQQDEwxJU1JHIFJvb3QgWDEwHhcNMTUwNjA0MTEwNDM4
WhcNMzUwNjA0MTEwNDM4WjBPMQswCQYDVQQGEwJVUzEpMCcGA1UEChMgSW50ZXJu
ZXQgU2VjdXJpdHkgUmVzZWFyY2ggR3JvdXAxFTATBgNVBAMTDElTUkcgUm9vdCBY
MTCCAiIwDQYJKoZIhvcNAQEBBQADggIPADCCAgoCggIBAK3oJHP0FDfzm54rVygc
h77ct984kIxuPOZXoHj3dcKi/vVqbvYATyjb3miGbESTtrFj/RQSa78f0uoxmyF+
0TM8ukj13Xnfs7j/EvEhmkvBioZxaUpmZmyPfjxwv60pIgbz5MDmgK7iS4+3mX6U
A5/TR5d8mUgjU+g4rk8Kb4Mu0UlXjIB0ttov0DiNewNwIRt18jA8+o+u3dpjq+sW
T8KOEUt+zwvo/7V3LvSye0rgTBIlDHCNAymg4VMk7BPZ7hm/ELNKjD+Jo2FR3qyH
B5T0Y3HsLuJvW5iB4YlcNHlsdu87kGJ55tukmi8mxdAQ4Q7e2RCOFvu396j3x+UC
B5iPNgiV5+I3lg02dZ77DnKxHZu8A/lJBdiB3QW0KtZB6awBdpUKD9jf1b0SHzUv
KBds0pjBqAlkd25HN7rOrFleaJ1/ctaJxQZBKT5ZPt0m9STJEadao0xAH0ahmbWn
OlFuhjuefXKnEgV4We0+UXgVCwOPjdAvBbI+e0ocS3MFEvzG6uBQE3xDk3SzynTn
jh8BCNAw1FtxNrQHusEwMFxIt4I7mKZ9YIqioymCzLq9gwQbooMDQaHWBfEbwrbw
qHyGO0aoSCqI3Haadr8faqU9GY/rOPNk3sgrDQoo//fb4hVC1CLQJ13hef4Y53CI
rU7m2Ys6xt0nUW7/vGT1M0NPAgMBAAGjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNV
HRMBAf8EBTADAQH/MB0GA1UdDgQWBBR5tFnme7bl5AFzgAiIyBpY9umbbjANBgkq
hkiG9w0BAQsFAAOCAgEAVR9YqbyyqFDQDLHYGmkgJykIrGF1XIpu+ILlaS/V9lZL
ubhzEFnTIZd+50xx+7LSYK05qAvqFyFWhfFQDlnrzuBZ6brJFe+GnY+EgPbk6ZGQ
3BebYhtF8GaV0nxvwuo77x/Py9auJ/GpsMiu/X1+mvoiBOv/2X/qkSsisRcOj/KK
NFtY2PwByVS5uCbMiogziUwthDyC3+6WVwW6LLv3xLfHTjuCvjHIInNzktHCgKQ5
ORAzI4JMPJ+GslWYHb4phowim57iaztXOoJwTdwJx4nLCgdNbOhdjsnvzqvHu7Ur
TkXWStAmzOVyyghqpZXjFaH3pO3JLF+l+/+sKAIuvtd7u+Nxe5AW0wdeRlN8NwdC
jNPElpzVmbUq4JUagEiuTDkHzsxHpFKVK7q4+63SM1N95R1NbdWhscdCb+ZAJzVc
oyi3B43njTOQ5yOf+1CceWxG1bQVs5ZufpsMljq4Ui0/1lvh+wjChP4kqKOJ2qxq
4RgqsahDYVvTH9w7jXbyLeiNdd8XM2w9U/t7y0Ff/9yi0GE44Za4rF2LN9d11TPA
mRGunUHBcnWEvgJBQl9nJEiU0Zsnvgc/ubhPgXRR4Xq37Z0j4r7g1SgEEzwxA57d
emyPxgcYxn/eR44/KJ4EBs+lVDR3veyJm+kXQ99b21/+jh5Xos1AnX5iItreGCc=
-----END CERTIFICATE-----
";

    #[test]
    fn a_bundle_gives_one_block_per_trusted_certificate() {
        let bundle = format!("# comment\n{ISRG_ROOT_X1}\n{ISRG_ROOT_X1}");
        let roots = TrustRoots::from_bundle(&bundle);
        assert_eq!(roots.pem_blocks().len(), 2);
        assert!(roots.pem_blocks()[0].starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn blocks_no_client_would_accept_are_left_out() {
        let broken = ISRG_ROOT_X1.replace("MIIFazCC", "MIIFazXX");
        let not_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let bundle = format!("{broken}{not_base64}{ISRG_ROOT_X1}");
        assert_eq!(TrustRoots::from_bundle(&bundle).pem_blocks().len(), 1);
        assert!(TrustRoots::from_bundle("no certificates here")
            .pem_blocks()
            .is_empty());
    }

    #[test]
    fn ssl_cert_file_wins_and_a_missing_one_falls_back_to_the_system() {
        let path = std::env::temp_dir().join(format!("roots-{}.pem", std::process::id()));
        std::fs::write(&path, ISRG_ROOT_X1).unwrap();
        let named = path.to_string_lossy().into_owned();
        let env = move |name: &str| (name == "SSL_CERT_FILE").then(|| named.clone());
        assert_eq!(TrustRoots::from_system(&env).pem_blocks().len(), 1);
        std::fs::remove_file(&path).unwrap();
        // Gone: the system's bundle (this machine has one) is read instead.
        assert!(TrustRoots::from_system(&env).pem_blocks().len() > 1);
    }
}
