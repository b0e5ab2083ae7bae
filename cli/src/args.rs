//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sealgate_core::Scope;

use crate::report::ReportFormat;

/// Seal Kubernetes Secrets so they are safe to commit, and check manifests before they deploy.
#[derive(Debug, Parser)]
#[command(name = "sealgate", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seal a Secret into a SealedSecret that is safe to commit.
    #[command(after_help = SEAL_EXAMPLES)]
    Seal(Box<SealArgs>),
    /// Unseal SealedSecrets with an identity file (recovery path); prints the Secrets.
    #[command(after_help = UNSEAL_EXAMPLES)]
    Unseal(UnsealArgs),
    /// Generate a new age identity and print its recipient.
    #[command(after_help = KEYGEN_EXAMPLES)]
    Keygen(KeygenArgs),
    /// CI gate: check that every Secret and key that workloads reference is provided.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Pre-commit check: fail on plaintext Secrets and .env files.
    #[command(after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Print the sealing recipients published by sealgate-controller.
    #[command(after_help = RECIPIENT_EXAMPLES)]
    Recipient(ControllerArgs),
    /// Ask the cluster whether it can unseal SealedSecrets (no values leave it).
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Re-seal SealedSecrets to the cluster's newest key, inside the cluster.
    #[command(after_help = REENCRYPT_EXAMPLES)]
    Reencrypt(ReencryptArgs),
    /// Turn another tool's SealedSecrets into sealgate's, never writing plaintext.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  sealgate completions bash > /etc/bash_completion.d/sealgate")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

const SEAL_EXAMPLES: &str = "\
Examples:
  # Seal a Secret manifest (recipients from a file kept in the repository)
  sealgate seal --recipients-file .sealgate/recipients.txt -f secret.yaml -w sealed.yaml

  # Build the Secret from literals, files and an env file, like kubectl create secret generic
  sealgate seal -r age1... --name db-creds --namespace prod \\
      --from-literal username=app --from-file password=./pw.txt --from-env-file .env

  # Pipe from kubectl
  kubectl create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml \\
      | sealgate seal -r age1... --namespace prod

  # Add or replace one key in an existing SealedSecret; other values stay byte-identical
  sealgate seal -r age1... --merge-into sealed.yaml --from-literal password=new

  # One sealed value for a hand-edited manifest
  printf %s \"$TOKEN\" | sealgate seal -r age1... --raw --namespace prod --name api --key token

Recipients come from -r, --recipients-file, or SEALGATE_RECIPIENTS (commas or spaces).";

const VALIDATE_EXAMPLES: &str = "\
Examples:
  # Validate a GitOps repository
  sealgate validate deploy/

  # Validate rendered output; the chart generates its Secrets at render time
  helm template my-release ./chart | sealgate validate --disable plaintext-secret -
  kustomize build overlays/prod | sealgate validate -

  # In GitHub Actions: annotations on the pull request, or SARIF for code scanning
  sealgate validate --format github deploy/
  sealgate validate --format sarif deploy/ > sealgate.sarif

  # In GitLab CI: a Code Quality report (artifacts:reports:codequality) for the merge request
  sealgate validate --format gitlab deploy/ > gl-code-quality-report.json

Exit status: 0 no errors, 1 findings at error level, 2 unusable input or usage.
Settings (recipients file, disabled codes, Secrets created elsewhere) come from
.sealgate.yaml at the repository root.";

const SCAN_EXAMPLES: &str = "\
Examples:
  # Check the whole repository
  sealgate scan .

  # As a pre-commit hook (see .pre-commit-hooks.yaml), on the staged files
  sealgate scan deploy/secret.yaml .env.production

  # GitLab Code Quality report (also json, sarif, github)
  sealgate scan --format gitlab . > gl-code-quality-report.json

Exit status: 0 clean, 1 findings at error level, 2 unusable input.";

const RECIPIENT_EXAMPLES: &str = "\
Examples:
  # Save the cluster's recipients for offline sealing (commit this file)
  sealgate recipient > .sealgate/recipients.txt

  # A controller installed elsewhere
  sealgate recipient --controller-namespace platform --context prod-eu";

const VERIFY_EXAMPLES: &str = "\
Examples:
  sealgate verify -f deploy/db.sealed.yaml

Exit status: 0 every value can be unsealed, 1 some cannot, 2 other errors.";

const REENCRYPT_EXAMPLES: &str = "\
Examples:
  # After a key rotation: re-seal to the newest key, rewriting the file atomically
  sealgate reencrypt -f deploy/db.sealed.yaml --in-place";

