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
        for path in ["native", "guest_compute", "guest_classify", "native_preprocess", "guest_preprocess"] {
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

#[test]
fn bench_job_compares_nnhost_native_and_python_on_a_folder() {
    if !crate::util::ensure_real_models() {
        return;
    }
    let dir = tempdir();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for p in ["chelsea.png", "coffee.png", "rocket.jpg"] {
        std::fs::copy(crate::util::root().join("fixtures/photos").join(p), images.join(p)).unwrap();
    }
    let plot = dir.path().join("job.svg");
    let r = run(&[
        "bench",
        "--job",
        images.to_str().unwrap(),
        "-m",
        "mobilenet-v2",
        "-b",
        "onnxruntime",
        "--rounds",
        "1",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let job = &v["jobs"][0];
    assert_eq!(job["images"], 3);
    let results = job["results"].as_array().unwrap();
    let pipelines: Vec<&str> = results.iter().map(|x| x["pipeline"].as_str().unwrap()).collect();
    for p in ["nnhost", "native", "python"] {
        assert!(pipelines.contains(&p), "{pipelines:?}");
    }
    for x in results {
        let (wall, ips, rss) =
            (x["wall_s"].as_f64().unwrap(), x["images_per_second"].as_f64().unwrap(), x["peak_rss_mib"].as_f64().unwrap());
        assert!(wall > 0.0 && (ips - 3.0 / wall).abs() < 1e-6 && rss > 10.0, "{x}");
    }
    assert!(std::fs::read_to_string(&plot).unwrap().matches("<rect").count() > results.len());
    // An empty folder is a usage error, not a crash.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let r = run(&["bench", "--job", empty.to_str().unwrap(), "-m", "mobilenet-v2", "-b", "onnxruntime"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no .png or .jpg images"), "{}", r.stderr);
}
