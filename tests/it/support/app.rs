//! [`TestApp`]: a gateway started in-process, on its own data dir and
//! listener, and stopped on demand. Its [`Builder`] is the one place the
//! tests build a `feedgate::app::App` from TOML and run the server; every
//! test that starts a server in-process goes through it.

use super::{log, Client};
use feedgate::app::App;
use feedgate::clock::{Clock, SystemClock};
use feedgate::config::Config;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The feeds a gateway has unless the test names its own.
const FEEDS: &str = "[feeds.news]\ntitle = \"News\"\nlink = \"https://example.org/news\"\ndescription = \"Company news\"\n[feeds.other]\n";

/// A running gateway: a [`Client`] for it (through `Deref`), its data dir,
/// and what stops it. Dropping it starts a graceful shutdown.
pub struct TestApp {
    client: Client,
    dir: TempDir,
    app: Arc<App>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// What [`TestApp::builder`] starts: config TOML, clock, address, data dir.
pub struct Builder {
    toml: String,
    feeds: String,
    clock: Arc<dyn Clock>,
    addr: SocketAddr,
    dir: Option<TempDir>,
}

impl TestApp {
    /// A gateway with feeds `news` and `other`, the system clock, on
    /// 127.0.0.1:0 over a new temporary data dir, unless told otherwise.
    pub fn builder() -> Builder {
        Builder {
            toml: String::new(),
            feeds: FEEDS.to_string(),
            clock: Arc::new(SystemClock),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir: None,
        }
    }

    /// The application the server runs, for tests that look into its store.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Stop the server, wait for it to drain and flush, and hand back the
    /// data dir (to start another gateway on the same store).
    pub async fn stop(self) -> TempDir {
        let TestApp {
            client,
            dir,
            app,
            stop,
            task,
        } = self;
        let _ = stop.send(());
        task.await.unwrap();
        // The store closes with the last handle on the app.
        drop((client, app));
        dir
    }
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Builder {
    /// Settings and extra tables, written before the feeds' tables.
    pub fn toml(mut self, toml: &str) -> Builder {
        self.toml = toml.to_string();
        self
    }

    /// The `[feeds.…]` tables, instead of `news` and `other`.
    pub fn feeds(mut self, feeds: &str) -> Builder {
        self.feeds = feeds.to_string();
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Builder {
        self.clock = clock;
        self
    }

    /// Listen here instead of 127.0.0.1:0.
    pub fn addr(mut self, addr: SocketAddr) -> Builder {
        self.addr = addr;
        self
    }

    /// Keep the store in this data dir (one a stopped [`TestApp`] handed
    /// back), instead of a new one.
    pub fn dir(mut self, dir: TempDir) -> Builder {
        self.dir = Some(dir);
        self
    }

    pub async fn spawn(self) -> TestApp {
        log::init();
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let toml = format!(
            "data_dir = {:?}\n{}\n{}",
            dir.path().join("data"),
            self.toml,
            self.feeds
        );
        let config = Config::from_toml(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let app = Arc::new(App::build(config, self.clock).await.unwrap());
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app.clone(), stopped));
        TestApp {
            client: Client::new(addr),
            dir,
            app,
            stop,
            task,
        }
    }
}

/// Run the server until `stopped` fires or its sender is dropped.
async fn serve(listener: tokio::net::TcpListener, app: Arc<App>, stopped: oneshot::Receiver<()>) {
    feedgate::server::run(listener, app, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
}
