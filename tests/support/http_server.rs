//! An HTTP/1.1 server on hyper for the fakes, plain or over TLS (tokio-rustls): requests are
//! handed whole to a blocking handler (which may sleep to simulate latency) on tokio's blocking
//! pool, so many requests are served at once, as a real API serves them. A response body is
//! whole, or streamed chunk by chunk from an iterator run on the blocking pool (a search's
//! results, produced as they are sent and as slowly as the iterator makes them).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
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

/// A response: status and headers, then the body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

/// A response body.
pub enum Body {
    /// Sent at once.
    Full(String),
    /// Sent chunk by chunk as the iterator yields them (`Transfer-Encoding: chunked`); the
    /// iterator stops being polled when the client goes away.
    Stream(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::Full(text)
    }
}

/// A streamed body: chunks arrive from the producer on the blocking pool. A small channel, so
/// the producer runs no further ahead of the client than a few chunks.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(hyper::body::Frame::data(c))))
    }
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
            let body = match answer.body {
                Body::Full(text) => Either::Left(Full::new(Bytes::from(text))),
                Body::Stream(chunks) => {
                    let (tx, rx) = tokio::sync::mpsc::channel(4);
                    tokio::task::spawn_blocking(move || {
                        for chunk in chunks {
                            if tx.blocking_send(Bytes::from(chunk)).is_err() {
                                break; // the client went away
                            }
                        }
                    });
                    Either::Right(ChannelBody(rx))
                }
            };
            Ok::<_, Infallible>(response.body(body).unwrap())
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}
