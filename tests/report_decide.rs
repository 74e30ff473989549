//! The report's "what it would take to decide" table and Greff et al.'s
//! top-fraction analysis, on the committed `results/greff_variants`
//! (read from its `summary.csv`), against values computed independently
//! with pandas, SciPy and statsmodels:
//!
//! ```python
//! d = pd.read_csv("results/greff_variants/summary.csv")
//! d = d[(d.status == "finished") & d["data.source"].str.contains("xml")]
//! g = {v: x.val_bpc.values for v, x in d.groupby(d.variant.str.split(" ").str[0])}
//! # Welch Δ, se, df of g[v] vs g["vanilla"]; α/m = 0.05/9; δ = 0.02·|mean(vanilla)|
//! # smallest margin: |Δ| + stats.t.ppf(1 − α/m, df)·se
//! # power(n) = nct.sf(t₁₋α, df_n, (δ−|Δ|)/se_n) + nct.sf(t₁₋α, df_n, (δ+|Δ|)/se_n) − 1,
//! #   the fewest n with power ≥ 0.8 by bisection
//! # top 40%: the 2 lowest val_bpc per variant; stats.ttest_ind(top[v], top["vanilla"],
//! #   equal_var=False); multipletests(p, method="holm")
//! ```
//! NOG: smallest margin 0.57114, trials 38191 (Δ as observed), 328 (Δ = 0);
//! NP: 129 (Δ = 0), its Δ outside the margin; top 40%: NP mean 3.58238,
//! t 3.8356, Holm p 0.8865; FGR t 4.5104, Holm p 0.5731.
mod common;

use std::path::Path;

use common::*;

fn row<'r>(report: &'r str, section: &str, table: &str, variant: &str) -> Vec<&'r str> {
    let start = report.find(section).unwrap_or_else(|| panic!("no {section}"));
    let from = start + report[start..].find(table).unwrap_or_else(|| panic!("no {table} in {section}"));
    let line = report[from..]
        .lines()
        .find(|l| l.starts_with(&format!("| {variant} |")))
        .unwrap_or_else(|| panic!("no row {variant} in {table}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

// Fails if: the smallest margin uses α instead of α/m or a two-sided
// quantile; the power uses a central t or one tail; the top fraction is
// chosen on the wrong end (best = lowest bits/char) or not Holm-corrected.
#[test]
fn undecided_comparisons_say_what_would_decide_them() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("greff_variants");
    std::fs::create_dir(&exp).unwrap();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/greff_variants");
    for f in ["summary.csv", "experiment.yaml"] {
        std::fs::copy(committed.join(f), exp.join(f)).unwrap();
    }
    let out = rnnlab(&["report", exp.to_str().unwrap(), "--top", "0.4"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = std::fs::read_to_string(exp.join("report.md")).unwrap();
    let xml = "## Variants, source=xml";
    let decide = "### What it would take to decide";
    assert_eq!(row(&report, xml, decide, "NOG"), ["NOG", "5", "-0.0648", "0.5711", "±16.2%", "38191", "328"]);
    assert_eq!(
        row(&report, xml, decide, "NP")[5..],
        ["none (Δ is outside the margin)", "129"],
        "{}",
        &report[report.find(xml).unwrap()..]
    );
    let top = "### Greff et al.'s analysis: the best 40% of each variant";
    assert_eq!(row(&report, xml, top, "NP")[1..6], ["2", "3.5824", "0.2479", "3.84", "0.886"]);
    assert_eq!(row(&report, xml, top, "FGR")[4..6], ["4.51", "0.573"]);
    // Only inconclusive rows are listed: NFG is decided (worse).
    let table = &report[report.find(xml).unwrap()..];
    let table = &table[table.find(decide).unwrap()..table.find(top).unwrap()];
    assert!(!table.contains("| NFG |"), "{table}");

    let bad = rnnlab(&["report", exp.to_str().unwrap(), "--top", "1.5"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("report.top: must be a fraction in (0, 1]"), "{}", text(&bad));
}
