//! An HTTP/1.1 server on hyper for the fakes, plain or over TLS (tokio-rustls): requests are
//! handed whole to a blocking handler (which may sleep to simulate latency) on tokio's blocking
//! pool, so many requests are served at once, as a real API serves them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use super::tls::Pki;

/// A request, whole.
pub struct Request {
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// A response, whole.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// A running server; it stops when dropped.
pub struct Server {
    pub port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Without waiting for handlers still sleeping out a simulated latency.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Serves plain HTTP.
pub fn start(handler: Handler) -> Server {
    start_with(handler, None)
}

/// Serves HTTPS with `pki`'s server certificate. A client that refuses the certificate only
/// ends its own connection.
pub fn start_tls(handler: Handler, pki: &Pki) -> Server {
    start_with(handler, Some(acceptor(pki)))
}

fn acceptor(pki: &Pki) -> TlsAcceptor {
    let certs = CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

fn start_with(handler: Handler, tls: Option<TlsAcceptor>) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(256)
        .enable_io()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve(stream, handler).await,
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(stream).await {
                            serve(stream, handler).await;
                        }
                    }
                }
            });
        }
    });
    Server {
        port,
        runtime: Some(runtime),
    }
}

/// Serves the requests of one connection.
async fn serve(io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static, handler: Handler) {
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let request = Request {
                method: parts.method.to_string(),
                url: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            v.to_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let answer = tokio::task::spawn_blocking(move || handler(request))
                .await
                .unwrap();
            let mut response = hyper::Response::builder().status(answer.status);
            for (k, v) in answer.headers {
                response = response.header(k, v);
            }
            Ok::<_, Infallible>(response.body(Full::new(Bytes::from(answer.body))).unwrap())
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}
