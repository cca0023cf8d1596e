//! CPU a process has spent, from Linux's scheduler statistics: the first
//! field of `/proc/<pid>/task/<tid>/schedstat` is a thread's time on a CPU in
//! nanoseconds. Summed over the threads alive when read: the runtime's
//! worker and blocking threads outlive init, so none of init's is missed.

use std::time::Duration;

pub fn spent_by(pid: u32) -> Result<Duration, String> {
    let tasks = format!("/proc/{pid}/task");
    let entries = std::fs::read_dir(&tasks).map_err(|e| format!("{tasks}: {e}"))?;
    let mut nanos: u64 = 0;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{tasks}: {e}"))?
            .path()
            .join("schedstat");
        // A thread that ended between the listing and the read spent
        // nothing more that this reading could count.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let on_cpu = text
            .split_whitespace()
            .next()
            .and_then(|field| field.parse::<u64>().ok())
            .ok_or_else(|| format!("{}: no time on CPU in {text:?}", path.display()))?;
        nanos = nanos.saturating_add(on_cpu);
    }
    Ok(Duration::from_nanos(nanos))
}
