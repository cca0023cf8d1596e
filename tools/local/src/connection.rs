//! The local API's connections, doing what API Gateway does in front of the
//! Lambdas and hyper alone does not: hyper answers a request whose head it
//! cannot parse (malformed, too many or too large header fields, too long a
//! target) by itself, with an empty body; here that answer becomes the
//! service's problem+json. A connection with no bytes in either direction for
//! the idle timeout is closed.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use payments::domain::CorrelationId;
use payments::http::request_id::with_request_id;
use payments::http::{Problem, RequestError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

pub(crate) struct GuardedListener {
    listener: TcpListener,
    idle_timeout: Duration,
}

impl GuardedListener {
    pub(crate) fn new(listener: TcpListener, idle_timeout: Duration) -> Self {
        Self {
            listener,
            idle_timeout,
        }
    }
}

impl Listener for GuardedListener {
    type Io = GuardedConnection<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.listener).await;
        (GuardedConnection::new(stream, self.idle_timeout), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

pub(crate) struct GuardedConnection<Io> {
    io: Io,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    /// hyper's automatic answer, rewritten, while it is being sent.
    rewritten: Option<Rewritten>,
}

struct Rewritten {
    bytes: Vec<u8>,
    sent: usize,
    /// How many of hyper's bytes the rewritten answer replaces.
    replaces: usize,
}

impl<Io> GuardedConnection<Io> {
    pub(crate) fn new(io: Io, idle_timeout: Duration) -> Self {
        Self {
            io,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            rewritten: None,
        }
    }

    fn touch(&mut self) {
        let deadline = Instant::now() + self.idle_timeout;
        self.idle.as_mut().reset(deadline);
    }

    /// Pending, unless the connection has been idle too long.
    fn pending_unless_idle<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.idle.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for GuardedConnection<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.pending_unless_idle(cx),
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for GuardedConnection<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewritten.is_none() {
            this.rewritten = problem_for_automatic_answer(buf).map(|bytes| Rewritten {
                bytes,
                sent: 0,
                replaces: buf.len(),
            });
        }
        let Some(rewritten) = this.rewritten.as_mut() else {
            return match Pin::new(&mut this.io).poll_write(cx, buf) {
                Poll::Ready(result) => {
                    this.touch();
                    Poll::Ready(result)
                }
                Poll::Pending => this.pending_unless_idle(cx),
            };
        };
        while rewritten.sent < rewritten.bytes.len() {
            match Pin::new(&mut this.io).poll_write(cx, &rewritten.bytes[rewritten.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => rewritten.sent += written,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return this.pending_unless_idle(cx),
            }
        }
        let replaced = rewritten.replaces;
        this.rewritten = None;
        this.touch();
        Poll::Ready(Ok(replaced))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    // hyper then hands over each response head in one buffer, which is what
    // recognising its automatic answers relies on.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The problem+json response standing in for hyper's own answer to a request
/// it could not parse, if `head` is one: a 400, 414 or 431 with an empty body.
/// The service's own answers of those statuses always carry a problem body.
fn problem_for_automatic_answer(head: &[u8]) -> Option<Vec<u8>> {
    let error = if head.starts_with(b"HTTP/1.1 400 ") {
        RequestError::Unreadable(
            "the request line or a header field is not valid HTTP/1.1 (a header value must be visible ASCII or obs-text, with no control bytes)".into(),
        )
    } else if head.starts_with(b"HTTP/1.1 414 ") {
        RequestError::UriTooLong
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        RequestError::HeaderFieldsTooLarge
    } else {
        return None;
    };
    let empty_body = head
        .windows(b"\r\ncontent-length: 0\r\n".len())
        .any(|window| window.eq_ignore_ascii_case(b"\r\ncontent-length: 0\r\n"));
    if !empty_body {
        return None;
    }
    let response = with_request_id(
        Problem::from(error).into_response(),
        &CorrelationId::generated(),
    );
    let (parts, body) = response.into_parts();
    let body: &[u8] = body.as_ref();
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or_default()
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    // hyper closes the connection after such a request: say so.
    bytes.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(body);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_empty_refusals_become_problems_and_the_services_own_answers_pass() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 25 Nov 2026 21:47:37 GMT\r\n\r\n";
        let rewritten = problem_for_automatic_answer(hyper_431).unwrap_or_default();
        let text = String::from_utf8_lossy(&rewritten);
        assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
        assert!(text.contains("content-type: application/problem+json\r\n"));
        assert!(text.ends_with("\"type\":\"/problems/header-fields-too-large\"}"));

        let own_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 122\r\n\r\n{}";
        assert_eq!(problem_for_automatic_answer(own_400), None);
        let own_200 = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(problem_for_automatic_answer(own_200), None);
    }
}