const IMPORT_BITNAMI_EXAMPLES: &str = "\
Examples:
  # The Bitnami controller's keys, as the cluster keeps them (guard this file; delete it after)
  kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key \\
      -o yaml > bitnami-keys.yaml

  # Re-seal a Bitnami SealedSecret to the repository's recipients, in place of the old file
  sealgate import bitnami --key bitnami-keys.yaml --recipients-file .sealgate/recipients.txt \\
      -f deploy/db-creds.yaml -w deploy/db-creds.yaml

  # Several files and keys (a rotated-out key still decrypts what was sealed to it)
  sealgate import bitnami --key current.pem --key old.pem -r age1... -f a.yaml -f b.yaml >out.yaml

  # One value from `kubeseal --raw` (in a Helm values file, say)
  echo \"$VALUE\" | sealgate import bitnami --key bitnami-keys.yaml -r age1... --raw \\
      --namespace prod --name db-creds --data-key password

Scopes carry over: strict -> strict, namespace-wide -> namespace, cluster-wide -> cluster.
Exit status: 0 imported, 2 any object failed (nothing is written).";

const UNSEAL_EXAMPLES: &str = "\
Examples:
  # Recover Secrets with a backed-up cluster key or a recovery key
  sealgate unseal -i recovery-key.txt -f sealed.yaml > secret.yaml";

const KEYGEN_EXAMPLES: &str = "\
Examples:
  # Write a recovery key (mode 0600) and capture its recipient
  RECIPIENT=$(sealgate keygen -o recovery-key.txt)

  # Print a key to standard output, age-keygen style
  sealgate keygen";

/// Output format for objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML documents separated by `---`.
    #[default]
    Yaml,
    /// JSON: one object, or a v1 List for several.
    Json,
}

/// How to reach sealgate-controller (through the API server's service proxy).
#[derive(Clone, Debug, Args)]
pub struct ControllerArgs {
    /// Namespace of the controller's Service.
    #[arg(
        long,
        env = "SEALGATE_CONTROLLER_NAMESPACE",
        default_value = "sealgate-system"
    )]
    pub controller_namespace: String,
    /// Name of the controller's Service.
    #[arg(long, env = "SEALGATE_CONTROLLER_NAME", default_value = "sealgate-controller")]
    pub controller_name: String,
    /// Name or number of the Service's HTTP port.
    #[arg(long, default_value = "http")]
    pub controller_port: String,
    /// Kubeconfig [default: KUBECONFIG, then ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// SealedSecret manifest; `-` or absent for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub controller: ControllerArgs,
}

#[derive(Debug, Args)]
pub struct ReencryptArgs {
    /// SealedSecret manifest; `-` or absent for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Write the result to this file (atomically) instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "FILE", conflicts_with = "in_place")]
    pub write: Option<PathBuf>,
    /// Rewrite the input file in place (atomically).
    #[arg(long, requires = "file")]
    pub in_place: bool,
    #[command(flatten)]
    pub controller: ControllerArgs,
}

/// Where the recipients come from.
#[derive(Debug, Args)]
pub struct RecipientArgs {
    /// Recipient (age1…) to seal to; repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "AGE_RECIPIENT")]
    pub recipients: Vec<String>,
    /// File of recipients, one per line; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Vec<PathBuf>,
    /// Fetch the recipients from sealgate-controller (the default when no recipient
    /// is given and a kubeconfig is present).
    #[arg(long)]
    pub fetch: bool,
    #[command(flatten)]
    pub controller: ControllerArgs,
}

#[derive(Debug, Args)]
pub struct SealArgs {
    /// Secret manifest to seal (YAML or JSON, several documents allowed); `-` for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE", conflicts_with_all = ["literals", "files", "env_files", "name", "secret_type", "raw"])]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub recipients: RecipientArgs,

    /// Name of the Secret to build (with --from-*), or of the value's Secret (with --raw).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace; fills in objects without one, and must match those that have one.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Type of the Secret to build.
    #[arg(long = "type", value_name = "TYPE")]
    pub secret_type: Option<String>,
    /// KEY=VALUE pair to put in the Secret; repeatable.
    #[arg(long = "from-literal", value_name = "KEY=VALUE")]
    pub literals: Vec<String>,
    /// [KEY=]PATH: a file's contents (key defaults to its file name), or every file in a directory.
    #[arg(long = "from-file", value_name = "[KEY=]PATH")]
    pub files: Vec<String>,
    /// File of KEY=VALUE lines (kubectl's env-file rules); repeatable.
    #[arg(long = "from-env-file", value_name = "PATH")]
    pub env_files: Vec<PathBuf>,

