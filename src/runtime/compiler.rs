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
    // Killed by a signal (the allocator aborts) is typed; but a compiler that fails to map memory
    // under its address-space cap reports an error whose cause is an untyped OS error inside
    // wasmtime (a rustix errno behind `anyhow`), so its line is still recognised by its text.
    let why = lines.last().copied().unwrap_or("").trim_start_matches("nnhost: ").to_string();
    // A compiler out of address space aborts: the allocator's line says so, then the panic
    // machinery's own notes follow; report the allocator's line, not the last one.
    let oom = lines.iter().find(|l| l.contains("memory allocation") || l.contains("out of memory") || l.contains("Cannot allocate memory"));
    if oom.is_some() || status.code().is_none() {
        anyhow::bail!(
            "compiling the component needed more than {memory} bytes of memory (limit compile_memory_bytes){}",
            oom.map(|l| format!(": {}", l.trim_start_matches("nnhost: "))).unwrap_or_default()
        );
    }
    anyhow::bail!("{}", if why.is_empty() { format!("the compiler failed ({status})") } else { why })
}
