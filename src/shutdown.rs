//! SIGTERM and SIGINT (contract §2 step 8): the pass is asked to stop (no new request; what has
//! finished is written and committed), and a watchdog ends the process if that takes longer
//! than splunkd's patience, so a stop never hangs on a stalled connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// How long after the signal the process may still run: contract §2 asks for 5 seconds.
const GRACE: Duration = Duration::from_millis(4_500);

/// Installed for the length of a run; dropping it stops the watchdog.
pub struct Shutdown {
    stop: Arc<AtomicBool>,
    signals: Handle,
    done: Option<mpsc::Sender<()>>,
    watchdog: Option<JoinHandle<()>>,
}

impl Shutdown {
    /// Starts listening for SIGTERM and SIGINT.
    pub fn install() -> std::io::Result<Shutdown> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let handle = signals.handle();
        let (done, finished) = mpsc::channel::<()>();
        let flag = Arc::clone(&stop);
        let watchdog = std::thread::Builder::new()
            .name("shutdown".into())
            .spawn(move || {
                let Some(signal) = signals.forever().next() else {
                    return; // the run ended without a signal
                };
                flag.store(true, Ordering::SeqCst);
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                log::info!(
                    "event=stopping signal={name} no new request starts; what has finished is \
                     written and committed"
                );
                if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(GRACE) {
                    log::error!(
                        "event=shutdown_timeout the run did not end within {} ms of {name}; \
                         exiting now. Nothing is lost: the next run repeats what was in flight",
                        GRACE.as_millis()
                    );
                    std::process::exit(1);
                }
            })?;
        Ok(Shutdown {
            stop,
            signals: handle,
            done: Some(done),
            watchdog: Some(watchdog),
        })
    }

    /// Raised when the run must stop.
    pub fn flag(&self) -> &Arc<AtomicBool> {
        &self.stop
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        self.signals.close();
        drop(self.done.take());
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
    }
}
