//! The admission decision: an AdmissionReview in, an AdmissionResponse out,
//! using core's reference policy against an inventory. No I/O here.

use std::str::FromStr;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use sealgate_core::inventory::Inventory;
use sealgate_core::policy::{self, Finding, Severity};
use sealgate_core::refs::{self, Workload};
use serde_json::Value;

/// What the webhook does with problems in a namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Deny workloads whose Secrets or keys are missing.
    #[default]
    Enforce,
    /// Admit them with warnings.
    Warn,
    /// Do not check.
    Off,
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "warn" => Ok(Mode::Warn),
            "off" => Ok(Mode::Off),
            other => Err(format!(
                "unknown admission mode {other:?} (expected enforce, warn or off)"
            )),
        }
    }
}

impl Mode {
    /// Name for metrics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Off => "off",
        }
    }
}

/// The outcome, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted with nothing to say.
    Allowed,
    /// Admitted with warnings.
    Warned,
    /// Refused.
    Denied,
    /// Not a workload, or not checked.
    Skipped,
    /// The review itself was unusable.
    Invalid,
}

impl Verdict {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Warned => "warned",
            Verdict::Denied => "denied",
            Verdict::Skipped => "skipped",
            Verdict::Invalid => "invalid",
        }
    }
}

/// The answer plus what metrics need.
pub struct Answer {
    /// The AdmissionReview to send back.
    pub review: AdmissionReview<DynamicObject>,
    /// Kind of the object (empty when unknown).
    pub kind: String,
    /// Operation (`CREATE`, `UPDATE`, …).
    pub operation: &'static str,
    /// The verdict.
    pub verdict: Verdict,
}

/// A parsed request, as far as the decision needs it.
pub struct Review {
    request: AdmissionRequest<DynamicObject>,
}

/// Why a body is not an AdmissionReview at all (answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
#[error("request body is not an AdmissionReview: {0}")]
pub struct BadReview(String);

