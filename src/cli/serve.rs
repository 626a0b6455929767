//! `nnhost serve`: parse the flags, load the plugins and the models, hand over to `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{Cli, Fatal};
use crate::backends::Parallelism;
use crate::plugins::{load_guest, World};
use crate::registry::GraphStore;
use crate::serve::limits::{ServeLimits, DEFAULT_MAX_BUFFERED_BYTES};
use crate::serve::models::{self, BackendChoice, Plugins};

#[derive(Args, Debug)]
#[command(long_about = "Serve every model of the models folder over the Open Inference Protocol (KServe v2, as Triton, \
                  KServe and MLServer speak it): REST on --http and gRPC on --grpc. Each model M is served as raw \
                  tensors through the tensor-runner plugin, and each image-classification model also as \
                  M-classify (input `image`: encoded PNG/JPEG as BYTES; outputs `label`, `score`, `index`; \
                  parameter `top_k`). Every task plugin of the plugins folder is served under its name with the \
                  signature it declares (see `nnhost plugins`). Every request runs in a fresh sandboxed instance under the limits. Prints \
                  one JSON event per line on stdout (listening, ready, stopped); SIGTERM or SIGINT drains and exits 0. \
                  Open the REST address in a browser to try the models on an image.")]
pub struct ServeArgs {
    /// REST address (use 0.0.0.0:8000 in a container).
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    pub http: SocketAddr,
    /// gRPC address.
    #[arg(long, default_value = "127.0.0.1:8001", value_name = "ADDR")]
    pub grpc: SocketAddr,
    /// Inference backend for every model that --model-backend and its manifest do not place.
    #[arg(long, short, default_value = "tract", value_name = "NAME")]
    pub backend: String,
    /// Run one model (a models-folder name; its M-classify goes with it) or task plugin on BACKEND
    /// (repeatable; beats a manifest's `backend = "..."`).
    #[arg(long = "model-backend", value_name = "NAME=BACKEND")]
    pub model_backend: Vec<String>,
    /// Serve only this model (repeatable) [default: every model of the models folder].
    #[arg(long = "model", short = 'm', value_name = "NAME")]
    pub model: Vec<String>,
    /// Requests running at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    pub max_concurrency: Option<usize>,
    /// Requests waiting for a slot before new ones are turned away (HTTP 503, gRPC UNAVAILABLE).
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub queue: usize,
    /// Largest request body (REST) or message (gRPC) [default: the input_bytes limit, 64 MiB].
    #[arg(long, value_name = "BYTES")]
    pub max_request_bytes: Option<usize>,
    /// Image-classifier plugin for the -classify models instead of the built-in one.
    #[arg(long, value_name = "FILE.wasm")]
    pub classifier: Option<PathBuf>,
    /// Most request bytes the server holds at once, all connections and both protocols together;
    /// beyond that requests get HTTP 503 / gRPC RESOURCE_EXHAUSTED [default: 536870912, or
    /// --max-request-bytes when larger].
    #[arg(long, value_name = "BYTES")]
    pub max_buffered_bytes: Option<usize>,
    /// Seconds a REST client may take to send a request's headers (and keep an idle connection).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub header_timeout: u64,
    /// Seconds a client may take to send a request body (REST) or message (gRPC).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub body_timeout: u64,
    /// Largest response body (REST) or message (gRPC); a larger one is refused (HTTP 413 / gRPC
    /// RESOURCE_EXHAUSTED).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_response_bytes: usize,
    /// Longest one request may run once admitted, all its images together (each image is also
    /// bounded by --deadline-ms); past it the rest are not run (HTTP 504 / gRPC DEADLINE_EXCEEDED).
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub request_deadline_ms: u64,
    /// Seconds a shutdown (SIGTERM, SIGINT) waits for requests in flight and open connections before
    /// it closes them.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub drain_timeout: u64,
    /// Log one JSON line per request on stderr.
    #[arg(long)]
    pub log_requests: bool,
}

