//! The health probes themselves: a TCP connect, and a minimal HTTP/1.1 GET over it (http://
//! only: no TLS, no redirects followed, the status line is all that is read). Each has its own
//! deadline; nothing here fails: a probe that cannot be made is a failed probe with the reason.

use std::time::Duration;

use drs_waves_contract::StatusRange;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most of an answer read to find its status line.
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// What one probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probed {
    pub ok: bool,
    /// `connected`, `HTTP 503`, `connection refused`, `no answer in 5 s`.
    pub answer: String,
}

impl Probed {
    fn failed(answer: impl Into<String>) -> Probed {
        Probed {
            ok: false,
            answer: answer.into(),
        }
    }
}

/// Connects to `host:port` within `deadline`.
pub async fn probe_tcp(host: &str, port: u16, deadline: Duration) -> Probed {
    match tokio::time::timeout(deadline, TcpStream::connect((host, port))).await {
        Ok(Ok(_)) => Probed {
            ok: true,
            answer: "connected".to_owned(),
        },
        Ok(Err(e)) => Probed::failed(connect_error(&e)),
        Err(_) => Probed::failed(format!("no answer in {} s", deadline.as_secs())),
    }
}

/// GETs `url` (http:// only) within `deadline`; passes when its status is within `expect`.
pub async fn probe_http(url: &str, expect: StatusRange, deadline: Duration) -> Probed {
    let Some((host, port, path)) = split_url(url) else {
        return Probed::failed(format!("{url} is not an http:// URL the probe can use"));
    };
    let status = tokio::time::timeout(deadline, get_status(&host, port, &path)).await;
    match status {
        Ok(Ok(code)) => Probed {
            ok: expect.contains(code),
            answer: format!("HTTP {code}"),
        },
        Ok(Err(why)) => Probed::failed(why),
        Err(_) => Probed::failed(format!("no answer in {} s", deadline.as_secs())),
    }
}

/// `http://host[:port]/path` into its host, port (default 80) and path (default `/`).
pub fn split_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok().filter(|p: &u16| *p > 0)?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return None;
    }
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Some((host.to_owned(), port, path))
}

async fn get_status(host: &str, port: u16, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| connect_error(&e))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: drs-waves-health\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < MAX_HEAD_BYTES {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    status_of(&head)
}

/// The status code of an answer's status line (`HTTP/1.1 503 Service Unavailable`).
pub fn status_of(head: &[u8]) -> Result<u16, String> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if version.starts_with("HTTP/") && (100..=599).contains(&code) => Ok(code),
        _ if head.is_empty() => Err("the connection closed without an answer".to_owned()),
        _ => Err(format!(
            "not an HTTP answer: {:?}",
            line.chars().take(60).collect::<String>()
        )),
    }
}

fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => format!("cannot connect: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            split_url("http://10.0.0.5:8080/health?deep=1"),
            Some(("10.0.0.5".into(), 8080, "/health?deep=1".into()))
        );
        assert_eq!(
            split_url("http://app.internal"),
            Some(("app.internal".into(), 80, "/".into()))
        );
        assert_eq!(split_url("https://x/"), None);
        assert_eq!(split_url("http://x:0/"), None);
        assert_eq!(split_url("http://:80/"), None);
    }

    #[test]
    fn a_status_line_gives_its_code_and_anything_else_says_what_it_was() {
        assert_eq!(status_of(b"HTTP/1.1 503 Service Unavailable\r\n"), Ok(503));
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\n\r\n"), Ok(200));
        assert!(status_of(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert_eq!(
            status_of(b""),
            Err("the connection closed without an answer".to_owned())
        );
    }

    /// Serves `answers` in turn, one per connection, on a loopback port.
    async fn serve(answers: Vec<&'static str>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            for answer in answers {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn an_http_probe_passes_only_on_an_expected_status() {
        let port = serve(vec![
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ])
        .await;
        let url = format!("http://127.0.0.1:{port}/health");
        let two = StatusRange { min: 200, max: 299 };
        let first = probe_http(&url, two, Duration::from_secs(5)).await;
        assert_eq!(first, Probed::failed("HTTP 503"));
        let second = probe_http(&url, two, Duration::from_secs(5)).await;
        assert_eq!(
            second,
            Probed {
                ok: true,
                answer: "HTTP 200".into()
            }
        );
    }

    #[tokio::test]
    async fn a_tcp_probe_connects_to_a_listener_and_is_refused_by_a_closed_port() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(
            probe_tcp("127.0.0.1", port, Duration::from_secs(5))
                .await
                .ok
        );
        drop(listener);
        let closed = probe_tcp("127.0.0.1", port, Duration::from_secs(5)).await;
        assert_eq!(closed, Probed::failed("connection refused"));
    }
}
