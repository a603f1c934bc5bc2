//! Write-behind: fetched documents are stored after the answer is given, gathered into one
//! transaction per burst, and `Background::flush` waits for them (a CLI run flushes before it exits).
//!
//! Invariants:
//! - A write never delays an answer; a failed write is logged and the answer stands.
//! - Every write is owned by `Background` (no detached task that outlives a flush).
//! - The writer steps aside (sleeps) between rows while the editor's input is arriving (`StepAside`),
//!   never longer than `LONGEST_STEP_ASIDE` at a time nor `STEP_ASIDE_BUDGET` in one batch.

use super::*;

/// Fetched documents are written once no new one arrived for this long (write-behind: a cold start's
/// hundreds of answers become one transaction, run after the burst rather than during it).
pub(super) const WRITE_GATHER: Duration = Duration::from_millis(30);

pub(super) fn write_many(
    store: &Store,
    _kind: &'static str,
    writes: Vec<crate::lookup::cache::store::PendingWrite>,
) -> Vec<Option<Vec<crate::model::Vanished>>> {
    match store.observe_and_put_many(writes) {
        Ok(vanished) => vanished.into_iter().map(Some).collect(),
        Err(err) => {
            tracing::debug!("cache write failed: {err}");
            Vec::new()
        }
    }
}

/// The editor's input counts as arriving for this long after a message was read.
const INPUT_QUIET: Duration = Duration::from_millis(10);

/// The longest one step aside lasts: the writer holds the store while it waits, so it goes on (a few
/// rows) at least this often even while messages keep arriving.
const LONGEST_STEP_ASIDE: Duration = Duration::from_millis(50);

/// When the editor's last message arrived, in microseconds since `origin()` (0: never).
static LAST_INPUT_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

fn micros_since_origin() -> u64 {
    u64::try_from(origin().elapsed().as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The editor sent a message (the LSP transport calls this for every frame it reads): the store writer
/// steps aside for a moment. Costs one atomic store.
pub fn foreground_input() {
    LAST_INPUT_MICROS.store(micros_since_origin(), std::sync::atomic::Ordering::Relaxed);
}

/// How long one batch of writes may step aside in all: it holds the store's connection and its write
/// lock while it waits (readers in this process, and writers in others, wait for it; theirs time out
/// after 5 s), so typing stretches a batch by this much at most.
const STEP_ASIDE_BUDGET: Duration = Duration::from_millis(250);

/// The store writer's pauses for the editor's input, within one batch's budget.
pub struct StepAside {
    left: Duration,
}

impl StepAside {
    /// For one batch of writes.
    pub fn per_batch() -> StepAside {
        StepAside::with_budget(STEP_ASIDE_BUDGET)
    }

    fn with_budget(left: Duration) -> StepAside {
        StepAside { left }
    }

    /// Called by the store writer between rows: while the editor's input is arriving (a keystroke's
    /// thread about to evaluate and publish), sleep until it has been quiet for `INPUT_QUIET`, at most
    /// `LONGEST_STEP_ASIDE` at a time and the batch's budget in all. Without this the kernel placed the
    /// keystroke's thread on the CPU the writer ran on (a CPU running only `SCHED_IDLE` work counts as
    /// idle) and, with lazy preemption, let the writer run on to the next tick: the keystroke waited
    /// 3.3–4 ms while the other CPU was idle (`perf sched`). A process that never reads editor input
    /// (the CLI) never steps aside. Whether it slept.
    pub fn step(&mut self) -> bool {
        let last = LAST_INPUT_MICROS.load(std::sync::atomic::Ordering::Relaxed);
        if last == 0 || self.left.is_zero() {
            return false;
        }
        let quiet = u64::try_from(INPUT_QUIET.as_micros()).unwrap_or(u64::MAX);
        let started = std::time::Instant::now();
        let limit = LONGEST_STEP_ASIDE.min(self.left);
        let mut slept = false;
        loop {
            let since =
                micros_since_origin().saturating_sub(LAST_INPUT_MICROS.load(std::sync::atomic::Ordering::Relaxed));
            if since >= quiet || started.elapsed() >= limit {
                self.left = self.left.saturating_sub(started.elapsed());
                return slept;
            }
            std::thread::sleep(Duration::from_micros(quiet - since).min(limit));
            slept = true;
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on the process's store-writer thread, which runs at the lowest CPU priority (nice 19, on
/// Linux, where a thread's nice value is its own): a cold open's write-behind (one transaction of
/// hundreds of documents) then yields the CPU to the editor's keystrokes, which it otherwise delayed
/// by milliseconds on a busy machine. Readers are not affected (WAL: they do not wait for a writer). If
/// the thread cannot be started, the job runs on the blocking pool.
pub(super) async fn in_background(job: impl FnOnce() + Send + 'static) {
    static WRITER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Job>>> = std::sync::OnceLock::new();
    let writer = WRITER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("gatehouse-store-writer".to_string())
            .spawn(move || {
                lower_this_threads_priority();
                while let Ok(job) = receiver.recv() {
                    job();
                }
            })
            .ok()
            .map(|_| sender)
    });
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let job: Job = Box::new(move || {
        job();
        let _ = done.send(());
    });
    let unsent = match writer {
        Some(writer) => match writer.send(job) {
            Ok(()) => {
                let _ = finished.await;
                return;
            }
            Err(std::sync::mpsc::SendError(job)) => job,
        },
        None => job,
    };
    let _ = tokio::task::spawn_blocking(unsent).await;
}

/// `SCHED_IDLE` for the calling thread (Linux: `sched_setscheduler(0, …)` sets the calling thread's
/// policy), else nice 19 (`setpriority(PRIO_PROCESS, tid)` sets one thread's value). Nice 19 alone was
/// not enough: a keystroke's thread woken on the CPU where the writer ran waited behind it for up to
/// 3 ms while the other CPU sat idle (`perf sched timehist`). The scheduler treats a CPU that runs only
/// `SCHED_IDLE` work as idle when it places a woken thread; with the kernel's lazy preemption the woken
/// thread can still wait for the next tick there, which is why the writer also steps aside for the
/// editor's input (`StepAside`).
/// Elsewhere the thread keeps the process's priority.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(err) = thread_priority::set_thread_priority_and_policy(
            thread_priority::thread_native_id(),
            ThreadPriority::Min,
            idle,
        ) {
            tracing::debug!("store writer cannot run as SCHED_IDLE: {err:?}");
        }
        if let Err(err) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
            tracing::debug!("store writer keeps its priority: {err}");
        }
    }
}

