//! Test control of the protocol side: the request log (with waits on it) and
//! fault injection (fail the next call of a method, delay a method, withhold
//! pushes). It owns no sockets and no world state; the server consults it
//! around every dispatched call and every push.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::watch;

use crate::world::UserId;
use crate::RpcError;

/// One answered API call, as the request log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedCall {
    /// TL method name, e.g. `messages.sendMessage` (wrappers such as
    /// `invokeWithLayer` are unwrapped first).
    pub method: String,
    /// The account the calling auth key was logged into, if any.
    pub account: Option<UserId>,
    /// The error it was answered with, e.g. `420 FLOOD_WAIT_5`.
    pub error: Option<String>,
    /// Unix time in milliseconds when the answer was ready.
    pub at_ms: u64,
}

/// `wait_for_calls` ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} was called {seen} times, expected {expected}, within {timeout:?}")]
pub struct WaitTimeout {
    /// The method waited for.
    pub method: String,
    /// How often it was answered by the deadline.
    pub seen: usize,
    /// How often it should have been.
    pub expected: usize,
    /// How long was waited.
    pub timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    log: Vec<LoggedCall>,
    failures: HashMap<String, VecDeque<RpcError>>,
    delays: HashMap<String, Duration>,
    answer_delays: HashMap<String, Duration>,
    withhold_pushes: bool,
}

/// Request log and faults shared by every connection of one fake datacenter.
#[derive(Debug)]
pub struct Control {
    state: Mutex<State>,
    /// Bumped on every logged call so waiters re-check the log.
    logged: watch::Sender<u64>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    /// No faults, empty log.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            logged: watch::channel(0).0,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends an answered call to the log and wakes waiters.
    pub fn record(&self, method: &str, account: Option<UserId>, error: Option<&RpcError>) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        self.state().log.push(LoggedCall {
            method: method.to_owned(),
            account,
            error: error.map(ToString::to_string),
            at_ms,
        });
        self.logged.send_modify(|n| *n += 1);
    }

    /// Every call answered so far, oldest first.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.state().log.clone()
    }

    /// How many times `method` was answered.
    pub fn call_count(&self, method: &str) -> usize {
        self.state()
            .log
            .iter()
            .filter(|c| c.method == method)
            .count()
    }

    /// Waits until `method` was answered at least `n` times.
    pub async fn wait_for_calls(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<(), WaitTimeout> {
        let mut changed = self.logged.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            if self.call_count(method) >= n {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return Err(WaitTimeout {
                    method: method.to_owned(),
                    seen: self.call_count(method),
                    expected: n,
                    timeout,
                });
            }
        }
    }

    /// The next call of `method` is answered with `error` instead of being handled.
    pub fn fail_next(&self, method: &str, error: RpcError) {
        self.state()
            .failures
            .entry(method.to_owned())
            .or_default()
            .push_back(error);
    }

    /// Every call of `method` is held for `delay` before it is handled;
    /// `Duration::ZERO` removes the delay.
    pub fn delay(&self, method: &str, delay: Duration) {
        let mut state = self.state();
        if delay.is_zero() {
            state.delays.remove(method);
        } else {
            state.delays.insert(method.to_owned(), delay);
        }
    }

    /// Every call of `method` is handled at once but its answer is held for
    /// `delay` (`Duration::ZERO` removes it): the window in which a client
    /// that crashes has changed the world without learning so.
    pub fn delay_answer(&self, method: &str, delay: Duration) {
        let mut state = self.state();
        if delay.is_zero() {
            state.answer_delays.remove(method);
        } else {
            state.answer_delays.insert(method.to_owned(), delay);
        }
    }

    /// Waits out the answer delay set for `method`, if any.
    pub async fn before_answer(&self, method: &str) {
        let delay = self.state().answer_delays.get(method).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// While true, pushes are dropped instead of delivered, which the client
    /// later sees as a gap.
    pub fn withhold_pushes(&self, withhold: bool) {
        self.state().withhold_pushes = withhold;
    }

    /// Whether pushes are currently withheld.
    pub fn pushes_withheld(&self) -> bool {
        self.state().withhold_pushes
    }

    /// Applies the faults set for `method`: waits out its delay, then returns
    /// the injected error, if any.
    pub async fn before_call(&self, method: &str) -> Option<RpcError> {
        let delay = self.state().delays.get(method).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let mut state = self.state();
        let queue = state.failures.get_mut(method)?;
        let error = queue.pop_front();
        if queue.is_empty() {
            state.failures.remove(method);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn injected_failure_applies_once() {
        let control = Control::new();
        control.fail_next("auth.sendCode", RpcError::flood_wait(3));
        assert_eq!(control.before_call("auth.signIn").await, None);
        assert_eq!(
            control.before_call("auth.sendCode").await,
            Some(RpcError::flood_wait(3))
        );
        assert_eq!(control.before_call("auth.sendCode").await, None);
    }

    #[tokio::test]
    async fn wait_for_calls_sees_later_records() {
        let control = std::sync::Arc::new(Control::new());
        let waiter = {
            let control = control.clone();
            tokio::spawn(async move {
                control
                    .wait_for_calls("updates.getState", 2, Duration::from_secs(5))
                    .await
            })
        };
        control.record("updates.getState", Some(1), None);
        control.record("help.getConfig", None, None);
        control.record("updates.getState", Some(1), None);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        let err = control
            .wait_for_calls("updates.getState", 3, Duration::from_millis(20))
            .await;
        assert_eq!(err.unwrap_err().seen, 2);
    }
}
