//! Certificates made at test time (rcgen), shaped like the ones splunkd uses.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A certificate authority and one server certificate it signed.
pub struct Pki {
    /// The CA certificate, PEM (what `$SPLUNK_HOME/etc/auth/cacert.pem` holds).
    pub ca_pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server key, PEM.
    pub key_pem: String,
}

/// Like Splunk's default pair: a CA "SplunkCommonCA" and a server certificate whose only name is
/// the common name `SplunkServerDefaultCert` (no subject alternative name for 127.0.0.1).
pub fn splunk_like() -> Pki {
    pki("SplunkCommonCA", "SplunkServerDefaultCert", vec![])
}

/// A CA and a server certificate for the given names.
pub fn pki(ca_name: &str, common_name: &str, alt_names: Vec<String>) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(alt_names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}