    /// What the sealed values are bound to [default: strict; namespace for --raw without --name].
    #[arg(long, value_parser = parse_scope)]
    pub scope: Option<Scope>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Write to this file (atomically) instead of standard output.
    #[arg(
        short = 'w',
        long = "write",
        value_name = "FILE",
        conflicts_with = "merge_into"
    )]
    pub write: Option<PathBuf>,

    /// Add or replace the given keys in this SealedSecret file, in place.
    #[arg(long, value_name = "FILE", conflicts_with = "raw")]
    pub merge_into: Option<PathBuf>,

    /// Seal one value (stdin or --from-file PATH) and print only the sealed text.
    #[arg(long, requires = "key")]
    pub raw: bool,
    /// The data key the raw value is sealed for.
    #[arg(long, requires = "raw")]
    pub key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Bitnami sealed-secrets (bitnami.com/v1alpha1), decrypted with the Bitnami controller's key.
    #[command(after_help = IMPORT_BITNAMI_EXAMPLES)]
    Bitnami(Box<ImportBitnamiArgs>),
}

#[derive(Debug, Args)]
pub struct ImportBitnamiArgs {
    /// The Bitnami controller's private key: PEM (PKCS#1 or PKCS#8), or its key Secrets as
    /// `kubectl get secret -o yaml` prints them; repeatable. Every key is tried on every value.
    #[arg(long = "key", value_name = "FILE", required = true)]
    pub keys: Vec<PathBuf>,
    /// Bitnami SealedSecret manifest (YAML or JSON, several documents, Lists); repeatable;
    /// `-` or absent for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub recipients: RecipientArgs,

    /// Namespace of objects that have none (the one they are deployed to); must match those that have one.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Write to this file (atomically) instead of standard output.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Import one value from `kubeseal --raw` (stdin or one -f) and print only the sealed text.
    #[arg(long, requires = "data_key")]
    pub raw: bool,
    /// With --raw: the Secret name the value was sealed for (strict scope).
    #[arg(long, requires = "raw")]
    pub name: Option<String>,
    /// With --raw: the Bitnami scope it was sealed with [default: strict with --name, else namespace-wide].
    #[arg(long, requires = "raw", value_parser = parse_bitnami_scope)]
    pub scope: Option<crate::import::bitnami::BitnamiScope>,
    /// With --raw: the data key the new sealed value is for (sealgate binds the key too).
    #[arg(long, requires = "raw", value_name = "KEY")]
    pub data_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// Identity file (age-keygen format, one or more keys); repeatable.
    #[arg(short = 'i', long = "identity", value_name = "FILE", required = true)]
    pub identities: Vec<PathBuf>,
    /// SealedSecret manifest; `-` or absent for stdin.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Namespace for SealedSecrets that have none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files and directories (walked for .yaml, .yml and .json); `-` for standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Namespace of objects that have none [default: from .sealgate.yaml, else "default"].
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Recipients SealedSecrets must be sealed to [default: recipientsFile in .sealgate.yaml].
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Option<PathBuf>,
    /// Turn off a finding code (e.g. plaintext-secret); repeatable.
    #[arg(long, value_name = "CODE")]
    pub disable: Vec<String>,
    /// Path glob to skip; repeatable (adds to `ignore:` in .sealgate.yaml).
    #[arg(long, value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Settings file [default: the nearest .sealgate.yaml up to the repository root].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Also count what the live cluster provides (Secret metadata, SealedSecrets,
    /// Certificates, ExternalSecrets) in the workloads' namespaces. No Secret values are read.
    #[arg(long)]
    pub cluster: bool,
    /// Kubeconfig for --cluster [default: KUBECONFIG, then ~/.kube/config].
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for --cluster.
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to check [default: .]; `-` for standard input.
    pub paths: Vec<PathBuf>,
    /// Path glob to skip; repeatable (adds to `ignore:` in .sealgate.yaml).
    #[arg(long, value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Settings file [default: the nearest .sealgate.yaml up to the repository root].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity to this file (mode 0600; never overwrites) instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse()
}

fn parse_bitnami_scope(s: &str) -> Result<crate::import::bitnami::BitnamiScope, String> {
    s.parse()
}
