//! The reference check of `validate`: build the inventory from what the inputs
//! provide (and what `.sealgate.yaml` declares), then run core's policy on
//! every workload.

use anyhow::{Context, Result};
use sealgate_core::inventory::{Declaration, MemoryInventory};
use sealgate_core::policy::{self, Severity as PolicySeverity};
use sealgate_core::refs;

use crate::config::Config;
use crate::report::{Finding, Severity};
use crate::validate::{Located, Object, Source};

pub fn check(
    objects: &[Object],
    sources: &[Source],
    config: &Config,
    default_namespace: &str,
    located: &mut Vec<Located>,
) -> Result<()> {
    let mut inventory = MemoryInventory::new();
    for obj in objects {
        inventory.add_object(&obj.doc.value, default_namespace);
    }
    let config_name = config
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
            .with_context(|| format!("{config_name}: externalSecrets[{i}]"))?;
    }

    for (index, obj) in objects.iter().enumerate() {
        let file = &sources[obj.source].name;
        let workload = match refs::extract(&obj.doc.value, default_namespace) {
            Ok(Some(w)) => w,
            Ok(None) => continue,
            Err(e) => {
                let finding = Finding {
                    code: "invalid-workload",
                    severity: Severity::Error,
                    file: file.clone(),
                    line: None,
                    object: Some(obj.describe(default_namespace)),
                    field: Some(e.field.clone()),
                    message: format!("pod spec {}", e.problem),
                };
                located.push((index, Some(e.field), finding));
                continue;
            }
        };
        let exempt = policy::exemption(&workload).map(str::to_owned);
        for f in policy::evaluate(&workload, &inventory) {
            let mut severity = match f.severity {
                PolicySeverity::Error => Severity::Error,
                PolicySeverity::Warning => Severity::Warning,
                PolicySeverity::Info => Severity::Note,
            };
            let mut message = f.message;
            if let Some(reason) = &exempt
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
                object: Some(workload.describe()),
                field: Some(f.field.clone()),
                message,
            };
            located.push((index, Some(f.field), finding));
        }
    }
    Ok(())
}
