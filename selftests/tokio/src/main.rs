// SPDX-License-Identifier: GPL-2.0
//! tokio's AsyncFd on a real shmring watch fd.
//!
//! Started by shmring_watch_driver (see shmring_tokio.sh) with three
//! arguments: the watch fd, O_NONBLOCK and watching one word of
//! /dev/shmring, and the driver's ends of its request and reply pipes.
//! Requests: "wake N" (N WAKEs of the word, then "ok"), "wake N MS" ("ok"
//! first, the WAKEs MS ms later, while the runtime sleeps in epoll_wait)
//! and "count" (the pending count as fdinfo shows it to the driver, which
//! a read would reset). tokio registers the fd edge-triggered (mio's
//! EPOLLET): a task reads until WouldBlock, then clear_ready(), and the next
//! WAKE must be a new edge that wakes it again. Prints KTAP; exits 1 if a
//! case failed.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::io::{FromRawFd, RawFd};
use std::process::exit;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;
use tokio::runtime::{Builder, Runtime};
use tokio::time::timeout;

/// How long a fd must stay unreadable to count as not readable.
const QUIET: Duration = Duration::from_millis(200);
/// How long a WAKE gets to show: a miss fails, never hangs.
const PATIENCE: Duration = Duration::from_secs(10);
const ROUNDS: u32 = 10;

type Res<T> = Result<T, String>;

fn check(cond: bool, what: impl FnOnce() -> String) -> Res<()> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// shmring_watch_driver's end: the WAKEs come from there.
struct Driver {
    req: File,
    rep: BufReader<File>,
}

impl Driver {
    fn ask(&mut self, line: &str) -> Res<String> {
        writeln!(self.req, "{}", line).map_err(|e| format!("driver: {}", e))?;
        let mut answer = String::new();
        self.rep
            .read_line(&mut answer)
            .map_err(|e| format!("driver: {}", e))?;
        check(answer.ends_with('\n'), || format!("driver: no reply to {:?}", line))?;
        Ok(answer.trim_end().to_string())
    }

    fn ok(&mut self, line: &str) -> Res<()> {
        let answer = self.ask(line)?;
        check(answer == "ok", || format!("driver: {:?}: {:?}", line, answer))
    }

    /// `n` WAKEs, done when this returns.
    fn wake(&mut self, n: u32) -> Res<()> {
        self.ok(&format!("wake {}", n))
    }

    /// `n` WAKEs `ms` milliseconds from now.
    fn wake_later(&mut self, n: u32, ms: u32) -> Res<()> {
        self.ok(&format!("wake {} {}", n, ms))
    }

    fn count(&mut self) -> Res<u64> {
        let answer = self.ask("count")?;
        answer
            .parse()
            .map_err(|_| format!("driver: count {:?}", answer))
    }
}

/// One read(2) of 8 bytes: the count, which it resets; None at WouldBlock.
fn read_count(mut f: &File) -> Res<Option<u64>> {
    let mut b = [0u8; 8];
    match f.read(&mut b) {
        Ok(8) => Ok(Some(u64::from_ne_bytes(b))),
        Ok(n) => Err(format!("read() gave {} bytes, not 8", n)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(format!("read(): {}", e)),
    }
}

/// Reads until WouldBlock, then clear_ready(): the sum of the counts read.
fn read_all(guard: &mut AsyncFdReadyGuard<'_, File>) -> Res<u64> {
    let mut sum = 0;
    while let Some(v) = read_count(guard.get_inner())? {
        sum += v;
    }
    guard.clear_ready();
    Ok(sum)
}

async fn readable(afd: &AsyncFd<File>) -> Res<AsyncFdReadyGuard<'_, File>> {
    match timeout(PATIENCE, afd.readable()).await {
        Ok(Ok(guard)) => Ok(guard),
        Ok(Err(e)) => Err(format!("readable(): {}", e)),
        Err(_) => Err(format!("not readable {:?} after the WAKEs", PATIENCE)),
    }
}

async fn not_readable(afd: &AsyncFd<File>, within: Duration) -> Res<()> {
    match timeout(within, afd.readable()).await {
        Err(_) => Ok(()),
        Ok(Ok(mut guard)) => {
            let v = read_all(&mut guard)?;
            Err(format!("readable with no WAKE pending (read {})", v))
        }
        Ok(Err(e)) => Err(format!("readable(): {}", e)),
    }
}

/// Waits for `n` WAKEs that come in one or more edges, and for no more.
async fn collect(afd: &AsyncFd<File>, n: u64) -> Res<()> {
    let mut got = 0;
    while got < n {
        let mut guard = readable(afd).await?;
        got += read_all(&mut guard)?;
    }
    check(got == n, || format!("read {} for {} WAKEs", got, n))
}

fn case_inherited(fd: RawFd, drv: &mut Driver) -> Res<()> {
    // SAFETY: fcntl() with F_GETFL or F_GETFD reads the fd's flags only.
    let (fl, fdfl) = unsafe { (libc::fcntl(fd, libc::F_GETFL), libc::fcntl(fd, libc::F_GETFD)) };
    check(fl >= 0 && fl & libc::O_NONBLOCK != 0, || {
        format!("the fd is not O_NONBLOCK (flags {:#o})", fl)
    })?;
    check(fdfl == 0, || format!("the fd's FD_ flags are {:#x}", fdfl))?;
    check(drv.count()? == 0, || "the driver sees a count before any WAKE".into())
}

