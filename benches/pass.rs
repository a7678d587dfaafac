//! Performance of the `incode` binary, run the way splunkd runs it against the local fakes of
//! splunkd and Incode (the same ones the tests use), with medians over several runs:
//!
//! - `incode --scheme`: wall time;
//! - a pass with nothing new: wall time;
//! - a pass over 400 finished interviews, Incode answering in 100 ms, `max_concurrency` 8, and
//!   one over 2,000, 20 ms, `max_concurrency` 16: wall time against the ideal, CPU seconds
//!   (user + sys) per 1,000 enrichments, peak RSS;
//! - the binary's size.
//!
//! `benches/run.sh` builds a shipped binary and runs this with `TA_INCODE_BIN` set to it (and
//! `TA_INCODE_RUNNER` to its emulator), as the integration tests take them (`support::target`);
//! without `TA_INCODE_BIN`, the bench profile's own build of `incode` is measured. A runner such
//! as `perf record -g -o /tmp/perf.data --` runs the native binary under a profiler.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::world::{World, now};

/// What one child process cost.
struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: i64,
    status: i32,
    stderr: String,
}

/// Runs the binary with `args` and `stdin`, and reads its own resource use from wait4(2).
fn measure(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Cost {
    let log = std::env::temp_dir().join(format!("ta-incode-bench-{}.log", std::process::id()));
    let started = Instant::now();
    // Reaped by wait4 below, which also reports the child's own resource use.
    #[allow(clippy::zombie_processes)]
    let mut child = support::command()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start incode");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    // Peak RSS from the child's own VmHWM: wait4's ru_maxrss would also count this bench
    // process, whose memory the child shares between its spawn and its exec.
    let status_file = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(&status_file) {
            // Until its exec, the child is still this bench process.
            let exec_done = status.lines().next() == Some("Name:\tincode");
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
                .filter(|_| exec_done)
            {
                peak = peak.max(kb);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        peak
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `status` and `usage` are valid for writes.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let wall = started.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Cost {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kb: sampler.join().unwrap(),
        status: libc::WEXITSTATUS(status),
        stderr: std::fs::read_to_string(&log).unwrap(),
    }
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs = 5;
    let binary = &support::target().bin;
    println!("binary: {}", binary.display());
    println!(
        "size: {:.2} MB",
        std::fs::metadata(binary).unwrap().len() as f64 / 1e6
    );

    let scheme: Vec<Duration> = (0..50)
        .map(|_| measure(&["--scheme"], b"", &[]).wall)
        .collect();
    println!(
        "--scheme: median wall {:.2} ms (50 runs)",
        ms(median(scheme))
    );

    let empty = World::new("bench-empty");
    let home = empty.dir.join("home");
    let env = [("SPLUNK_HOME", home.to_str().unwrap())];
    measure(&[], empty.document().as_bytes(), &env); // stores the secrets, sets the mark
    let costs: Vec<Cost> = (0..runs)
        .map(|_| measure(&[], empty.document().as_bytes(), &env))
        .collect();
    assert!(costs.iter().all(|c| c.status == 0), "{}", costs[0].stderr);
    println!(
        "pass with nothing new: median wall {:.1} ms, CPU {:.1} ms, peak RSS {:.1} MB ({runs} runs)",
        ms(median(costs.iter().map(|c| c.wall).collect())),
        ms(median(costs.iter().map(|c| c.cpu).collect())),
        median(costs.iter().map(|c| c.max_rss_kb).collect()) as f64 / 1024.0,
    );

    enrichment(400, Duration::from_millis(100), 8, runs);
    enrichment(2_000, Duration::from_millis(20), 16, runs);
}

/// A first pass over `interviews` finished sessions, Incode answering each score request after
/// `latency`, at most `concurrency` in flight: wall time against the ideal (the requests' waiting
/// alone), CPU per 1,000 enrichments, peak RSS.
fn enrichment(interviews: u32, latency: Duration, concurrency: u32, runs: usize) {
    let mut costs = Vec::new();
    for run in 0..runs {
        let mut w = World::new(&format!("bench-{interviews}-{run}"));
        w.set("max_concurrency", &concurrency.to_string());
        *w.incode.latency.lock().unwrap() = latency;
        let t = now();
        for i in 0..interviews {
            w.webhook(
                &format!("b{i:05}"),
                "ONBOARDING_FINISHED",
                (t - 60) as f64 + f64::from(i) / 1000.0,
                t - 30,
            );
        }
        let home = w.dir.join("home");
        let cost = measure(
            &[],
            w.document().as_bytes(),
            &[("SPLUNK_HOME", home.to_str().unwrap())],
        );
        assert_eq!(cost.status, 0, "{}", cost.stderr);
        let summary = cost
            .stderr
            .lines()
            .find(|l| l.contains("event=pass_finished"))
            .unwrap_or_default();
        assert!(
            summary.contains(&format!("enriched={interviews} ")),
            "{}",
            cost.stderr
        );
        if run == 0 {
            println!("  {summary}");
        }
        costs.push(cost);
    }
    let ideal = latency * interviews.div_ceil(concurrency);
    let wall = median(costs.iter().map(|c| c.wall).collect());
    println!(
        "pass over {interviews} interviews ({} ms latency, max_concurrency {concurrency}): median \
         wall {:.0} ms ({:.3} x the ideal {:.0} ms), CPU {:.3} s per 1,000 enrichments, peak RSS \
         {:.1} MB ({runs} runs)",
        latency.as_millis(),
        ms(wall),
        wall.as_secs_f64() / ideal.as_secs_f64(),
        ms(ideal),
        median(costs.iter().map(|c| c.cpu).collect()).as_secs_f64() * 1000.0
            / f64::from(interviews),
        median(costs.iter().map(|c| c.max_rss_kb).collect()) as f64 / 1024.0,
    );
}
