//! Kubernetes naming rules for the names sealgate writes: object names,
//! namespaces and Secret data keys.

/// Why a name is not acceptable to Kubernetes.
pub type NameProblem = &'static str;

/// A Secret data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
pub fn check_secret_key(key: &str) -> Result<(), NameProblem> {
    if key.is_empty() {
        return Err("is empty");
    }
    if key.len() > 253 {
        return Err("is longer than 253 characters");
    }
    if key == "." || key == ".." {
        return Err("may not be '.' or '..'");
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("may contain only letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

/// An object name (DNS subdomain): lowercase letters, digits, '-' and '.', at most 253,
/// starting and ending with a letter or digit.
pub fn check_object_name(name: &str) -> Result<(), NameProblem> {
    check_dns(name, 253, true)
}

/// A namespace (DNS label): lowercase letters, digits and '-', at most 63,
/// starting and ending with a letter or digit.
pub fn check_namespace(name: &str) -> Result<(), NameProblem> {
    check_dns(name, 63, false)
}

fn check_dns(name: &str, max: usize, dots: bool) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.len() > max {
        return Err(if max == 63 {
            "is longer than 63 characters"
        } else {
            "is longer than 253 characters"
        });
    }
    let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.');
    if !name.bytes().all(ok_char) {
        return Err(if dots {
            "may contain only lowercase letters, digits, '-' and '.'"
        } else {
            "may contain only lowercase letters, digits and '-'"
        });
    }
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(name.as_bytes().first()) || !alnum(name.as_bytes().last()) {
        return Err("must start and end with a lowercase letter or digit");
    }
    if dots
        && name
            .split('.')
            .any(|part| !alnum(part.as_bytes().first()) || !alnum(part.as_bytes().last()))
    {
        return Err("each '.'-separated part must start and end with a lowercase letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for ok in ["password", "tls.crt", ".dockerconfigjson", "A_B-c.1"] {
            assert_eq!(check_secret_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(254)] {
            assert!(check_secret_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_namespaces() {
        assert_eq!(check_object_name("db-creds.v1"), Ok(()));
        assert!(check_object_name("DB").is_err());
        assert!(check_object_name("-db").is_err());
        assert!(check_object_name("a..b").is_err());
        assert_eq!(check_namespace("prod-1"), Ok(()));
        assert!(check_namespace("prod.eu").is_err());
        assert!(check_namespace(&"a".repeat(64)).is_err());
    }
}