pub fn run(cli: &Cli, args: &ServeArgs) -> Result<u8, Fatal> {
    let backend = cli.backend(&args.backend)?;
    let limits = cli.limits()?;
    let plan = Parallelism::for_this_machine(usize::MAX, args.max_concurrency, cli.threads);
    let dir = cli.models_dir()?;
    // One pooled instance slot per request that may run at once (plus one spare), each sized for
    // the largest plugin served: the built-in ones, a --classifier file, every installed task plugin
    // (every one installed, unless only some models were asked for).
    let task_dir = if args.model.is_empty() {
        crate::registry::PluginsDir::open(crate::registry::PluginsDir::resolve(cli.plugins.as_deref())).ok()
    } else {
        None
    };
    let mut components: Vec<std::borrow::Cow<'static, [u8]>> =
        vec![World::TensorRunner.built_in().unwrap_or_default().into(), World::Classifier.built_in().unwrap_or_default().into()];
    if let Some(file) = &args.classifier {
        // Unreadable: load_guest below says why.
        components.extend(crate::input::read_limited(file, limits.component_bytes as u64, "component_bytes").ok().map(Into::into));
    }
    for name in task_dir.as_ref().map(|t| t.list()).unwrap_or_default() {
        // A plugin that cannot be read is reported (and left out) when the models load.
        let info = task_dir.as_ref().and_then(|t| t.plugin(&name).ok());
        components.extend(info.and_then(|i| crate::plugins::task::component_bytes(&i, limits.component_bytes as u64).ok()));
    }
    let binaries: Vec<&[u8]> = components.iter().map(|c| c.as_ref()).collect();
    let runtime = cli.runtime_for(cli.cache_dir(), Some(plan.jobs as u32 + 1), Some(&binaries))?;
    drop(components);
    let plugins = Plugins {
        tensor_runner: load_guest(&runtime, World::TensorRunner, None).map_err(Fatal)?,
        classifier: load_guest(&runtime, World::Classifier, args.classifier.as_deref()).map_err(Fatal)?,
    };
    let mut config = cli.backend_config();
    config.jobs = plan.jobs;
    config.threads = Some(plan.threads);
    let names = args.model.clone();
    let tasks = task_dir;
    let backends = backend_choice(cli, args, backend, &dir, tasks.as_ref())?;
    let max_request_bytes = args.max_request_bytes.unwrap_or(limits.input_bytes as usize);
    let max_buffered_bytes = match args.max_buffered_bytes {
        Some(n) if n < max_request_bytes => {
            return Err(Fatal(format!(
            "--max-buffered-bytes {n} is less than --max-request-bytes {max_request_bytes}: no request of the largest size could be read"
        )))
        }
        Some(n) => n,
        None => DEFAULT_MAX_BUFFERED_BYTES.max(max_request_bytes),
    };
    let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
    let opts = crate::serve::Options {
        http: args.http,
        grpc: args.grpc,
        max_concurrency: plan.jobs,
        queue: args.queue,
        log_requests: args.log_requests,
        limits: ServeLimits {
            max_request_bytes,
            max_buffered_bytes,
            header_timeout: secs(args.header_timeout),
            body_timeout: secs(args.body_timeout),
            max_response_bytes: args.max_response_bytes,
            request_deadline: std::time::Duration::from_millis(args.request_deadline_ms.max(1)),
            drain_timeout: secs(args.drain_timeout),
        },
    };
    eprintln!(
        "nnhost serve: {backend}, {} requests at once x {} engine threads, queue {}; models from {}",
        plan.jobs,
        plan.threads,
        args.queue,
        dir.root().display()
    );
    crate::serve::run(opts, backend, move || {
        let graphs = GraphStore::with_config(config);
        models::load(&runtime, &plugins, &dir, &names, tasks.as_ref(), &backends, &graphs)
    })
    .map_err(Fatal)?;
    Ok(0)
}

/// `--model-backend NAME=BACKEND`, each naming a model or plugin that is served and a backend
/// that is available here.
fn backend_choice(
    cli: &Cli,
    args: &ServeArgs,
    default: crate::backends::BackendKind,
    dir: &crate::registry::ModelsDir,
    tasks: Option<&crate::registry::PluginsDir>,
) -> Result<BackendChoice, Fatal> {
    let mut choice = BackendChoice::all(default);
    let served: Vec<String> = if args.model.is_empty() { dir.list() } else { args.model.clone() }
        .into_iter()
        .chain(tasks.map(|t| t.list()).unwrap_or_default())
        .collect();
    for pair in &args.model_backend {
        let Some((name, backend)) = pair.split_once('=') else {
            return Err(Fatal(format!("--model-backend `{pair}`: expected NAME=BACKEND (e.g. mobilenet-v2=openvino)")));
        };
        if !served.iter().any(|s| s == name) {
            return Err(Fatal(format!("--model-backend `{pair}`: no model or plugin `{name}` is served (served: {})", served.join(", "))));
        }
        let backend = cli.backend(backend).map_err(|Fatal(e)| Fatal(format!("--model-backend `{pair}`: {e}")))?;
        choice.named.insert(name.to_string(), backend);
    }
    Ok(choice)
}
