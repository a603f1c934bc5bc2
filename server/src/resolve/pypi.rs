//! Poetry's constraint syntax, rewritten as PEP 440 specifiers so one crate compares PyPI versions.
//!
//! Poetry: `^1.2.3` is `>=1.2.3,<2.0.0`; `^0.2.3` is `>=0.2.3,<0.3.0`; `^0.0.3` is `>=0.0.3,<0.0.4`;
//! `~1.2.3` is `>=1.2.3,<1.3.0`; `~1` is `>=1,<2`; a bare `1.2.3` is `==1.2.3`; `*` is any; `||` or
//! `|` separates alternatives (only the first alternative is kept for matching, a documented limit of
//! PEP 440 having no "or"); `,` and spaces separate conjunctions.

/// The version a PEP 440 specifier set pins with `==x` (no wildcard) or `===x`, if a clause does: pip
/// installs exactly that version or nothing.
pub fn pinned_version(specifiers: &str) -> Option<String> {
    use pep440_rs::Operator;
    let parsed = <pep440_rs::VersionSpecifiers as std::str::FromStr>::from_str(specifiers).ok()?;
    parsed
        .iter()
        .find(|clause| matches!(clause.operator(), Operator::Equal | Operator::ExactEqual))
        .map(|clause| clause.version().to_string())
}

/// Converts one Poetry constraint to PEP 440 specifier text.
pub fn poetry_to_pep440(text: &str) -> Result<String, String> {
    let text = text.trim();
    let first = text.split('|').map(str::trim).find(|s| !s.is_empty()).unwrap_or("");
    if first.is_empty() || first == "*" {
        return Ok(String::new());
    }
    let mut parts = Vec::new();
    for token in first
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        parts.push(convert_token(token)?);
    }
    // Poetry allows `>= 1.2` with a space; tokens that are bare operators join the next token.
    let mut res: Vec<String> = Vec::new();
    let mut pending = String::new();
    for part in parts {
        if matches!(part.as_str(), ">=" | "<=" | ">" | "<" | "==" | "!=" | "~=") {
            pending = part;
            continue;
        }
        if pending.is_empty() {
            res.push(part);
        } else {
            res.push(format!("{pending}{}", part.trim_start_matches("==")));
            pending.clear();
        }
    }
    Ok(res.join(","))
}

fn convert_token(token: &str) -> Result<String, String> {
    if let Some(rest) = token.strip_prefix('^') {
        let nums = release_numbers(rest)?;
        let upper = caret_upper(&nums);
        return Ok(format!(">={rest},<{upper}"));
    }
    if let Some(rest) = token.strip_prefix("~=") {
        return Ok(format!("~={rest}"));
    }
    if let Some(rest) = token.strip_prefix('~') {
        let nums = release_numbers(rest)?;
        let upper = if nums.len() >= 2 {
            format!("{}.{}.0", nums[0], nums[1] + 1)
        } else {
            format!("{}", nums[0] + 1)
        };
        return Ok(format!(">={rest},<{upper}"));
    }
    if token.starts_with(['<', '>', '=', '!']) {
        return Ok(token.to_string());
    }
    if token.contains('*') {
        return Ok(format!("=={token}"));
    }
    if token.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Ok(format!("=={token}"));
    }
    Err(format!("not a Poetry constraint: `{token}`"))
}

fn release_numbers(text: &str) -> Result<Vec<u64>, String> {
    let mut res = Vec::new();
    for piece in text.split('.') {
        let digits: String = piece.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        res.push(digits.parse::<u64>().map_err(|_| format!("not a version: `{text}`"))?);
        if digits.len() != piece.len() {
            break;
        }
    }
    if res.is_empty() {
        return Err(format!("not a version: `{text}`"));
    }
    Ok(res)
}

fn caret_upper(nums: &[u64]) -> String {
    let first_nonzero = nums.iter().position(|n| *n != 0);
    match first_nonzero {
        Some(0) | None if nums.len() == 1 => format!("{}", nums[0] + 1),
        Some(idx) => {
            let mut upper: Vec<u64> = nums[..=idx].to_vec();
            upper[idx] += 1;
            upper.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
        }
        None => {
            let mut upper: Vec<u64> = nums.to_vec();
            if let Some(last) = upper.last_mut() {
                *last += 1;
            }
            upper.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins() {
        assert_eq!(pinned_version("==2.19.0").as_deref(), Some("2.19.0"));
        assert_eq!(pinned_version(">=2, ==2.19.0").as_deref(), Some("2.19.0"));
        assert_eq!(pinned_version("===1.0").as_deref(), Some("1.0"));
        assert_eq!(pinned_version("==2.*"), None);
        assert_eq!(pinned_version(">=2,<3"), None);
        assert_eq!(pinned_version("not a specifier"), None);
    }

    #[test]
    fn caret_and_tilde() {
        assert_eq!(poetry_to_pep440("^1.2.3").unwrap(), ">=1.2.3,<2");
        assert_eq!(poetry_to_pep440("^0.2.3").unwrap(), ">=0.2.3,<0.3");
        assert_eq!(poetry_to_pep440("^0.0.3").unwrap(), ">=0.0.3,<0.0.4");
        assert_eq!(poetry_to_pep440("~1.2.3").unwrap(), ">=1.2.3,<1.3.0");
        assert_eq!(poetry_to_pep440("1.2.3").unwrap(), "==1.2.3");
        assert_eq!(poetry_to_pep440("*").unwrap(), "");
        assert_eq!(poetry_to_pep440(">= 1.2, < 2").unwrap(), ">=1.2,<2");
    }
}
