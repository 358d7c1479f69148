//! A TCP relay the test controls, put between the server and PostgreSQL to cut the database off:
//! [`Relay::cut`] closes every relayed connection and refuses new ones (accepted and closed at
//! once, as a proxy with a dead backend does), [`Relay::restore`] lets connections through again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    /// Connections relayed so far (to show the server really went through the relay).
    relayed: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Starts relaying `127.0.0.1:<port>` to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let relayed = Arc::new(AtomicUsize::new(0));
        let (cuts, _) = watch::channel(0u64);
        let accept = {
            let (up, relayed, cuts) = (up.clone(), relayed.clone(), cuts.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let mut cut = cuts.subscribe();
                    relayed.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let (mut client, mut server) = (client, server);
                        // A cut ends the copy and drops both sockets: each side sees its peer close.
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Relay {
            port,
            up,
            cuts,
            relayed,
            accept,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every relayed connection and refuses new ones until [`Relay::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn relayed(&self) -> usize {
        self.relayed.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