/// Store writes that run after the answer is given (write-behind), and a way to wait for them: a CLI
/// run calls `flush` before it exits; an editor's server just lets them finish.
#[derive(Default)]
pub struct Background {
    outstanding: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

impl Background {
    pub fn spawn(self: &Arc<Self>, work: impl std::future::Future<Output = ()> + Send + 'static) {
        use std::sync::atomic::Ordering;
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        let this = self.clone();
        tokio::spawn(async move {
            work.await;
            if this.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
                this.done.notify_waiters();
            }
        });
    }

    /// Waits until every write spawned so far has finished.
    pub async fn flush(&self) {
        use std::sync::atomic::Ordering;
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.outstanding.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod step_aside_tests {
    use super::*;

    /// The store writer sleeps while the editor's input is arriving, until it has been quiet for
    /// `INPUT_QUIET` (a lower bound the OS guarantees; more input only lengthens it).
    #[test]
    fn the_writer_steps_aside_while_editor_input_arrives() {
        let started = std::time::Instant::now();
        foreground_input();
        assert!(StepAside::per_batch().step());
        assert!(started.elapsed() >= INPUT_QUIET, "{:?}", started.elapsed());
        // A batch whose budget is spent goes on without waiting.
        foreground_input();
        assert!(!StepAside::with_budget(Duration::ZERO).step());
        // And it goes on even while input keeps arriving.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let typing = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    foreground_input();
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        StepAside::per_batch().step();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        typing.join().unwrap();
    }
}

#[cfg(test)]
mod priority_tests {
    /// The write-behind runs at the lowest priority, on its own thread, and still runs to the end.
    #[tokio::test]
    async fn write_behind_jobs_run_on_a_lowest_priority_thread() {
        #[cfg(target_os = "linux")]
        let caller_before = rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
        let (sender, receiver) = std::sync::mpsc::channel();
        super::in_background(move || {
            let name = std::thread::current().name().map(str::to_string);
            #[cfg(target_os = "linux")]
            let nice = rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
            #[cfg(not(target_os = "linux"))]
            let nice = Some(19);
            #[cfg(target_os = "linux")]
            let idle = thread_priority::unix::thread_schedule_policy().ok()
                == Some(thread_priority::ThreadSchedulePolicy::Normal(
                    thread_priority::NormalThreadSchedulePolicy::Idle,
                ));
            #[cfg(not(target_os = "linux"))]
            let idle = true;
            sender.send((name, nice, idle)).unwrap();
        })
        .await;
        let (name, nice, idle) = receiver.recv().unwrap();
        assert_eq!(name.as_deref(), Some("gatehouse-store-writer"));
        assert_eq!(nice, Some(19));
        assert!(idle, "the store writer runs as SCHED_IDLE");
        // The caller's own thread is untouched.
        #[cfg(target_os = "linux")]
        assert_eq!(
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok(),
            caller_before
        );
    }
}
