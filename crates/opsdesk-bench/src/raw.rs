//! A lean HTTP/1.1 keep-alive client for the load loops (as wrk or h2load are): each request is
//! written as prepared bytes on one connection and its response read just far enough to know its
//! status and skip its body. On a two-core machine the load generator shares the CPU with the
//! server, so a heavy client (URL parsing, header maps, pools) would measure itself.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection to `host:port`, reopened when the server closes it.
pub struct Conn {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
    line: Vec<u8>,
}

impl Conn {
    /// `base` is `http://host:port`.
    pub fn new(base: &str) -> Conn {
        Conn {
            addr: base
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            stream: None,
            line: Vec::with_capacity(256),
        }
    }

    /// Sends a whole request (head and body) and returns the response's status.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<u16> {
        let mut stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&self.addr).await?;
                s.set_nodelay(true)?;
                BufReader::with_capacity(64 * 1024, s)
            }
        };
        stream.get_mut().write_all(request).await?;
        let (status, length, chunked, close) = self.head(&mut stream).await?;
        if chunked {
            self.skip_chunks(&mut stream).await?;
        } else if let Some(n) = length {
            skip(&mut stream, n).await?;
        }
        if !close {
            self.stream = Some(stream);
        }
        Ok(status)
    }

    async fn read_line(&mut self, s: &mut BufReader<TcpStream>) -> io::Result<()> {
        self.line.clear();
        if s.read_until(b'\n', &mut self.line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(())
    }

    /// The status line and headers: (status, content length, chunked, connection: close).
    async fn head(
        &mut self,
        s: &mut BufReader<TcpStream>,
    ) -> io::Result<(u16, Option<u64>, bool, bool)> {
        self.read_line(s).await?;
        let status = std::str::from_utf8(&self.line)
            .ok()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            self.read_line(s).await?;
            if self.line == b"\r\n" || self.line == b"\n" {
                return Ok((status, length, chunked, close));
            }
            let l = String::from_utf8_lossy(&self.line).to_ascii_lowercase();
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().ok();
            } else if let Some(v) = l.strip_prefix("transfer-encoding:") {
                chunked = v.contains("chunked");
            } else if let Some(v) = l.strip_prefix("connection:") {
                close = v.contains("close");
            }
        }
    }

    async fn skip_chunks(&mut self, s: &mut BufReader<TcpStream>) -> io::Result<()> {
        loop {
            self.read_line(s).await?;
            let size = std::str::from_utf8(&self.line)
                .ok()
                .and_then(|l| u64::from_str_radix(l.trim().split(';').next()?, 16).ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    self.read_line(s).await?;
                    if self.line == b"\r\n" || self.line == b"\n" {
                        return Ok(());
                    }
                }
            }
            skip(s, size + 2).await?;
        }
    }
}

async fn skip(s: &mut BufReader<TcpStream>, n: u64) -> io::Result<()> {
    let copied = tokio::io::copy(&mut s.take(n), &mut tokio::io::sink()).await?;
    if copied < n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
    }
    Ok(())
}

/// A request's bytes: `method path`, the given headers, and a body with its length.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nhost: bench\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_their_length() {
        let r = request("POST", "/x", &[("content-type", "text/plain")], b"hello");
        let text = String::from_utf8_lossy(&r);
        assert!(text.starts_with("POST /x HTTP/1.1\r\n"));
        assert!(text.contains("content-length: 5\r\n\r\nhello"));
        let g = request("GET", "/y", &[], b"");
        assert!(!String::from_utf8_lossy(&g).contains("content-length"));
    }

    #[tokio::test]
    async fn responses_are_read_whole_with_a_length_or_in_chunks() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc")
                .await;
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .await;
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let mut c = Conn::new(&format!("http://{addr}"));
        let get = request("GET", "/", &[], b"");
        assert_eq!(c.send(&get).await.ok(), Some(200));
        assert_eq!(c.send(&get).await.ok(), Some(201));
        assert_eq!(c.send(&get).await.ok(), Some(404));
    }
}
