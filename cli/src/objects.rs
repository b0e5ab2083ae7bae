//! What `validate` keeps of each object it read, and findings waiting for the
//! line of their field path: shared by the file checks and the reference check.

use crate::report::Finding;

/// Where an object sits, and what it is: all that is kept of it after its checks.
pub struct Object {
    pub source: usize,
    pub index: usize,
    pub item: Option<usize>,
    pub line: usize,
    /// `Deployment prod/api`.
    pub describe: String,
}

/// A finding whose line is still to be found from a field path.
pub struct Pending {
    pub object: usize,
    pub field: Option<String>,
    pub finding: Finding,
}
