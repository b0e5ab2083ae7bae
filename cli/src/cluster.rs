//! Reaching the cluster from the command line: whether a kubeconfig is at hand,
//! the async runtime for one call, and the controller's recipients. Used by the
//! controller commands and by recipient resolution (`seal --fetch`) alike.

use anyhow::{Context, Result};
use sealgate_cluster::ControllerService;
use sealgate_core::RecipientSet;

use crate::args::ControllerArgs;

impl ControllerArgs {
    pub(crate) fn service(&self) -> ControllerService {
        ControllerService {
            namespace: self.controller_namespace.clone(),
            name: self.controller_name.clone(),
            port: self.controller_port.clone(),
        }
    }
}

/// Whether a kubeconfig is at hand (KUBECONFIG names an existing file, or ~/.kube/config exists):
/// then `seal` without recipients fetches them from the controller.
pub fn kubeconfig_present(args: &ControllerArgs) -> bool {
    if args.kubeconfig.is_some() {
        return true;
    }
    if let Some(paths) = std::env::var_os("KUBECONFIG") {
        return std::env::split_paths(&paths).any(|p| p.is_file());
    }
    std::env::home_dir().is_some_and(|h| h.join(".kube/config").is_file())
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The controller's recipients (active key first, then recovery recipients).
pub fn fetch(args: &ControllerArgs) -> Result<RecipientSet> {
    runtime()?.block_on(async {
        let client = sealgate_cluster::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        Ok(sealgate_cluster::fetch_recipients(&client, &args.service()).await?)
    })
}
