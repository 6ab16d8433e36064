//! Version ranges as npm (`engines.node`), Composer (`require.php`) and RubyGems
//! (`ruby "~> 3.3"`) write them: does a range admit some version of a release line?

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Npm,
    Composer,
    Ruby,
}

/// A version as up to three numbers; missing parts are `None` (`8.x`, `20`).
fn parse_partial(v: &str) -> Option<[Option<u64>; 3]> {
    let v = v.trim().trim_start_matches(['v', '=']);
    let mut out = [None; 3];
    for (i, part) in v.split('.').enumerate() {
        if i >= 3 {
            break;
        }
        let part = part.split(['-', '+']).next().unwrap_or_default();
        if matches!(part, "x" | "X" | "*" | "") {
            break;
        }
        out[i] = Some(part.parse().ok()?);
    }
    out[0]?;
    Some(out)
}

/// Versions as `[major, minor, patch]`; `u64::MAX` stands for "any" above.
type V = [u64; 3];

fn floor(p: [Option<u64>; 3]) -> V {
    [p[0].unwrap_or(0), p[1].unwrap_or(0), p[2].unwrap_or(0)]
}

/// The half-open interval `[lo, hi)` one comparator admits.
fn comparator(c: &str, flavor: Flavor) -> Option<(V, V)> {
    const TOP: V = [u64::MAX, 0, 0];
    let c = c.trim();
    if matches!(c, "*" | "x" | "X" | "") {
        return Some(([0, 0, 0], TOP));
    }
    let (op, rest) = ["<=", ">=", "<", ">", "^", "~", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", c));
    let p = parse_partial(rest)?;
    let lo = floor(p);
    // The first version above everything `p` names (`20` → 21.0.0, `20.1` → 20.2.0).
    let above = match p {
        [Some(a), None, _] => [a + 1, 0, 0],
        [Some(a), Some(b), None] => [a, b + 1, 0],
        _ => [lo[0], lo[1], lo[2] + 1],
    };
    Some(match op {
        ">=" => (lo, TOP),
        ">" => (above, TOP),
        "<" => ([0, 0, 0], lo),
        "<=" => ([0, 0, 0], above),
        "^" => {
            let hi = match p {
                [Some(0), Some(0), Some(z)] if flavor == Flavor::Npm => [0, 0, z + 1],
                [Some(0), Some(b), _] if b > 0 || flavor == Flavor::Npm => [0, b + 1, 0],
                [Some(a), ..] => [a + 1, 0, 0],
                _ => return None,
            };
            (lo, hi)
        }
        "~" => {
            // npm: ~1.2.3 → <1.3.0, ~1 → <2. Composer and Ruby (~>): the last given
            // part may move: ~8.2 → <9, ~8.2.1 → <8.3.
            let hi = match (flavor, p) {
                (Flavor::Npm, [Some(a), None, _]) => [a + 1, 0, 0],
                (Flavor::Npm, [Some(a), Some(b), _]) => [a, b + 1, 0],
                (_, [Some(a), None | Some(_), None]) => [a + 1, 0, 0],
                (_, [Some(a), Some(b), Some(_)]) => [a, b + 1, 0],
                _ => return None,
            };
            (lo, hi)
        }
        // A bare version: npm's `20` means 20.x; composer's `8.4.*` too.
        _ => (lo, above),
    })
}

/// Whether a range (`||` of space- or comma-separated comparators, or `a - b`) admits
/// some version of release line `line` (`20`, `8.4`, `3.3`).
pub(super) fn semver_admits(range: &str, line: &str, flavor: Flavor) -> bool {
    let Some(l) = parse_partial(line) else {
        return false;
    };
    let line_lo = floor(l);
    let line_hi = match l {
        [Some(a), None, _] => [a + 1, 0, 0],
        [Some(a), Some(b), _] => [a, b + 1, 0],
        _ => return false,
    };
    range.split("||").any(|alt| {
        let alt = alt.trim();
        let parts: Vec<String> = if let Some((a, b)) = alt.split_once(" - ") {
            vec![format!(">={}", a.trim()), format!("<={}", b.trim())]
        } else {
            // `>= 20` is one comparator: join an operator with its version.
            let mut parts: Vec<String> = Vec::new();
            for tok in alt.split([' ', ',']).filter(|t| !t.is_empty()) {
                match parts.last_mut() {
                    Some(last) if last.chars().all(|c| "<>=^~".contains(c)) => last.push_str(tok),
                    _ => parts.push(tok.to_owned()),
                }
            }
            parts
        };
        let mut lo = line_lo;
        let mut hi = line_hi;
        for part in &parts {
            let Some((a, b)) = comparator(part, flavor) else {
                return false;
            };
            lo = lo.max(a);
            hi = hi.min(b);
        }
        lo < hi
    })
}
