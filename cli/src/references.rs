//! The reference check of `validate`: declarations from `.sealgate.yaml` go
//! into the inventory, then core's policy runs on every workload once the
//! inventory holds everything the inputs provide.

use anyhow::{Context, Result};
use sealgate_core::inventory::{Declaration, MemoryInventory};
use sealgate_core::policy::{self, Severity as PolicySeverity};
use sealgate_core::refs::{RefError, Workload};

use crate::config::Config;
use crate::inputs::InputPath;
use crate::objects::{Object, Pending};
use crate::report::{Finding, Severity};

/// Adds the Secrets `.sealgate.yaml` declares as created elsewhere.
pub fn declare(config: &Config, inventory: &mut MemoryInventory) -> Result<()> {
    let name = config
        .source
        .as_ref()
        .map_or_else(|| ".sealgate.yaml".to_owned(), |p| p.display().to_string());
    for (i, d) in config.external_secrets.iter().enumerate() {
        inventory
            .declare(Declaration {
                name: d.name.clone(),
                namespace: d.namespace.clone(),
                keys: d.keys.clone().map(|k| k.into_iter().collect()),
                reason: d.reason.clone(),
            })
            .with_context(|| format!("{name}: externalSecrets[{i}]"))?;
    }
    Ok(())
}

/// Runs the policy on every workload; findings wait in `pending` for their lines.
pub fn evaluate(
    workloads: &[(usize, Result<Workload, RefError>)],
    objects: &[Object],
    inputs: &[InputPath],
    inventory: &MemoryInventory,
    pending: &mut Vec<Pending>,
) {
    for (index, workload) in workloads {
        let obj = &objects[*index];
        let file = inputs[obj.source].display();
        let workload = match workload {
            Ok(w) => w,
            Err(e) => {
                let finding = Finding {
                    code: "invalid-workload",
                    severity: Severity::Error,
                    file,
                    line: None,
                    object: Some(obj.describe.clone()),
                    field: Some(e.field.clone()),
                    message: format!("`{}` {}", e.leaf(), e.problem),
                };
                pending.push(Pending {
                    object: *index,
                    field: Some(e.field.clone()),
                    finding,
                });
                continue;
            }
        };
        let exempt = policy::exemption(workload);
        for f in policy::evaluate(workload, inventory) {
            let mut severity = match f.severity {
                PolicySeverity::Error => Severity::Error,
                PolicySeverity::Warning => Severity::Warning,
                PolicySeverity::Info => Severity::Note,
            };
            let mut message = f.message;
            // The webhook admits exempt workloads with a warning; CI says the same.
            if let Some(reason) = exempt
                && severity == Severity::Error
            {
                severity = Severity::Warning;
                message = format!("{message} [exempt: {reason}]");
            }
            let finding = Finding {
                code: f.code,
                severity,
                file: file.clone(),
                line: None,
                object: Some(obj.describe.clone()),
                field: Some(f.field.clone()),
                message,
            };
            pending.push(Pending {
                object: *index,
                field: Some(f.field),
                finding,
            });
        }
    }
}
