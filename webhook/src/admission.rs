//! The admission decision: an AdmissionReview in, an AdmissionResponse out,
//! using core's reference policy against an inventory. No I/O here.

use std::borrow::Cow;
use std::str::FromStr;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionResponse, AdmissionReview};
use sealgate_core::inventory::Inventory;
use sealgate_core::policy::{self, Finding, Severity};
use sealgate_core::refs::{self, Workload, WorkloadView};
use serde_json::value::RawValue;

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
    /// A workload kind whose object could not be read: denied in enforce mode,
    /// admitted with a warning in warn mode.
    Unreadable,
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
            Verdict::Unreadable => "unreadable",
            Verdict::Invalid => "invalid",
        }
    }
}

/// The AdmissionReview sent back.
pub enum Reply {
    /// Allowed with nothing to say, as most reviews are: written out at once, as
    /// kube writes the same review.
    Allowed(Vec<u8>),
    /// Any other answer.
    Review(Box<AdmissionReview<DynamicObject>>),
}

impl Reply {
    /// The allow for the request `uid`.
    fn allowed(uid: &str) -> serde_json::Result<Self> {
        const HEAD: &[u8] =
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"#;
        const TAIL: &[u8] = br#","allowed":true,"status":{}}}"#;
        let mut out = Vec::with_capacity(HEAD.len() + uid.len() + 2 + TAIL.len());
        out.extend_from_slice(HEAD);
        serde_json::to_writer(&mut out, uid)?;
        out.extend_from_slice(TAIL);
        Ok(Reply::Allowed(out))
    }

    /// The JSON body.
    pub fn into_json(self) -> serde_json::Result<Vec<u8>> {
        match self {
            Reply::Allowed(json) => Ok(json),
            Reply::Review(review) => serde_json::to_vec(&review),
        }
    }
}

/// The answer plus what metrics need.
pub struct Answer {
    /// The AdmissionReview to send back.
    pub reply: Reply,
    /// Kind of the object as a metrics label (see [`crate::metrics::label_kind`]).
    pub kind: &'static str,
    /// Operation (`CREATE`, `UPDATE`, …).
    pub operation: &'static str,
    /// The verdict.
    pub verdict: Verdict,
}

/// The parts of an AdmissionReview request the decision needs, read by serde
/// straight off the body, borrowing from it. `O` is how the object is read:
/// straight into the typed model, in the one pass every review gets, or as its
/// text, when that pass fails, to tell an object that cannot be read (answered)
/// from a review that cannot (refused).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestBody<'a, O> {
    #[serde(borrow)]
    uid: Cow<'a, str>,
    #[serde(borrow)]
    kind: Gvk<'a>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(default = "Option::default")]
    object: Option<O>,
    /// Needed only on UPDATE, when the new object has findings: kept as text until then.
    #[serde(default, borrow)]
    old_object: Option<&'a RawValue>,
}

#[derive(Debug, serde::Deserialize)]
struct Gvk<'a> {
    #[serde(default, borrow)]
    group: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct ReviewBody<'a, O> {
    #[serde(default = "Option::default", borrow)]
    request: Option<RequestBody<'a, O>>,
}

/// The review's `object` read into the typed model, or why it could not be (kept,
/// so the review is answered rather than refused).
type Object<'a> = Result<WorkloadView<'a>, serde_json::Error>;

/// A parsed request, borrowing its strings and objects from the body.
pub struct Review<'a> {
    /// The whole body, for the rare message that quotes the object.
    body: &'a str,
    uid: Cow<'a, str>,
    kind: Cow<'a, str>,
    name: Cow<'a, str>,
    namespace: Cow<'a, str>,
    operation: &'static str,
    api_version: Cow<'a, str>,
    object: Option<Object<'a>>,
    old_object: Option<&'a RawValue>,
}

