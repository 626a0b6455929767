//! `nnhost bench` produces a complete report (its numbers are checked by reading BENCHMARKS.md,
//! never by timed tests).

use crate::backends::backends;
use crate::util::{run, tempdir};

#[test]
fn bench_reports_every_backend_and_path() {
    let dir = tempdir();
    let plot = dir.path().join("b.svg");
    let r = run(&["bench", "-n", "3", "--warmup", "1", "--process-runs", "1", "--json", "--plot", plot.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let results = v["results"].as_array().unwrap();
    let names: Vec<&str> = results.iter().map(|b| b["backend"].as_str().unwrap()).collect();
    assert_eq!(names, backends().iter().map(|b| b.name()).collect::<Vec<_>>());
    for b in results {
        for path in ["native", "guest_compute", "guest_classify"] {
            let s = &b[path];
            let (min, med, p99) = (s["min_ms"].as_f64().unwrap(), s["median_ms"].as_f64().unwrap(), s["p99_ms"].as_f64().unwrap());
            assert!(min > 0.0 && min <= med && med <= p99, "{path}: {s}");
        }
        for stage in ["compile_ms", "cached_ready_ms", "model_load_ms", "instantiate_ms", "first_result_ms"] {
            assert!(b["cold"][stage].as_f64().unwrap() > 0.0, "{stage}: {b}");
        }
        assert!(b["compute_ratio"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(v["processes"].as_array().unwrap().len(), results.len());
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<rect").count() > 3 * results.len());
    let r = run(&["bench", "-b", "cuda"]);
    assert_eq!(r.code, 2);
}
