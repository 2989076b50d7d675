//! Interpreting a classifier's validation results the fastai way: per-item losses, the top
//! losses, the confusion matrix (rows: actual class, columns: predicted) and the most confused
//! pairs.

/// What the model said about one validation item.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemResult {
    /// Index into the dataset's items.
    pub item: usize,
    pub actual: usize,
    pub predicted: usize,
    /// Cross-entropy of this item.
    pub loss: f64,
    /// The probability the model gave its prediction.
    pub probability: f64,
}

/// The k items with the largest losses, largest first (fastai's top_losses(k)).
pub fn top_losses(results: &[ItemResult], k: usize) -> Vec<ItemResult> {
    let mut sorted = results.to_vec();
    sorted.sort_by(|a, b| b.loss.total_cmp(&a.loss).then(a.item.cmp(&b.item)));
    sorted.truncate(k);
    sorted
}

/// counts[actual][predicted].
pub fn confusion_matrix(results: &[ItemResult], classes: usize) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0; classes]; classes];
    for r in results {
        counts[r.actual][r.predicted] += 1;
    }
    counts
}

/// Off-diagonal cells with at least `min_val` items, as (actual, predicted, count), most first
/// (fastai's most_confused).
pub fn most_confused(matrix: &[Vec<usize>], min_val: usize) -> Vec<(usize, usize, usize)> {
    let mut pairs: Vec<(usize, usize, usize)> = matrix
        .iter()
        .enumerate()
        .flat_map(|(a, row)| row.iter().enumerate().filter(move |&(p, &n)| p != a && n >= min_val.max(1)).map(move |(p, &n)| (a, p, n)))
        .collect();
    pairs.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(item: usize, actual: usize, predicted: usize, loss: f64) -> ItemResult {
        ItemResult { item, actual, predicted, loss, probability: (-loss).exp() }
    }

    #[test]
    fn a_fixed_set_of_predictions() {
        let results = vec![
            result(0, 0, 0, 0.1),
            result(1, 0, 1, 2.0),
            result(2, 1, 1, 0.2),
            result(3, 1, 0, 1.5),
            result(4, 2, 1, 3.0),
            result(5, 0, 1, 0.9),
            result(6, 2, 2, 0.05),
        ];
        let top: Vec<usize> = top_losses(&results, 3).iter().map(|r| r.item).collect();
        assert_eq!(top, vec![4, 1, 3]);
        let matrix = confusion_matrix(&results, 3);
        assert_eq!(matrix, vec![vec![1, 2, 0], vec![1, 1, 0], vec![0, 1, 1]]);
        assert_eq!(most_confused(&matrix, 1), vec![(0, 1, 2), (1, 0, 1), (2, 1, 1)]);
        assert_eq!(most_confused(&matrix, 2), vec![(0, 1, 2)]);
    }
}
