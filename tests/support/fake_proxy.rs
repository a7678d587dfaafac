//! A small HTTP forward proxy on threads: `CONNECT host:port` tunnels (for https targets) and
//! absolute-form requests (`GET http://host:port/path`, for http targets), each request
//! recorded, and, when given a user and password, `Proxy-Authorization: Basic …` required
//! (407 otherwise). Each absolute-form request is forwarded on a connection of its own
//! (`Connection: close` both ways), so every request passes through the recorder.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A request as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `CONNECT`, `GET`, `POST`, …
    pub method: String,
    /// `host:port` for CONNECT, the absolute URL otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, as sent.
    pub authorization: Option<String>,
    /// Whether the proxy let it through.
    pub allowed: bool,
}

/// A running proxy; its threads end with the test process.
pub struct FakeProxy {
    /// `http://127.0.0.1:<port>`, without credentials.
    pub url: String,
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeProxy {
    /// A proxy that requires `user:password` with Basic authentication when given, and lets
    /// anything through otherwise.
    pub fn start(credentials: Option<(&str, &str)>) -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials.map(|(user, password)| basic(user, password));
        {
            let seen = seen.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (seen, expected) = (seen.clone(), expected.clone());
                    std::thread::spawn(move || {
                        let _ = handle(stream, &seen, expected.as_deref());
                    });
                }
            });
        }
        FakeProxy {
            url: format!("http://127.0.0.1:{port}"),
            port,
            seen,
        }
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The `Proxy-Authorization` value for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn handle(
    client: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    expected: Option<&str>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let authorization = header("proxy-authorization");
    let allowed = expected.is_none_or(|e| authorization.as_deref() == Some(e));
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        authorization,
        allowed,
    });
    if !allowed {
        writer.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\
              Proxy-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\n\
              Connection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    if method == "CONNECT" {
        let Ok(upstream) = TcpStream::connect(&target) else {
            writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        };
        writer.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        let mut to_upstream = upstream.try_clone()?;
        let up = std::thread::spawn(move || {
            // `reader` holds whatever the client sent after the CONNECT head.
            let _ = std::io::copy(&mut reader, &mut to_upstream);
            let _ = to_upstream.shutdown(Shutdown::Write);
        });
        let mut from_upstream = upstream;
        let _ = std::io::copy(&mut from_upstream, &mut writer);
        let _ = writer.shutdown(Shutdown::Write);
        let _ = up.join();
        return Ok(());
    }
    // Absolute form: http://host:port/path?query
    let Some(url) = url::Url::parse(&target)
        .ok()
        .filter(|u| u.scheme() == "http" && u.host_str().is_some())
    else {
        writer.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut upstream = TcpStream::connect((
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap(),
    ))?;
    let mut head = format!(
        "{method} {}{} HTTP/1.1\r\n",
        url.path(),
        url.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection"
        ) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&body)?;
    std::io::copy(&mut upstream, &mut writer)?;
    writer.shutdown(Shutdown::Both)
}
