//! Regression metrics (e.g. for STS-B): Pearson and Spearman correlation.

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Side};

fn check(gold: &[f64], predicted: &[f64]) -> Result<(), MetricsError> {
    if gold.len() != predicted.len() {
        return Err(MetricsError::LengthMismatch {
            gold: gold.len(),
            predicted: predicted.len(),
        });
    }
    for (side, values) in [(Side::Gold, gold), (Side::Predicted, predicted)] {
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NotFinite { side, index });
        }
    }
    if gold.len() < 2 {
        return Err(MetricsError::UndefinedCorrelation("fewer than 2 points"));
    }
    Ok(())
}

fn centred_correlation(x: &[f64], y: &[f64]) -> Result<f64, MetricsError> {
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return Err(MetricsError::UndefinedCorrelation("an input is constant"));
    }
    Ok((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Pearson's correlation coefficient of two equally long series.
///
/// Errors if the lengths differ, a value is not finite, there are fewer than two
/// points, or either series is constant (where scipy returns NaN).
///
/// ```
/// use bertlab_metrics::pearson;
///
/// let r = pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]).unwrap();
/// assert!(r > 0.99 && r <= 1.0);
/// ```
pub fn pearson(gold: &[f64], predicted: &[f64]) -> Result<f64, MetricsError> {
    check(gold, predicted)?;
    centred_correlation(gold, predicted)
}

/// Spearman's rank correlation: Pearson's over ranks, ties given their average rank.
///
/// Errors as [`pearson`] does.
///
/// ```
/// use bertlab_metrics::spearman;
///
/// // Any increasing relation has rank correlation 1.
/// assert_eq!(spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 8.0, 27.0, 64.0]).unwrap(), 1.0);
/// ```
pub fn spearman(gold: &[f64], predicted: &[f64]) -> Result<f64, MetricsError> {
    check(gold, predicted)?;
    centred_correlation(&ranks(gold), &ranks(predicted))
}

/// Ranks from 1, ties given the mean of the ranks they span (scipy's `rankdata(method="average")`).
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share the ranks i+1..=j, whose mean is (i + 1 + j) / 2.
        let rank = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            out[k] = rank;
        }
        i = j;
    }
    out
}

/// Pearson and Spearman correlations; a figure is `None` (JSON `null`) where undefined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// Pearson's correlation coefficient.
    pub pearson: Option<f64>,
    /// Spearman's rank correlation coefficient.
    pub spearman: Option<f64>,
    /// Number of items.
    pub support: u64,
}

impl RegressionReport {
    /// Correlates `predicted` with `gold`; errors only on unequal lengths or non-finite values.
    pub fn new(gold: &[f64], predicted: &[f64]) -> Result<Self, MetricsError> {
        let defined = |r: Result<f64, MetricsError>| match r {
            Ok(v) => Ok(Some(v)),
            Err(MetricsError::UndefinedCorrelation(_)) => Ok(None),
            Err(e) => Err(e),
        };
        Ok(RegressionReport {
            pearson: defined(pearson(gold, predicted))?,
            spearman: defined(spearman(gold, predicted))?,
            support: gold.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 5.0]), [2.5, 4.0, 2.5, 1.0]);
    }

    #[test]
    fn perfect_and_inverse_relations() {
        let x = [0.5, 1.5, 2.0, 4.0];
        let y: Vec<f64> = x.iter().map(|v| 3.0 * v - 1.0).collect();
        assert!((pearson(&x, &y).unwrap() - 1.0).abs() < 1e-15);
        let z: Vec<f64> = x.iter().map(|v| -v).collect();
        assert!((pearson(&x, &z).unwrap() + 1.0).abs() < 1e-15);
        assert_eq!(spearman(&x, &z).unwrap(), -1.0);
    }

    #[test]
    fn undefined_correlations_are_errors_or_none() {
        let err = pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "correlation is undefined: an input is constant"
        );
        assert!(spearman(&[1.0], &[2.0]).is_err());
        assert!(pearson(&[1.0, 2.0], &[1.0]).is_err());
        let err = pearson(&[1.0, f64::NAN], &[1.0, 2.0]).unwrap_err();
        assert_eq!(err.to_string(), "gold value at index 1 is not finite");
        let report = RegressionReport::new(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]).unwrap();
        assert_eq!(
            (report.pearson, report.spearman, report.support),
            (None, None, 3)
        );
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"pearson":null,"spearman":null,"support":3}"#
        );
        assert!(RegressionReport::new(&[1.0], &[f64::INFINITY]).is_err());
    }
}