/// What a review is about, for the decision: read once, before key names are fetched.
#[allow(
    clippy::large_enum_variant,
    reason = "one per request, on the stack; boxing would add an allocation to every review"
)]
pub enum Subject {
    /// Not checked: another kind or operation, or mode `off`.
    Skipped,
    /// A checked kind whose object could not be read: the message says why.
    Unreadable(String),
    /// A checked kind whose object is not even JSON serde_json reads (the API
    /// server never sends such text): refused in every mode.
    Malformed(String),
    /// A workload, with its old version on UPDATE.
    Workload {
        /// The object as it would be stored.
        new: Workload,
        /// The object as it is (UPDATE), when it reads as a workload.
        old: Option<Workload>,
    },
}

impl Subject {
    /// The Secrets (namespace, name) the new object needs particular keys of, so the
    /// caller can fetch key names the caches do not have before deciding. A reference
    /// to a whole Secret needs no key names.
    pub fn key_level_secrets(&self) -> Vec<(String, String)> {
        let Subject::Workload { new, .. } = self else {
            return Vec::new();
        };
        new.refs
            .iter()
            .filter(|r| !r.secret.is_empty() && r.key.is_some())
            .map(|r| (new.namespace.clone(), r.secret.clone()))
            .collect()
    }
}

/// `group/version`, or `version` for the core group; the workload groups' without
/// allocating.
fn api_version<'a>(group: Cow<'a, str>, version: Cow<'a, str>) -> Cow<'a, str> {
    const WORKLOAD_GROUPS: [&str; 2] = ["apps/v1", "batch/v1"];
    if group.is_empty() {
        return version;
    }
    WORKLOAD_GROUPS
        .into_iter()
        .find(|known| known.split_once('/') == Some((&group, &version)))
        .map_or_else(|| Cow::Owned(format!("{group}/{version}")), Cow::Borrowed)
}

/// Why a body is not an AdmissionReview at all (answered with HTTP 400).
#[derive(Debug, thiserror::Error)]
#[error("request body is not an AdmissionReview: {0}")]
pub struct BadReview(String);

impl<'a> Review<'a> {
    /// Parses a request body; `Ok(Err(answer))` for a review without a request.
    pub fn parse(body: &'a [u8]) -> Result<Result<Review<'a>, Answer>, BadReview> {
        // Checked as UTF-8 once here rather than string by string in the parser.
        let body = std::str::from_utf8(body).map_err(|e| BadReview(format!("not UTF-8: {e}")))?;
        let review = match serde_json::from_str::<ReviewBody<'a, WorkloadView<'a>>>(body) {
            Ok(review) => review.request.map(|req| Review::new(body, req, Ok)),
            // The body again, the object as text this time: either the review cannot be
            // read (refused), or the object cannot, and reading it alone says why.
            Err(_) => serde_json::from_str::<ReviewBody<'a, &'a RawValue>>(body)
                .map_err(|e| BadReview(first_part(&e)))?
                .request
                .map(|req| Review::new(body, req, |text| serde_json::from_str(text.get()))),
        };
        Ok(review.ok_or_else(|| Answer {
            reply: Reply::Review(Box::new(
                AdmissionResponse::invalid("AdmissionReview has no request").into_review(),
            )),
            kind: "",
            operation: "",
            verdict: Verdict::Invalid,
        }))
    }

    fn new<O>(body: &'a str, req: RequestBody<'a, O>, object: impl FnOnce(O) -> Object<'a>) -> Self {
        let operation = match &*req.operation {
            "CREATE" => "CREATE",
            "UPDATE" => "UPDATE",
            "DELETE" => "DELETE",
            "CONNECT" => "CONNECT",
            _ => "UNKNOWN",
        };
        let api_version = api_version(req.kind.group, req.kind.version);
        let namespace = req
            .namespace
            .filter(|n| !n.is_empty())
            .unwrap_or(Cow::Borrowed("default"));
        Review {
            body,
            uid: req.uid,
            kind: req.kind.kind,
            name: req.name.unwrap_or_default(),
            namespace,
            operation,
            api_version,
            object: req.object.map(object),
            old_object: req.old_object,
        }
    }

    /// The object's text, found again in the body (only messages about an object
    /// that is not a workload quote it).
    fn object_text(&self) -> Option<&'a str> {
        let review = serde_json::from_str::<ReviewBody<'a, &'a RawValue>>(self.body).ok()?;
        Some(review.request?.object?.get())
    }

