//! The process series every Prometheus client library exports
//! (`process_*`, unprefixed, read from `/proc/self` at scrape time) and
//! `feedgate_build_info`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Linux reports `/proc/*/stat` times in USER_HZ, which is 100.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Default)]
pub struct Process {
    cpu: Counter<f64, AtomicU64>,
    resident: Gauge,
    virtual_bytes: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    start: Gauge<f64, AtomicU64>,
}

/// What `/proc/self` says now (`None` where it cannot be read).
#[derive(Debug, Default, PartialEq)]
pub struct Reading {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub start_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

impl Process {
    /// Register the `process_*` series on `root` (no prefix) and the build
    /// info on `prefixed`.
    pub fn register(root: &mut Registry) -> Process {
        let p = Process::default();
        root.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            p.cpu.clone(),
        );
        root.register(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            p.resident.clone(),
        );
        root.register(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            p.virtual_bytes.clone(),
        );
        root.register(
            "process_open_fds",
            "Number of open file descriptors",
            p.open_fds.clone(),
        );
        root.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            p.max_fds.clone(),
        );
        root.register(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            p.start.clone(),
        );
        p
    }

    /// Set the series from a [`Reading`] (the CPU counter only moves forward).
    pub fn update(&self, r: &Reading) {
        let set = |g: &Gauge, v: Option<u64>| {
            if let Some(v) = v {
                g.set(i64::try_from(v).unwrap_or(i64::MAX));
            }
        };
        set(&self.resident, r.resident_bytes);
        set(&self.virtual_bytes, r.virtual_bytes);
        set(&self.open_fds, r.open_fds);
        set(&self.max_fds, r.max_fds);
        if let Some(s) = r.start_seconds {
            self.start.set(s);
        }
        if let Some(total) = r.cpu_seconds {
            let delta = total - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
        }
    }
}

/// `feedgate_build_info{version}` (always 1).
pub fn build_info(prefixed: &mut Registry) {
    let info = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
    prefixed.register("build", "The feedgate build that answers", info);
}

/// Read `/proc/self` (and `/proc/stat` for the boot time).
pub fn read() -> Reading {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let boot = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    parse(&stat, &boot, &status, &limits, open_fds)
}

/// [`read`] from the files' texts.
pub fn parse(stat: &str, boot: &str, status: &str, limits: &str, open_fds: Option<u64>) -> Reading {
    // Fields after the command, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // `rest` starts at field 3 (state): field N is at N - 3.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let cpu_seconds = match (field(14), field(15)) {
        (Some(u), Some(s)) => Some((u + s) as f64 / TICKS_PER_SECOND),
        _ => None,
    };
    let btime = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok());
    let start_seconds = match (btime, field(22)) {
        (Some(b), Some(t)) => Some(b as f64 + t as f64 / TICKS_PER_SECOND),
        _ => None,
    };
    let resident_bytes = status
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024);
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok());
    Reading {
        cpu_seconds,
        resident_bytes,
        virtual_bytes: field(23),
        start_seconds,
        open_fds,
        max_fds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read() {
        let stat =
            "4242 (feed gate) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 12345 \
                    104857600 2560 18446744073709551615";
        let r = parse(
            stat,
            "cpu  1 2 3\nbtime 1780000000\n",
            "Name:\tfeedgate\nVmRSS:\t   10240 kB\n",
            "Limit                     Soft Limit           Hard Limit           Units\n\
             Max open files            65536                65536                files\n",
            Some(12),
        );
        assert_eq!(
            r,
            Reading {
                cpu_seconds: Some(3.0),
                resident_bytes: Some(10 * 1024 * 1024),
                virtual_bytes: Some(104_857_600),
                start_seconds: Some(1_780_000_123.45),
                open_fds: Some(12),
                max_fds: Some(65536),
            }
        );
        assert_eq!(parse("", "", "", "", None), Reading::default());
    }
}
