//! `nnhost models` and `nnhost backends`: what this host can run.

use clap::Args;
use serde_json::json;

use super::{out, Cli, Fatal};
use crate::backends::BackendKind;

#[derive(Args, Debug)]
pub struct ModelsArgs {
    /// One JSON object per model per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BackendsArgs {
    /// One JSON object per backend per line.
    #[arg(long)]
    pub json: bool,
}

pub fn models(cli: &Cli, args: &ModelsArgs) -> Result<u8, Fatal> {
    let dir = cli.models_dir()?;
    let mut status = 0;
    for name in dir.list() {
        match dir.model(&name) {
            Ok(m) if args.json => out(&json!({
                "name": m.name,
                "file": m.model_file,
                "input": m.manifest.input.name,
                "type": crate::backends::type_name(m.input_type()),
                "layout": m.manifest.input.layout,
                "width": m.manifest.input.width,
                "height": m.manifest.input.height,
                "labels": m.labels.len(),
                "description": m.manifest.description,
            })
            .to_string()),
            Ok(m) => out(&m.to_string()),
            Err(e) => {
                eprintln!("nnhost: {e}");
                status = super::EXIT_FAILURES;
            }
        }
    }
    Ok(status)
}

pub fn backends(cli: &Cli, args: &BackendsArgs) -> Result<u8, Fatal> {
    let cfg = cli.backend_config();
    for b in BackendKind::ALL {
        let a = b.availability(&cfg);
        if args.json {
            out(&serde_json::to_string(&a).expect("serializable"));
        } else if a.available {
            out(&format!(
                "{:<12} available      {:<10} {} ({}); reads {}",
                a.name,
                a.version.as_deref().unwrap_or("?"),
                a.library.as_deref().unwrap_or(""),
                a.source.unwrap_or(""),
                a.encodings.join(", ")
            ));
        } else {
            out(&format!("{:<12} not available  {}", a.name, a.reason.as_deref().unwrap_or("")));
        }
    }
    Ok(0)
}