/// Readable after a batch of WAKEs, read() gives exactly its count, then
/// WouldBlock; after clear_ready() nothing until the next WAKE, which
/// wakes the task again, asleep in the runtime, round after round.
async fn edges(afd: &AsyncFd<File>, drv: &mut Driver) -> Res<()> {
    not_readable(afd, QUIET).await?;
    drv.wake(3)?;
    let mut guard = readable(afd).await?;
    let v = read_count(guard.get_inner())?;
    check(v == Some(3), || format!("read() after 3 WAKEs gave {:?}", v))?;
    let v = read_count(guard.get_inner())?;
    check(v.is_none(), || format!("a second read() gave {:?}, not WouldBlock", v))?;
    guard.clear_ready();
    not_readable(afd, QUIET).await?;
    for round in 0..ROUNDS {
        let n = 1 + round % 3;
        drv.wake_later(n, 20)?;
        collect(afd, n as u64)
            .await
            .map_err(|e| format!("round {}: {}", round, e))?;
        check(drv.count()? == 0, || format!("round {}: a count left", round))?;
    }
    not_readable(afd, QUIET).await
}

/// As edges(), on a multi-thread runtime: a spawned task waits on a
/// worker while the WAKEs come from this thread.
fn spawned_edges(rt: &Runtime, afd: &Arc<AsyncFd<File>>, drv: &mut Driver) -> Res<()> {
    rt.block_on(not_readable(afd, QUIET))?;
    for round in 0..ROUNDS {
        let n = 1 + round % 3;
        let task = {
            let afd = Arc::clone(afd);
            rt.spawn(async move { collect(&afd, n as u64).await })
        };
        drv.wake_later(n, 20)?;
        rt.block_on(async { timeout(2 * PATIENCE, task).await })
            .map_err(|_| format!("round {}: the task did not end", round))?
            .map_err(|e| format!("round {}: the task: {}", round, e))?
            .map_err(|e| format!("round {}: {}", round, e))?;
    }
    rt.block_on(not_readable(afd, QUIET))
}

fn runtime(multi: bool) -> Res<Runtime> {
    let mut b = if multi {
        let mut b = Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        Builder::new_current_thread()
    };
    b.enable_all()
        .build()
        .map_err(|e| format!("runtime: {}", e))
}

fn register(rt: &Runtime, file: File) -> Res<Arc<AsyncFd<File>>> {
    let _ctx = rt.enter();
    AsyncFd::with_interest(file, Interest::READABLE)
        .map(Arc::new)
        .map_err(|e| format!("AsyncFd::with_interest: {}", e))
}

/// The File back from its AsyncFd, deregistered, for the next runtime.
fn unregister(afd: Arc<AsyncFd<File>>) -> Res<File> {
    Arc::try_unwrap(afd)
        .map(AsyncFd::into_inner)
        .map_err(|_| "the AsyncFd is still shared".to_string())
}

fn run(fd: RawFd, drv: &mut Driver) -> usize {
    // SAFETY: the driver passed us the watch fd; nothing else owns it.
    let mut file = Some(unsafe { File::from_raw_fd(fd) });
    let names = [
        "the watch fd came through exec: O_NONBLOCK, not close-on-exec, nothing pending",
        "current_thread: readable().await after WAKEs, read() gives their count, WouldBlock, clear_ready(), the next WAKE wakes it again",
        "multi_thread: a spawned task's readable().await, woken by each later WAKE, read until WouldBlock, clear_ready()",
    ];
    println!("TAP version 13");
    println!("1..{}", names.len());
    let mut failed = 0;
    for (i, name) in names.iter().enumerate() {
        let result = match (i, file.take()) {
            (_, None) => Err("the watch fd was lost by an earlier case".to_string()),
            (0, Some(f)) => {
                file = Some(f);
                case_inherited(fd, drv)
            }
            (_, Some(f)) => runtime(i == 2).and_then(|rt| {
                let afd = register(&rt, f)?;
                let result = if i == 1 {
                    rt.block_on(edges(&afd, drv))
                } else {
                    spawned_edges(&rt, &afd, drv)
                };
                file = Some(unregister(afd)?);
                result
            }),
        };
        match result {
            Ok(()) => println!("ok {} {}", i + 1, name),
            Err(e) => {
                failed += 1;
                println!("# {}", e);
                println!("not ok {} {}", i + 1, name);
            }
        }
    }
    println!(
        "# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:0 error:0",
        names.len() - failed,
        failed
    );
    failed
}

fn main() {
    let args: Vec<RawFd> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap_or(-1))
        .collect();
    if args.len() != 3 || args.iter().any(|&fd| fd < 0) {
        eprintln!("usage: shmring_tokio_watch <watch fd> <request fd> <reply fd>");
        exit(2);
    }
    // SAFETY: the driver passed us these pipe ends; nothing else owns them.
    let mut drv = unsafe {
        Driver {
            req: File::from_raw_fd(args[1]),
            rep: BufReader::new(File::from_raw_fd(args[2])),
        }
    };
    exit(if run(args[0], &mut drv) == 0 { 0 } else { 1 });
}
