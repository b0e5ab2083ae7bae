//! The admission decision: an AdmissionReview in, an AdmissionResponse out,
//! using core's reference policy against an inventory. No I/O here.

use std::str::FromStr;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionResponse, AdmissionReview};
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

/// The parts of an AdmissionReview request the decision needs, parsed once.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestBody {
    uid: String,
    kind: Gvk,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: String,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
}

#[derive(serde::Deserialize)]
struct Gvk {
    #[serde(default)]
    group: String,
    version: String,
    kind: String,
}

#[derive(serde::Deserialize)]
struct ReviewBody {
    #[serde(default)]
    request: Option<RequestBody>,
}

/// A parsed request: the workload it carries, extracted once.
pub struct Review {
    uid: String,
    kind: String,
    name: String,
    namespace: String,
    operation: &'static str,
    api_version: String,
    object: Option<Value>,
    old_object: Option<Value>,
}

/// Why a body is not an AdmissionReview at all (answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
#[error("request body is not an AdmissionReview: {0}")]
pub struct BadReview(String);

impl Review {
    /// Parses a request body; `Ok(Err(answer))` for a review without a request.
    pub fn parse(body: &[u8]) -> Result<Result<Review, Answer>, BadReview> {
        let review: ReviewBody = serde_json::from_slice(body).map_err(|e| {
            let text = e.to_string();
            BadReview(text.split(" at line ").next().unwrap_or(&text).to_owned())
        })?;
        let Some(req) = review.request else {
            return Ok(Err(Answer {
                review: AdmissionResponse::invalid("AdmissionReview has no request").into_review(),
                kind: String::new(),
                operation: "",
                verdict: Verdict::Invalid,
            }));
        };
        let operation = match req.operation.as_str() {
            "CREATE" => "CREATE",
            "UPDATE" => "UPDATE",
            "DELETE" => "DELETE",
            "CONNECT" => "CONNECT",
            _ => "UNKNOWN",
        };
        let api_version = if req.kind.group.is_empty() {
            req.kind.version.clone()
        } else {
            format!("{}/{}", req.kind.group, req.kind.version)
        };
        let namespace = req
            .namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let mut review = Review {
            uid: req.uid,
            kind: req.kind.kind,
            name: req.name,
            namespace,
            operation,
            api_version,
            object: None,
            old_object: None,
        };
        review.object = req.object.map(|o| review.with_type(o));
        review.old_object = req.old_object.map(|o| review.with_type(o));
        Ok(Ok(review))
    }

    /// Namespace of the request.
    pub fn namespace(&self) -> Option<&str> {
        Some(&self.namespace)
    }

    /// Every Secret (namespace, name) the new object references, so the caller can
    /// fetch key names the caches do not have before deciding.
    pub fn referenced_secrets(&self, default_namespace: &str) -> Vec<(String, String)> {
        let Some(object) = &self.object else {
            return Vec::new();
        };
        match refs::extract(object, default_namespace) {
            Ok(Some(w)) => w
                .refs
                .iter()
                .filter(|r| !r.secret.is_empty())
                .map(|r| (w.namespace.clone(), r.secret.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn response(&self) -> AdmissionResponse {
        let mut response = AdmissionResponse::invalid("");
        response.uid = self.uid.clone();
        response.allowed = true;
        response.result = Default::default();
        response
    }

    /// Decides. `mode` is the namespace's (or the default) mode.
    pub fn decide(&self, inventory: &dyn Inventory, mode: Mode) -> Answer {
        let kind = self.kind.clone();
        let operation = self.operation;
        let response = self.response();
        let answer = |response: AdmissionResponse, verdict| Answer {
            review: response.into_review(),
            kind: kind.clone(),
            operation,
            verdict,
        };
        let checked = matches!(operation, "CREATE" | "UPDATE");
        if !checked || mode == Mode::Off || refs::pod_spec_path(&self.api_version, &kind).is_none() {
            return answer(response, Verdict::Skipped);
        }
        let namespace = &self.namespace;
        let Some(object) = &self.object else {
            return answer(response.deny("the request has no object"), Verdict::Invalid);
        };
        let workload = match refs::extract(object, namespace) {
            Ok(Some(w)) => w,
            Ok(None) => return answer(response, Verdict::Skipped),
            Err(e) => {
                let message = format!("{kind} {namespace}/{}: not a valid {kind}: {e}", self.name);
                return answer(response.deny(message), Verdict::Invalid);
            }
        };
        let old_workload = self
            .old_object
            .as_ref()
            .and_then(|o| refs::extract(o, namespace).ok().flatten());
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

    /// Objects in reviews may lack apiVersion/kind/namespace; take them from the request.
    fn with_type(&self, mut object: Value) -> Value {
        if let Some(obj) = object.as_object_mut() {
            obj.entry("apiVersion").or_insert(self.api_version.clone().into());
            obj.entry("kind").or_insert(self.kind.clone().into());
            let meta = obj.entry("metadata").or_insert_with(|| serde_json::json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.entry("namespace").or_insert(self.namespace.clone().into());
            }
        }
        object
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
