//! Signals as events on the daemon's loop: SIGHUP reloads the policy, SIGTERM and SIGINT stop.
//!
//! A signal thread (signal-hook's iterator: the handler only writes to a self-pipe) forwards each
//! signal into the loop's bounded event channel, so the loop sleeps in one blocking receive with a
//! timeout and wakes at once on a signal, with no polling.

use std::io;
use std::sync::mpsc::SyncSender;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::Event;

/// Stops forwarding when dropped.
pub(super) struct Watch {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts forwarding SIGHUP, SIGTERM and SIGINT to `events`.
pub(super) fn watch(events: SyncSender<Event>) -> io::Result<Watch> {
    let mut signals = Signals::new([SIGHUP, SIGTERM, SIGINT])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                let event = match signal {
                    SIGHUP => Event::Reload,
                    SIGTERM => Event::Stop("SIGTERM"),
                    _ => Event::Stop("SIGINT"),
                };
                // Blocks while the channel is full: a signal is delayed, never lost. The loop has
                // gone when sending fails.
                if events.send(event).is_err() {
                    break;
                }
            }
        })?;
    Ok(Watch {
        handle,
        thread: Some(thread),
    })
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
