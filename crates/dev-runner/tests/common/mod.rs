//! What the development-loop test binaries share: the loop run in a task with its events on a
//! channel, and free loopback addresses.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use dev_runner::Timing;
use dev_runner::dev_loop::{self, DevLoop, Event};
use test_support::until_received;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A development loop running in a task until [`Running::stop`].
pub struct Running {
    events: mpsc::UnboundedReceiver<Event>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// How long any one wait may take.
    bound: Duration,
}

impl Running {
    /// Starts `dev`; returns once the loop reports every server started.
    pub async fn start(dev: DevLoop, bound: Duration) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            dev_loop::run(dev, shutdown, move |event| {
                let _ = events_tx.send(event);
            })
            .await
            .expect("the loop runs");
        });
        let mut running = Self {
            events,
            stop: Some(stop),
            task: Some(task),
            bound,
        };
        running.until(|e| matches!(e, Event::Started)).await;
        running
    }

    /// Waits for the first event matching `wanted`; returns it and every event before it.
    pub async fn until(&mut self, wanted: impl Fn(&Event) -> bool) -> Vec<Event> {
        until_received(&mut self.events, self.bound, wanted).await
    }

    /// Sends the shutdown signal and waits (bounded) for the loop to end.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(self.bound, task)
                .await
                .expect("the loop ends after the shutdown signal")
                .expect("the loop did not panic");
        }
    }
}

/// The loop's timing in these tests: 20 s to get ready, 2 s to stop.
pub fn timing() -> Timing {
    Timing {
        ready_timeout: Duration::from_secs(20),
        grace: Duration::from_secs(2),
    }
}

/// A loopback address that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("bound")
}

/// The values of the environment variables `names`, if every one is set: a stand-in process
/// run by a test has them, the test binary run as a whole does not.
pub fn stand_in_vars<const N: usize>(names: [&str; N]) -> Option<[String; N]> {
    let values: Vec<String> = names
        .iter()
        .map_while(|name| std::env::var(name).ok())
        .collect();
    values.try_into().ok()
}
