//! Did-you-mean hints: the name closest to a misspelt one. Shared by plan
//! validation and the Agora request types, which name vendors and regions.

/// The closest of `candidates` to `input`, ignoring case, if it is close
/// enough to be the likely intent.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&input, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            closest("aws_s4", ["qiniu", "aws_s3", "azure"]),
            Some("aws_s3")
        );
        assert_eq!(closest("AWS_S3", ["aws_s3"]), Some("aws_s3"));
        assert_eq!(closest("zzz", ["qiniu", "aws_s3"]), None);
    }
}
