//! What the benchmark measures a process by, from /proc, and where the
//! simulator runs: in the benchmark's own process (the default, as asked
//! of the benchmark) or in a child process, so that the daemon's own
//! memory and CPU can be told apart from the simulator's.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom};
use std::num::NonZeroUsize;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recplan::sim::{self, SimConfig, SimHandle, Simulator};

/// Set in the child's environment: serve the simulator, print its address,
/// and stop when stdin closes. Holds `max_concurrent_tasks`.
const CHILD: &str = "RECPLAN_BENCH_SIM_CHILD";

/// Resident memory and CPU time of a process at one moment.
#[derive(Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    pub rss_kb: u64,
    pub cpu: Duration,
}

/// A process's /proc files, opened once: at 10,000 sessions the daemon
/// may use every file descriptor it is allowed, and the figures must still
/// be read.
pub struct Proc {
    status: File,
    stat: File,
}

impl Proc {
    /// `pid` is a number, or `self`.
    pub fn open(pid: &str) -> Proc {
        let open = |name: &str| File::open(format!("/proc/{pid}/{name}")).expect("Linux /proc");
        Proc {
            status: open("status"),
            stat: open("stat"),
        }
    }

    pub fn sample(&self) -> Sample {
        Sample {
            at: Instant::now(),
            rss_kb: self.status_kb("VmRSS:"),
            cpu: self.cpu_time(),
        }
    }

    /// A `kB` line of the status file, e.g. `VmHWM:`, the peak RSS.
    pub fn status_kb(&self, field: &str) -> u64 {
        read(&self.status)
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/…/status"))
    }

    /// User plus system time of every thread, live or gone.
    pub fn cpu_time(&self) -> Duration {
        let stat = read(&self.stat);
        // Fields after the command name, which may hold spaces, start at
        // field 3 (state); utime and stime are fields 14 and 15.
        let after_name = &stat[stat.rfind(')').expect("stat has a command name") + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        // In USER_HZ ticks, 100 a second on every architecture Linux has
        // today (sysconf would need libc, and the crate forbids unsafe code).
        Duration::from_millis(ticks * 10)
    }
}

/// The whole of a /proc file, generated afresh from the start.
fn read(mut file: &File) -> String {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).expect("/proc files seek");
    file.read_to_string(&mut text).expect("/proc files read");
    text
}

/// The simulator, wherever it runs.
pub enum Sim {
    InProcess(SimHandle),
    Child {
        child: Child,
        uri: String,
        proc: Proc,
    },
}

impl Sim {
    /// Starts the simulator with its rate limit off and room for
    /// `max_tasks` recordings at once.
    pub async fn start(in_child: bool, max_tasks: usize) -> Sim {
        if !in_child {
            let handle = Simulator::start(config(max_tasks))
                .await
                .expect("the simulator starts");
            return Sim::InProcess(handle);
        }
        let mut child = Command::new(std::env::current_exe().expect("the benchmark's path"))
            .env(CHILD, max_tasks.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the simulator's process starts");
        let mut address = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut address)
            .expect("the simulator says where it listens");
        let uri = format!("http://{}", address.trim());
        let proc = Proc::open(&child.id().to_string());
        Sim::Child { child, uri, proc }
    }

    pub fn uri(&self) -> String {
        match self {
            Sim::InProcess(handle) => handle.uri(),
            Sim::Child { uri, .. } => uri.clone(),
        }
    }

    /// The child's peak resident memory (kB) and CPU time so far.
    pub fn usage(&self) -> Option<(u64, Duration)> {
        match self {
            Sim::InProcess(_) => None,
            Sim::Child { proc, .. } => Some((proc.status_kb("VmHWM:"), proc.cpu_time())),
        }
    }

    /// Stops the simulator; a child is told by closing its stdin.
    pub fn stop(self) {
        if let Sim::Child { mut child, .. } = self {
            drop(child.stdin.take());
            child.wait().expect("the simulator's process ends");
        }
    }
}

fn config(max_tasks: usize) -> SimConfig {
    SimConfig {
        rate_limit: None,
        max_concurrent_tasks: NonZeroUsize::new(max_tasks).expect("not zero"),
        ..SimConfig::default()
    }
}

/// In the child: serves the simulator until stdin closes, and returns
/// true; in the benchmark itself, returns false at once.
pub fn serve_if_child() -> bool {
    let Ok(max_tasks) = std::env::var(CHILD) else {
        return false;
    };
    let max_tasks: usize = max_tasks.parse().expect("a task count");
    // The runtime `recplan sim` builds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the runtime builds");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config(max_tasks).listen)
            .await
            .expect("the simulator binds");
        println!("{}", listener.local_addr().expect("an address"));
        let closed = tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        });
        let shutdown = async {
            let _ = closed.await;
        };
        sim::serve(listener, config(max_tasks), shutdown)
            .await
            .expect("the simulator serves");
    });
    true
}