    /// Namespace of the request.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether `mode` checks this review at all: CREATE or UPDATE of a workload kind.
    fn checked(&self, mode: Mode) -> bool {
        matches!(self.operation, "CREATE" | "UPDATE")
            && mode != Mode::Off
            && refs::pod_spec_path(&self.api_version, &self.kind).is_some()
    }

    fn answer(&self, response: AdmissionResponse, verdict: Verdict) -> Answer {
        self.reply(Reply::Review(Box::new(response.into_review())), verdict)
    }

    /// Allowed with nothing to say.
    fn allowed(&self, verdict: Verdict) -> Answer {
        match Reply::allowed(&self.uid) {
            Ok(reply) => self.reply(reply, verdict),
            // Writing a string into memory does not fail; should it, kube's writer answers.
            Err(_) => self.answer(self.response(), verdict),
        }
    }

    fn reply(&self, reply: Reply, verdict: Verdict) -> Answer {
        Answer {
            reply,
            kind: crate::metrics::label_kind(&self.kind),
            operation: self.operation,
            verdict,
        }
    }

    /// Reads the workload(s) the review is about, when `mode` checks them.
    pub fn subject(&self, mode: Mode) -> Subject {
        if !self.checked(mode) {
            return Subject::Skipped;
        }
        let (kind, namespace) = (&self.kind, &self.namespace);
        let message = |why: &str| {
            format!(
                "{kind} {namespace}/{}: the object could not be read, so its Secrets cannot be checked: {why}",
                self.name
            )
        };
        let unreadable = |why: &str| Subject::Unreadable(message(why));
        let Some(object) = &self.object else {
            return unreadable("the request has no object");
        };
        let type_ = (&*self.api_version, &**kind);
        let view = match object {
            Ok(view) => view,
            // Text serde_json cannot read (the API server never sends it): refused in every mode.
            Err(e) if e.is_syntax() || e.is_eof() => {
                let why = format!("it is not JSON that can be read ({})", first_part(e));
                return Subject::Malformed(message(&why));
            }
            // JSON the model does not read (a repeated field): the deserialization error.
            Err(e) => return unreadable(&first_part(e)),
        };
        match view.extract(type_, namespace) {
            Ok(Some(new)) => Subject::Workload {
                new,
                // An old object that does not read is left out: the update is then
                // judged as a creation, which blocks more, never less.
                old: self
                    .old_object
                    .and_then(|o| refs::extract_json(o.get(), type_, namespace).ok().flatten()),
            },
            // Not a JSON object, or one that says it is of a kind sealgate does not check.
            Ok(None) => unreadable(&other_type(self.object_text(), type_)),
            Err(e) if e.field.is_empty() => unreadable(&other_type(self.object_text(), type_)),
            Err(e) => unreadable(&format!("not a valid {kind}: {e}")),
        }
    }

    fn response(&self) -> AdmissionResponse {
        let mut response = AdmissionResponse::invalid("");
        response.uid = self.uid.to_string();
        response.allowed = true;
        response.result = Default::default();
        response
    }

