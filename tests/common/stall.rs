//! A TCP proxy in front of Postfix that stalls one message mid-DATA, so a
//! test can kill its client between "queued" and "sent".
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP proxy in front of Postfix that passes everything through, except
/// that it holds back the end of the `stall_at`-th message's DATA (the
/// `CRLF.CRLF`), so the server never accepts that message and the client
/// waits for an answer that never comes.
pub struct StallingProxy {
    pub port: u16,
    stalled: Arc<AtomicBool>,
}

impl StallingProxy {
    pub async fn start(upstream: u16, stall_at: usize) -> StallingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicUsize::new(0));
        let flag = stalled.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                tokio::spawn(relay(client, server, stall_at, seen.clone(), flag.clone()));
            }
        });
        StallingProxy { port, stalled }
    }

    /// Waits until the client is stuck in the stalled send. `gone` says
    /// why the client can no longer get there (it exited), if it did.
    pub async fn wait_stalled(&self, timeout: Duration, mut gone: impl FnMut() -> Option<String>) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.stalled.load(Ordering::SeqCst) {
            if let Some(why) = gone() {
                panic!("the client ended ({why}) before it got to the stalled send");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the client never got to the stalled send"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    stall_at: usize,
    seen: Arc<AtomicUsize>,
    stalled: Arc<AtomicBool>,
) {
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_rd, &mut client_wr).await;
    });
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match client_rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let mut window = tail.clone();
        window.extend_from_slice(chunk);
        if window.windows(5).any(|w| w == b"\r\n.\r\n") {
            let k = seen.fetch_add(1, Ordering::SeqCst) + 1;
            if k == stall_at {
                stalled.store(true, Ordering::SeqCst);
                // Swallow whatever else comes until the client dies.
                while matches!(client_rd.read(&mut buf).await, Ok(n) if n > 0) {}
                break;
            }
        }
        if server_wr.write_all(chunk).await.is_err() {
            break;
        }
        tail = window[window.len().saturating_sub(4)..].to_vec();
    }
    // Closing mid-DATA: Postfix drops the unfinished message.
    drop(server_wr);
    down.abort();
}
