//! Medians, ratios, and the two forms of the result: a table for people, JSON for tools.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The median of `samples` (the mean of the middle two for an even count); `None` when empty.
///
/// The median, not the mean: one build slowed by another process on a 2-core machine should
/// not move the number.
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// Every timing of one run of the benchmark, in the order the workloads were first measured.
#[derive(Debug, Default)]
pub struct Results {
    /// Workload names in first-measured order, with their one-line descriptions.
    workloads: Vec<(String, String)>,
    /// Builder names in first-measured order.
    builders: Vec<String>,
    /// (workload, builder) → seconds of each run.
    samples: BTreeMap<(String, String), Vec<f64>>,
}

impl Results {
    /// Records that `builder` built `workload` in `seconds`.
    pub fn record(&mut self, workload: &str, description: &str, builder: &str, seconds: f64) {
        if !self.workloads.iter().any(|(w, _)| w == workload) {
            self.workloads
                .push((workload.to_string(), description.to_string()));
        }
        if !self.builders.iter().any(|b| b == builder) {
            self.builders.push(builder.to_string());
        }
        self.samples
            .entry((workload.to_string(), builder.to_string()))
            .or_default()
            .push(seconds);
    }

    /// The timings of `builder` on `workload` (empty when it never ran).
    pub fn samples(&self, workload: &str, builder: &str) -> &[f64] {
        self.samples
            .get(&(workload.to_string(), builder.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// `median(other) / median(reference)`: above 1 means `reference` was faster.
    pub fn ratio(&self, workload: &str, other: &str, reference: &str) -> Option<f64> {
        let slow = median(self.samples(workload, other))?;
        let fast = median(self.samples(workload, reference))?;
        (fast > 0.0).then_some(slow / fast)
    }

    /// The table printed on stdout: one row per workload, each builder's median (and every
    /// run's time), then `other/reference`.
    pub fn table(&self, reference: &str, other: &str) -> String {
        let name_width = self
            .workloads
            .iter()
            .map(|(w, _)| w.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<name_width$}  {:>10}  {:>12}  {:>14}  runs ({reference} | {other})",
            "workload",
            format!("{reference} s"),
            format!("{other} s"),
            format!("{other}/{reference}"),
        );
        for (workload, _) in &self.workloads {
            let cell = |builder: &str| {
                median(self.samples(workload, builder))
                    .map(|m| format!("{m:.2}"))
                    .unwrap_or_else(|| "-".into())
            };
            let ratio = self
                .ratio(workload, other, reference)
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into());
            let runs = |builder: &str| {
                self.samples(workload, builder)
                    .iter()
                    .map(|s| format!("{s:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(
                out,
                "{workload:<name_width$}  {:>10}  {:>12}  {ratio:>14}  {} | {}",
                cell(reference),
                cell(other),
                runs(reference),
                runs(other)
            );
        }
        out
    }

    /// The results as JSON: per workload, each builder's samples and median in seconds and
    /// the ratio `other/reference`; `context` (machine, versions, load) is included as given.
    pub fn to_json(&self, reference: &str, other: &str, context: Value) -> Value {
        let workloads: Vec<Value> = self
            .workloads
            .iter()
            .map(|(workload, description)| {
                let builders: serde_json::Map<String, Value> = self
                    .builders
                    .iter()
                    .map(|b| {
                        let samples = self.samples(workload, b);
                        (
                            b.clone(),
                            json!({ "samples_s": samples, "median_s": median(samples) }),
                        )
                    })
                    .collect();
                json!({
                    "name": workload,
                    "description": description,
                    "builders": builders,
                    format!("ratio_{other}_over_{reference}"): self.ratio(workload, other, reference),
                })
            })
            .collect();
        json!({ "context": context, "workloads": workloads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_ignores_one_outlier_and_averages_the_middle_pair() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 100.0, 1.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn the_ratio_is_the_other_builders_median_over_the_references() {
        let mut r = Results::default();
        for (skiff, buildkit) in [(1.0, 3.0), (2.0, 4.0), (9.0, 5.0)] {
            r.record("cold", "a cold build", "skiff", skiff);
            r.record("cold", "a cold build", "buildkit", buildkit);
        }
        r.record("only-skiff", "", "skiff", 1.0);
        assert_eq!(r.ratio("cold", "buildkit", "skiff"), Some(2.0));
        assert_eq!(r.ratio("only-skiff", "buildkit", "skiff"), None);
        let table = r.table("skiff", "buildkit");
        let cold = table.lines().nth(1).unwrap();
        assert!(cold.starts_with("cold "), "{table}");
        assert!(
            cold.contains(" 2.00 ") && cold.contains("1.00 2.00 9.00 | 3.00 4.00 5.00"),
            "{table}"
        );
        let json = r.to_json("skiff", "buildkit", json!({"runs": 3}));
        assert_eq!(
            json["workloads"][0]["ratio_buildkit_over_skiff"],
            json!(2.0)
        );
        assert_eq!(
            json["workloads"][0]["builders"]["skiff"]["median_s"],
            json!(2.0)
        );
        assert_eq!(
            json["workloads"][1]["ratio_buildkit_over_skiff"],
            Value::Null
        );
        assert_eq!(json["context"]["runs"], json!(3));
    }
}
