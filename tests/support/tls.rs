//! Certificates made at test time (rcgen): Splunk-like pairs, and a CA that issues server
//! certificates for any name, valid or expired.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, date_time_ymd,
};

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
    let ca = Ca::new(ca_name);
    let (cert_pem, key_pem) = ca.issue(common_name, alt_names, Validity::Current);
    Pki {
        ca_pem: ca.pem.clone(),
        cert_pem,
        key_pem,
    }
}

/// When a server certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From 1975 to 4096.
    Current,
    /// From 2019-01-01 to 2020-01-01: expired.
    Expired,
}

/// The day [`Validity::Expired`] certificates stop being valid, as the binary should name it.
pub const EXPIRED_ON: &str = "2020-01-01";

/// A certificate authority that issues server certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Its certificate, PEM.
    pub pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pem = issuer.pem();
        Ca { issuer, pem }
    }

    /// A server certificate (PEM) and its key (PEM). `alt_names` that parse as IP addresses
    /// become IP subject alternative names, the others DNS names.
    pub fn issue(
        &self,
        common_name: &str,
        alt_names: Vec<String>,
        validity: Validity,
    ) -> (String, String) {
        let mut params = CertificateParams::new(alt_names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if validity == Validity::Expired {
            params.not_before = date_time_ymd(2019, 1, 1);
            params.not_after = date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A [`Pki`] of this CA and one server certificate.
    pub fn pki(&self, common_name: &str, alt_names: Vec<String>, validity: Validity) -> Pki {
        let (cert_pem, key_pem) = self.issue(common_name, alt_names, validity);
        Pki {
            ca_pem: self.pem.clone(),
            cert_pem,
            key_pem,
        }
    }
}
