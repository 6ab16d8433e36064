//! Heroku's list pagination through the `Range` header: `version ..; order=desc, max=15`.
//! A page that leaves items out answers 206 with `Next-Range`; the last page answers 200.

use axum::http::{HeaderMap, HeaderValue, StatusCode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListRange {
    pub field: String,
    pub descending: bool,
    pub max: usize,
}

impl ListRange {
    const DEFAULT_MAX: usize = 200;
    const LIMIT: usize = 1000;

    /// Reads the Range header; anything it cannot read falls back to the whole list in
    /// ascending order (Heroku ignores what it does not understand, too).
    pub(crate) fn from_headers(headers: &HeaderMap, default_field: &str) -> Self {
        let mut range = ListRange {
            field: default_field.to_owned(),
            descending: false,
            max: Self::DEFAULT_MAX,
        };
        let Some(raw) = headers.get("range").and_then(|v| v.to_str().ok()) else {
            return range;
        };
        let mut parts = raw.split(';');
        if let Some(field) = parts.next().and_then(|p| p.split_whitespace().next()) {
            range.field = field.to_owned();
        }
        for option in parts.flat_map(|p| p.split(',')) {
            match option.trim().split_once('=') {
                Some(("order", "desc")) => range.descending = true,
                Some(("order", "asc")) => range.descending = false,
                Some(("max", n)) => {
                    if let Ok(n) = n.trim().parse::<usize>() {
                        range.max = n.clamp(1, Self::LIMIT);
                    }
                }
                _ => {}
            }
        }
        range
    }

    /// Orders and cuts `items` (given in ascending order); returns the status and the
    /// `Next-Range` header to send.
    pub(crate) fn page<T>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> (StatusCode, HeaderMap, Vec<T>) {
        if self.descending {
            items.reverse();
        }
        let mut headers = HeaderMap::new();
        if items.len() <= self.max {
            return (StatusCode::OK, headers, items);
        }
        items.truncate(self.max);
        if let Some(last) = items.last() {
            let next = format!(
                "{} ]{}..; order={}, max={}",
                self.field,
                key(last),
                if self.descending { "desc" } else { "asc" },
                self.max
            );
            if let Ok(value) = HeaderValue::from_str(&next) {
                headers.insert("next-range", value);
            }
        }
        (StatusCode::PARTIAL_CONTENT, headers, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_order_and_max() {
        let mut h = HeaderMap::new();
        h.insert(
            "range",
            HeaderValue::from_static("version ..; order=desc, max=2"),
        );
        let r = ListRange::from_headers(&h, "id");
        assert_eq!(
            r,
            ListRange {
                field: "version".into(),
                descending: true,
                max: 2
            }
        );
        let (status, headers, items) = r.page(vec![1, 2, 3], |v| v.to_string());
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(items, [3, 2]);
        assert_eq!(headers["next-range"], "version ]2..; order=desc, max=2");
        let (status, _, items) =
            ListRange::from_headers(&HeaderMap::new(), "id").page(vec![1, 2], |v| v.to_string());
        assert_eq!((status, items), (StatusCode::OK, vec![1, 2]));
    }
}