impl Review {
    /// Parses a request body; `Ok(Err(answer))` for a review without a request.
    pub fn parse(body: &[u8]) -> Result<Result<Review, Answer>, BadReview> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body).map_err(|e| {
            let text = e.to_string();
            BadReview(text.split(" at line ").next().unwrap_or(&text).to_owned())
        })?;
        match review.try_into() {
            Ok(request) => Ok(Ok(Review { request })),
            Err(_) => Ok(Err(Answer {
                review: AdmissionResponse::invalid("AdmissionReview has no request").into_review(),
                kind: String::new(),
                operation: "",
                verdict: Verdict::Invalid,
            })),
        }
    }

    /// Namespace of the request.
    pub fn namespace(&self) -> Option<&str> {
        self.request.namespace.as_deref()
    }

    /// The new object and the old one (UPDATE), as JSON.
    fn objects(&self) -> (Option<Value>, Option<Value>) {
        let to_value = |o: &DynamicObject| serde_json::to_value(o).ok();
        (
            self.request.object.as_ref().and_then(to_value),
            self.request.old_object.as_ref().and_then(to_value),
        )
    }

    /// Every Secret (namespace, name) the new object references, so the caller can
    /// fetch key names the caches do not have before deciding.
    pub fn referenced_secrets(&self, default_namespace: &str) -> Vec<(String, String)> {
        let (Some(object), _) = self.objects() else {
            return Vec::new();
        };
        let object = with_type(object, &self.request);
        match refs::extract(&object, default_namespace) {
            Ok(Some(w)) => w
                .refs
                .iter()
                .filter(|r| !r.secret.is_empty())
                .map(|r| (w.namespace.clone(), r.secret.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Decides. `mode` is the namespace's (or the default) mode.
    pub fn decide(&self, inventory: &dyn Inventory, mode: Mode) -> Answer {
        let req = &self.request;
        let kind = req.kind.kind.clone();
        let operation = match req.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        };
        let response = AdmissionResponse::from(req);
        let answer = |response: AdmissionResponse, verdict| Answer {
            review: response.into_review(),
            kind: kind.clone(),
            operation,
            verdict,
        };
        let checked = matches!(req.operation, Operation::Create | Operation::Update);
        let api_version = if req.kind.group.is_empty() {
            req.kind.version.clone()
        } else {
            format!("{}/{}", req.kind.group, req.kind.version)
        };
        if !checked || mode == Mode::Off || refs::pod_spec_path(&api_version, &kind).is_none() {
            return answer(response, Verdict::Skipped);
        }
        let namespace = req.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let (object, old) = self.objects();
        let Some(object) = object else {
            return answer(response.deny("the request has no object"), Verdict::Invalid);
        };
        let workload = match refs::extract(&with_type(object, req), &namespace) {
            Ok(Some(w)) => w,
            Ok(None) => return answer(response, Verdict::Skipped),
            Err(e) => {
                let message = format!("{kind} {namespace}/{}: not a valid {kind}: {e}", req.name);
                return answer(response.deny(message), Verdict::Invalid);
            }
        };
        let old_workload = old.and_then(|o| refs::extract(&with_type(o, req), &namespace).ok().flatten());
        let (blocking, mut warnings) = findings(&workload, old_workload.as_ref(), inventory);

        if let Some(reason) = policy::exemption(&workload) {
            let mut all: Vec<String> = blocking.iter().map(|f| line(&workload, f)).collect();
            all.append(&mut warnings);
            all.insert(
                0,
                format!(
                    "{}: exempt from sealgate's Secret check: {reason}",
                    workload.describe()
                ),
            );
            return answer(with_warnings(response, all), Verdict::Warned);
        }
        let problems: Vec<String> = blocking.iter().map(|f| line(&workload, f)).collect();
        match (problems.is_empty(), mode) {
            (true, _) if warnings.is_empty() => answer(response, Verdict::Allowed),
            (true, _) => answer(with_warnings(response, warnings), Verdict::Warned),
            (false, Mode::Warn) => {
                let mut all: Vec<String> = problems
                    .into_iter()
                    .map(|p| format!("{p} [admitted: namespace in warn mode]"))
                    .collect();
                all.append(&mut warnings);
                answer(with_warnings(response, all), Verdict::Warned)
            }
            (false, _) => {
                let message = problems.join("\n");
                answer(with_warnings(response, warnings).deny(message), Verdict::Denied)
            }
        }
    }
}

/// Findings that block (errors, on CREATE; on UPDATE only those the update
/// introduces) and the rest as warning lines.
fn findings(
    workload: &Workload,
    old: Option<&Workload>,
    inventory: &dyn Inventory,
) -> (Vec<Finding>, Vec<String>) {
    let (errors_new, existing) = match old {
        Some(old) => {
            let update = policy::evaluate_update(old, workload, inventory);
            (update.introduced, update.existing)
        }
        None => (policy::evaluate(workload, inventory), Vec::new()),
    };
    let mut blocking = Vec::new();
    let mut warnings = Vec::new();
    for f in errors_new {
        match f.severity {
            Severity::Error => blocking.push(f),
            Severity::Warning | Severity::Info => warnings.push(line(workload, &f)),
        }
    }
    for f in existing {
        let mut text = line(workload, &f);
        if f.severity == Severity::Error {
            text.push_str(" [already broken before this update; admitted]");
        }
        warnings.push(text);
    }
    (blocking, warnings)
}

fn line(workload: &Workload, f: &Finding) -> String {
    format!("{}: {}", workload.describe(), f.line())
}

fn with_warnings(mut response: AdmissionResponse, warnings: Vec<String>) -> AdmissionResponse {
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    response
}

/// Objects in reviews may lack apiVersion/kind; take them from the request.
fn with_type(mut object: Value, req: &AdmissionRequest<DynamicObject>) -> Value {
    if let Some(obj) = object.as_object_mut() {
        let api_version = if req.kind.group.is_empty() {
            req.kind.version.clone()
        } else {
            format!("{}/{}", req.kind.group, req.kind.version)
        };
        obj.entry("apiVersion").or_insert(api_version.into());
        obj.entry("kind").or_insert(req.kind.kind.clone().into());
        let ns = obj.entry("metadata").or_insert_with(|| serde_json::json!({}));
        if let (Some(meta), Some(namespace)) = (ns.as_object_mut(), &req.namespace) {
            meta.entry("namespace").or_insert(namespace.clone().into());
        }
    }
    object
}
