//! Cleaning a dataset, as fastai's ImageClassifierCleaner does: delete an item or give it another
//! label. Items keep their indices (a deleted item just leaves the training and validation
//! lists), so results computed before the cleaning still point at the right images.

use super::dataset::ImageDataset;
use crate::error::{Error, Result};

/// How many images of one class each split holds.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassCount {
    pub class: String,
    pub train: usize,
    pub valid: usize,
}

impl ImageDataset {
    fn check_item(&self, item: usize, op: &str) -> Result<()> {
        if item >= self.items.len() || !(self.train.contains(&item) || self.valid.contains(&item)) {
            return Err(Error::new(op, format!("there is no image number {item} in the dataset")));
        }
        Ok(())
    }

    /// Takes the item out of the dataset; later training and validation do not see it.
    pub fn delete_item(&mut self, item: usize) -> Result<()> {
        self.check_item(item, "delete_item")?;
        if self.train == [item] || self.valid == [item] {
            return Err(Error::new("delete_item", "it is the last training or validation image; the dataset keeps it"));
        }
        self.train.retain(|&i| i != item);
        self.valid.retain(|&i| i != item);
        Ok(())
    }

    /// Gives the item another label, one of the vocabulary's classes.
    pub fn relabel_item(&mut self, item: usize, label: &str) -> Result<()> {
        self.check_item(item, "relabel_item")?;
        let class = self
            .vocab
            .iter()
            .position(|c| c == label)
            .ok_or_else(|| Error::new("relabel_item", format!("'{label}' is not one of the classes {:?}", self.vocab)))?;
        self.items[item].label = class;
        Ok(())
    }

    /// Images per class in each split, in vocabulary order.
    pub fn class_counts(&self) -> Vec<ClassCount> {
        let count = |indices: &[usize], class: usize| indices.iter().filter(|&&i| self.items[i].label == class).count();
        self.vocab
            .iter()
            .enumerate()
            .map(|(c, name)| ClassCount { class: name.clone(), train: count(&self.train, c), valid: count(&self.valid, c) })
            .collect()
    }
}
