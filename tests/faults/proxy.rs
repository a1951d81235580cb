//! A TCP proxy in front of Dovecot's IMAP port that counts what the server
//! sends and can cut every open connection at once, as a NAT timeout or a
//! dropped link would.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::AbortHandle;

pub struct CutProxy {
    pub port: u16,
    /// Bytes the server sent to clients so far.
    down: Arc<AtomicU64>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    relays: Arc<Mutex<Vec<AbortHandle>>>,
    /// Once the server has sent this many bytes, nothing more is passed on
    /// (the client hangs mid-response) until [`CutProxy::cut`].
    stall_at: Arc<AtomicU64>,
}

impl CutProxy {
    pub async fn start(upstream: u16) -> CutProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        let down = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let relays = Arc::new(Mutex::new(Vec::new()));
        let stall_at = Arc::new(AtomicU64::new(u64::MAX));
        let (d, a, r, st) = (
            down.clone(),
            accepted.clone(),
            relays.clone(),
            stall_at.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue; // the client sees the connection close
                };
                let task = tokio::spawn(relay(client, server, d.clone(), st.clone()));
                r.lock().expect("relays").push(task.abort_handle());
            }
        });
        CutProxy {
            port,
            down,
            accepted,
            relays,
            stall_at,
        }
    }

    /// From now on, stops passing the server's bytes on once `bytes` in
    /// all have gone down (`u64::MAX`: never).
    pub fn stall_at(&self, bytes: u64) {
        self.stall_at.store(bytes, Ordering::SeqCst);
    }

    /// Whether a connection is held at the stall point.
    pub fn stalled(&self) -> bool {
        self.bytes_down() >= self.stall_at.load(Ordering::SeqCst)
    }

    pub fn bytes_down(&self) -> u64 {
        self.down.load(Ordering::SeqCst)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Drops every open connection (both sockets close at once).
    pub fn cut(&self) {
        for relay in self.relays.lock().expect("relays").drain(..) {
            relay.abort();
        }
    }
}

async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    down: Arc<AtomicU64>,
    stall_at: Arc<AtomicU64>,
) {
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut client_rd, &mut server_wr).await;
        let _ = server_wr.shutdown().await;
    };
    let back = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let before = down.load(Ordering::SeqCst);
            let room = stall_at.load(Ordering::SeqCst).saturating_sub(before);
            let pass = (n as u64).min(room) as usize;
            down.fetch_add(pass as u64, Ordering::SeqCst);
            if client_wr.write_all(&buf[..pass]).await.is_err() {
                break;
            }
            if pass < n {
                // Held mid-response until the test cuts the connection.
                std::future::pending::<()>().await;
            }
        }
        let _ = client_wr.shutdown().await;
    };
    tokio::join!(up, back);
}
