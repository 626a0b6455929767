//! Compiling untrusted components in a child process, bounded in time and memory.
//!
//! Cranelift cannot be interrupted, and a hostile component can make it work for a long time and
//! allocate a lot (7 MB of deeply nested blocks took 11 s and 2 GB; 300,000 functions took over
//! 40 s). So nnhost compiles in a child (`nnhost compile-component`, this same executable) whose
//! address space is capped (`compile_memory_bytes`), kills it past `compile_ms`, and only then
//! loads its output. The cache stores entries by atomic rename, so a killed compile leaves none.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Limits;

/// The compiler child's exit code when it ran out of memory (a failed mmap under its cap).
pub const EXIT_OUT_OF_MEMORY: u8 = 3;

/// Whether an error is the OS refusing memory (ENOMEM), by its type anywhere in the chain.
pub fn is_out_of_memory(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<rustix::io::Errno>() == Some(&rustix::io::Errno::NOMEM)
            || c.downcast_ref::<std::io::Error>().is_some_and(|io| io.raw_os_error() == Some(libc::ENOMEM))
    })
}

/// Compile `wasm` with `exe compile-component` (engine flags `flags`) under `limits`; returns the
/// child's `precompile_component` output.
pub fn compile_in_child(exe: &Path, flags: &[String], wasm: &[u8], limits: &Limits) -> anyhow::Result<Vec<u8>> {
    let mut cmd = Command::new(exe);
    cmd.args(flags).arg("compile-component").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let memory = limits.compile_memory_bytes;
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe work between fork and exec: one setrlimit call.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: memory as libc::rlim_t, rlim_max: memory as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| match e.raw_os_error() {
        Some(libc::ENOMEM) | Some(libc::E2BIG) => anyhow::anyhow!(
            "compiling the component needed more than {memory} bytes of memory (limit compile_memory_bytes): the compiler could not start"
        ),
        _ => anyhow::anyhow!("cannot start the compiler {}: {e}", exe.display()),
    })?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let input = wasm.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = (&mut stderr).take(64 << 10).read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let limit = Duration::from_millis(limits.compile_ms);
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let _ = writer.join();
            anyhow::bail!("compiling the component took more than {} ms (limit compile_ms)", limits.compile_ms);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let bytes = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if status.success() {
        return Ok(bytes);
    }
    let lines: Vec<&str> = err.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let why = lines.last().copied().unwrap_or("").trim_start_matches("nnhost: ").to_string();
    // Out of memory is told by how the child ended, never by its text: killed by a signal (the
    // allocator aborts under the address-space cap), or its own exit code for a failed mmap.
    if status.code() == Some(EXIT_OUT_OF_MEMORY as i32) {
        anyhow::bail!(
            "compiling the component needed more than {memory} bytes of memory (limit compile_memory_bytes){}",
            if why.is_empty() { String::new() } else { format!(": {why}") }
        );
    }
    if status.code().is_none() {
        anyhow::bail!("compiling the component needed more than {memory} bytes of memory (limit compile_memory_bytes): the compiler was stopped ({status})");
    }
    anyhow::bail!("{}", if why.is_empty() { format!("the compiler failed ({status})") } else { why })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_is_told_by_type() {
        // wasmtime reports a failed mmap as rustix's errno under context.
        let mmap = wasmtime::Error::from(rustix::io::Errno::NOMEM).context("mmap failed to allocate 0x1000 bytes");
        assert!(is_out_of_memory(&crate::runtime::typed(mmap)));
        let other = wasmtime::Error::from(rustix::io::Errno::INVAL).context("mmap failed");
        assert!(!is_out_of_memory(&crate::runtime::typed(other)));
        assert!(is_out_of_memory(&anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOMEM))));
        assert!(!is_out_of_memory(&anyhow::anyhow!("Cannot allocate memory")));
    }
}
