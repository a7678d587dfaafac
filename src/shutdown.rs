//! Stopping (contract §2 step 8): when splunkd stops an input — SIGTERM or SIGINT on Unix,
//! CTRL_BREAK (or CTRL_C) on Windows — the pass is asked to stop (no new request; what has
//! finished is written and committed), and a watchdog ends the process if that takes longer
//! than splunkd's patience, so a stop never hangs on a stalled connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long after the request to stop the process may still run: contract §2 asks for 5
/// seconds.
const GRACE: Duration = Duration::from_millis(4_500);

/// What the watchdog hears.
enum Notice {
    /// splunkd asked the input to stop, with this signal or console event.
    Stop(&'static str),
    /// The run ended.
    Done,
}

/// Installed for the length of a run; dropping it stops the watchdog.
pub struct Shutdown {
    stop: Arc<AtomicBool>,
    notices: Sender<Notice>,
    listener: platform::Listener,
    watchdog: Option<JoinHandle<()>>,
}

impl Shutdown {
    /// Starts listening for the stop request of this platform.
    pub fn install() -> std::io::Result<Shutdown> {
        let stop = Arc::new(AtomicBool::new(false));
        let (notices, heard) = mpsc::channel::<Notice>();
        let listener = platform::listen(notices.clone())?;
        let flag = Arc::clone(&stop);
        let watchdog = std::thread::Builder::new()
            .name("shutdown".into())
            .spawn(move || {
                let Ok(Notice::Stop(name)) = heard.recv() else {
                    return; // the run ended without a request to stop
                };
                flag.store(true, Ordering::SeqCst);
                log::info!(
                    "event=stopping signal={name} no new request starts; what has finished is \
                     written and committed"
                );
                let deadline = std::time::Instant::now() + GRACE;
                loop {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    match heard.recv_timeout(left) {
                        // A second request changes nothing: the first one's grace runs.
                        Ok(Notice::Stop(_)) => continue,
                        Ok(Notice::Done) | Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => {
                            log::error!(
                                "event=shutdown_timeout the run did not end within {} ms of \
                                 {name}; exiting now. Nothing is lost: the next run repeats \
                                 what was in flight",
                                GRACE.as_millis()
                            );
                            std::process::exit(1);
                        }
                    }
                }
            })?;
        Ok(Shutdown {
            stop,
            notices,
            listener,
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
        self.listener.close();
        let _ = self.notices.send(Notice::Done);
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
    }
}

#[cfg(unix)]
mod platform {
    use std::sync::mpsc::Sender;

    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::{Handle, Signals};

    use super::Notice;

    /// SIGTERM (splunkd stopping the input) and SIGINT (Ctrl-C by hand), forwarded by a thread
    /// of signal-hook's iterator.
    pub struct Listener(Handle);

    pub fn listen(notices: Sender<Notice>) -> std::io::Result<Listener> {
        let mut signals = Signals::new([SIGTERM, SIGINT])?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    if notices.send(Notice::Stop(name)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Listener(handle))
    }

    impl Listener {
        /// Ends the forwarding thread.
        pub fn close(&self) {
            self.0.close();
        }
    }
}

#[cfg(windows)]
mod platform {
    use std::sync::Mutex;
    use std::sync::mpsc::Sender;

    use super::Notice;

    /// splunkd stops a modular input on Windows with CTRL_BREAK (splunk-sdk-csharp-pcl#38:
    /// "Splunk signals the modular input to shut down via ctrl+break"; Splunk's OpenTelemetry
    /// add-on: "SIGTERM on Unix-like systems and CTRL_BREAK on Windows"); CTRL_C is the same by
    /// hand. ctrlc's handler answers both.
    /// The ctrlc crate's handler runs on its own thread and cannot be removed, so `close` only
    /// stops it forwarding.
    pub struct Listener(std::sync::Arc<Mutex<Option<Sender<Notice>>>>);

    pub fn listen(notices: Sender<Notice>) -> std::io::Result<Listener> {
        let target = std::sync::Arc::new(Mutex::new(Some(notices)));
        let forward = std::sync::Arc::clone(&target);
        ctrlc::set_handler(move || {
            if let Some(notices) = forward.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                let _ = notices.send(Notice::Stop("CTRL_BREAK_OR_C"));
            }
        })
        .map_err(std::io::Error::other)?;
        Ok(Listener(target))
    }

    impl Listener {
        /// Stops forwarding console events.
        pub fn close(&self) {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}
