//! The scaffold both stand-ins share: a listener on 127.0.0.1 (port chosen by the OS), served on its
//! own thread and runtime so sync and async tests can use it alike, one task per accepted connection,
//! and a stop (thread joined) when dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// A running accept loop; stops when dropped.
pub(crate) struct Loopback {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Loopback {
    /// Binds 127.0.0.1:0 and hands every accepted connection (with `TCP_NODELAY`) to `serve` on a
    /// runtime of `workers` threads named `name`.
    pub(crate) fn start<F, Fut>(name: &str, workers: usize, serve: F) -> std::io::Result<Loopback>
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime_name = name.to_string();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name(runtime_name)
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let _ = stream.set_nodelay(true);
                            tokio::spawn(serve(stream));
                        }
                    }
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
        Ok(Loopback {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A poisoned lock in a stand-in still serves: a panicking test must not take the others down.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