    /// Decides about `subject` (from [`Review::subject`] with the same `mode`, the
    /// namespace's or the default).
    pub fn decide(&self, subject: &Subject, inventory: &dyn Inventory, mode: Mode) -> Answer {
        // Built only for a reply with something to say: an allow is written out directly.
        let response = || self.response();
        let answer = |response, verdict| self.answer(response, verdict);
        let (workload, old_workload) = match subject {
            Subject::Skipped => return self.allowed(Verdict::Skipped),
            Subject::Unreadable(message) => {
                return match mode {
                    Mode::Warn => answer(
                        with_warnings(
                            response(),
                            vec![format!("{message} [admitted: namespace in warn mode]")],
                        ),
                        Verdict::Unreadable,
                    ),
                    _ => answer(response().deny(message), Verdict::Unreadable),
                };
            }
            Subject::Malformed(message) => return answer(response().deny(message), Verdict::Unreadable),
            Subject::Workload { new, old } => (new, old.as_ref()),
        };
        let (blocking, mut warnings) = findings(workload, old_workload, inventory);

        if let Some(reason) = policy::exemption(workload) {
            let mut all: Vec<String> = blocking.iter().map(|f| line(workload, f)).collect();
            all.append(&mut warnings);
            all.insert(
                0,
                format!(
                    "{}: exempt from sealgate's Secret check: {reason}",
                    workload.describe()
                ),
            );
            return answer(with_warnings(response(), all), Verdict::Warned);
        }
        let problems: Vec<String> = blocking.iter().map(|f| line(workload, f)).collect();
        match (problems.is_empty(), mode) {
            (true, _) if warnings.is_empty() => self.allowed(Verdict::Allowed),
            (true, _) => answer(with_warnings(response(), warnings), Verdict::Warned),
            (false, Mode::Warn) => {
                let mut all: Vec<String> = problems
                    .into_iter()
                    .map(|p| format!("{p} [admitted: namespace in warn mode]"))
                    .collect();
                all.append(&mut warnings);
                answer(with_warnings(response(), all), Verdict::Warned)
            }
            (false, _) => {
                let message = problems.join("\n");
                answer(with_warnings(response(), warnings).deny(message), Verdict::Denied)
            }
        }
    }
}

/// A serde_json error without its position (the body is one line).
fn first_part(e: &serde_json::Error) -> String {
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_owned()
}

/// Why `text`, JSON that is not read as a workload, is not one: not a JSON object,
/// or one whose type is not the request's.
fn other_type(text: Option<&str>, (api_version, kind): (&str, &str)) -> String {
    let map = match serde_json::from_str::<serde_json::Value>(text.unwrap_or_default()) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(other) => return format!("it is {}, not a JSON object", json_shape(&other)),
        Err(_) => return "it is not a JSON object".to_owned(),
    };
    let said = |field: &str| match map.get(field) {
        Some(serde_json::Value::String(s)) => format!("{s:?}"),
        Some(other) => json_shape(other).to_owned(),
        None => "none".to_owned(),
    };
    format!(
        "its apiVersion ({}) and kind ({}) are not those of the request ({api_version} {kind})",
        said("apiVersion"),
        said("kind")
    )
}

fn json_shape(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a JSON object",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowed_reply_is_written_as_kube_writes_it() {
        for uid in [
            "705ab4f5-6393-11e8-b7cc-42010a800002",
            "",
            "quote\" back\\slash \u{e9} \n",
        ] {
            let mut response = AdmissionResponse::invalid("");
            response.uid = uid.to_owned();
            response.allowed = true;
            response.result = Default::default();
            let kube = serde_json::to_vec(&response.into_review()).unwrap();
            let ours = Reply::allowed(uid).unwrap().into_json().unwrap();
            assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(kube).unwrap());
        }
    }

    #[test]
    fn api_versions_join_group_and_version() {
        for (group, version, joined) in [
            ("", "v1", "v1"),
            ("apps", "v1", "apps/v1"),
            ("batch", "v1", "batch/v1"),
            ("apps", "v1beta2", "apps/v1beta2"),
            ("example.com", "v1", "example.com/v1"),
        ] {
            assert_eq!(api_version(group.into(), version.into()), joined);
        }
    }
}
