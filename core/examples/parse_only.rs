//! The floor for `bench/validate.sh`: read and parse every manifest given, with
//! the same YAML library and budget as `sealgate validate`, and do nothing else.

fn main() {
    let mut objects = 0usize;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        collect(std::path::Path::new(&arg), &mut files);
    }
    files.sort();
    for path in files {
        let bytes = std::fs::read(&path).unwrap_or_default();
        match sealgate_core::manifest::parse_documents(&bytes) {
            Ok(docs) => objects += sealgate_core::manifest::expand_lists(docs).len(),
            Err(e) => eprintln!("{}: {e}", path.display()),
        }
    }
    println!("{objects} objects parsed");
}

fn collect(path: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            collect(&entry.path(), out);
        }
    } else if path
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
    {
        out.push(path.to_path_buf());
    }
}
