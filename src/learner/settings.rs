//! The limits on a Learner's settings, checked in one place for Rust and for the JavaScript
//! options (`src/options.rs`): each check gives the setting back, or says why it cannot be.
//! (The image size's limit is the dataset's: `data::loading::check_size`.)

/// `batch_size` when a Learner can train with it, or why not: batch norm in training mode
/// normalises each channel over the batch, which needs at least two images.
pub fn batch_size(batch_size: usize) -> std::result::Result<usize, String> {
    if batch_size >= 2 {
        Ok(batch_size)
    } else {
        Err(format!("the batch size must be at least 2 to train (batch norm compares the images of a batch), got {batch_size}"))
    }
}
