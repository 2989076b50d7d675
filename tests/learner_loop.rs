//! The training loop reads its losses back a block at a time (issue 13): the same numbers as
//! when it read every batch's loss at once, divergence still caught and undone, stops still
//! prompt, and on the GPU a readback per block rather than per batch.

mod common;
use std::rc::Rc;

use common::*;
use kiln::learner::{FitOutcome, Learner, Progress};
use kiln::nn::{Conv2d, Module, Sequential, Stateless};
use kiln::schedule::LearningRate;
use kiln::Device;

fn learner(count: usize, batch_size: usize, size: u32, device: &Device) -> Learner {
    let weights = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/www/models/mobilenet_v2.safetensors")).unwrap();
    let mut learner = Learner::vision(two_colour_dataset(count, size), &weights, "mobilenet_v2.safetensors", device).unwrap();
    learner.batch_size = batch_size;
    learner
}

fn weights(module: &dyn Module) -> Vec<(String, Vec<f32>)> {
    module.state().into_iter().map(|t| (t.name, values(&t.tensor))).collect()
}

/// The expected numbers were printed by the loop that read each loss at once (before issue 13),
/// and the blocked loop gives them bit for bit on the machine that printed them; the tolerance
/// only allows for CPUs where the matrix products take another path (FMA or not). The stored
/// features' numbers were printed again when inference came to fold each batch norm into its
/// convolution (features 1e-5 apart, which Adam's steps on near-zero gradients carry into the
/// losses): with the fold turned off, the loop still printed the old ones bit for bit. All of them
/// were printed again when the CPU matrix product came to compute its edge tiles (a 24-channel
/// or 4x4-pixel product's last rows or columns) with the vector micro-kernel, summing each block
/// of k before adding it (the old edge loop added term by term): the loop itself is unchanged,
/// and the numbers are the same with 1 or 2 threads. These short fits at a high rate on 24-48
/// tiny images carry such last-bit differences far (the whole network's epoch table moved by up
/// to 0.3; a divergence came one batch earlier). And again when the depthwise convolutions'
/// gradients came to sum in another order (each plane's taps as shifted planes, depthwise.rs):
/// the whole network's first train loss moved by 0.47, and the second lr_find ends a rate sooner.
fn assert_numbers(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{what}[{i}]: {g} vs {w} (all: {got:?})");
    }
}

fn table(learner: &Learner) -> Vec<f64> {
    learner.results.iter().flat_map(|r| [r.train_loss, r.valid_loss, r.error_rate]).collect()
}

#[test]
fn epoch_tables_are_those_of_the_loop_that_read_every_loss() {
    // 39 training images in batches of 2: 19 batches an epoch, so one block of 16 and a short
    // one at the epoch's end.
    let mut precomputed = learner(48, 2, 32, &Device::Cpu);
    precomputed.precompute = true;
    let outcome = block_on(precomputed.fit_one_cycle(2, LearningRate::Single(1e-2), 0.25, 25.0)).unwrap();
    assert_eq!(outcome, FitOutcome::Finished);
    let want = [1.066780244685891, 0.05842825439241198, 0.0, 0.8709242120452134, 0.05730375316407946, 0.0];
    assert_numbers(&table(&precomputed), &want, "precomputed: train_loss, valid_loss, error_rate per epoch");
    assert_eq!(precomputed.recorder.losses.len(), 38, "every batch recorded");
    assert_numbers(
        &precomputed.recorder.losses[15..18],
        &[1.0322543538183149, 0.9623167887406905, 0.8996620064961679],
        "around the block's end",
    );

    let mut full = learner(24, 4, 32, &Device::Cpu);
    block_on(full.fit_one_cycle(2, LearningRate::Single(1e-3), 0.25, 25.0)).unwrap();
    let want = [1.3608059439996718, 0.7922155559062958, 0.25, 2.118130093211955, 1.0306891202926636, 0.25];
    assert_numbers(&table(&full), &want, "the whole network (augmented batches): the epoch table");

    // Validation's per-item results, read back at once, are those of the model on each item.
    let results = block_on(full.validation_results()).unwrap();
    let (x, y) = full.data.batch(&full.data.valid, None, &Device::Cpu).unwrap();
    let logits = full.forward(&x).unwrap(); // in evaluation mode, as validation left it
    let losses = values(&logits.cross_entropy_per_item(&y, 0.0).unwrap());
    let probabilities = values(&logits.softmax(1).unwrap());
    assert_eq!(results.iter().map(|r| r.item).collect::<Vec<_>>(), full.data.valid, "in validation order");
    for (k, r) in results.iter().enumerate() {
        let row = &probabilities[2 * k..2 * k + 2];
        let predicted = if row[1] > row[0] { 1 } else { 0 };
        assert_eq!((r.actual, r.predicted), (full.data.items[r.item].label, predicted), "item {}", r.item);
        assert_numbers(&[r.loss, r.probability], &[losses[k] as f64, row[predicted] as f64], "loss and probability");
    }
}

#[test]
fn lr_find_records_are_those_of_the_loop_that_read_every_loss() {
    // 4 batches an epoch: the sweep ends (smoothed loss above 4x its best) at its 29th rate, the
    // first batch of an epoch whose other batches are trained before that loss is read; their
    // records are dropped.
    let mut learner = self::learner(24, 4, 32, &Device::Cpu);
    let body = weights(&learner.body);
    let (lrs, losses, suggestions) = block_on(learner.lr_find(1e-7, 10.0, 30)).unwrap();
    assert_eq!(lrs.len(), 29);
    assert!((lrs[28] - 2.928644564625237).abs() < 1e-12, "{lrs:?}");
    let want = [2.287289619445801, 1.7079704024574953, 1.4015231399759267, 1.24155069945526, 1.1297330558616674, 1.284895165327863];
    assert_numbers(&losses[..6], &want, "the first smoothed losses");
    assert_numbers(&losses[26..], &[1.8322167914509488, 2.5976973146365374, 5.67239808614886], "the last ones");
    assert_numbers(&[suggestions.valley, suggestions.steep], &[0.001, 6.309573444801933e-7], "suggestions");
    assert_eq!(weights(&learner.body), body, "every weight restored");

    // 19 batches an epoch: blocks of 16 and 3; the sweep ends at the second epoch's 17th batch,
    // the first of its short block, whose last two batches are trained before that loss is read
    // and are dropped.
    let mut learner = self::learner(72, 3, 32, &Device::Cpu);
    let (lrs, losses, _) = block_on(learner.lr_find(1e-7, 10.0, 40)).unwrap();
    assert_eq!(lrs.len(), 36);
    assert_numbers(
        &losses[14..18],
        &[1.634167412386084, 1.5477918701319258, 1.4515100596978714, 1.3734211557117701],
        "across a block's end",
    );
    assert_numbers(&losses[33..], &[1.7721986064213346, 1.8415602775388136, 4.364730694798399], "the last ones");
}

#[test]
fn a_nan_in_the_middle_of_a_block_is_caught_and_the_weights_restored() {
    let mut learner = self::learner(48, 2, 32, &Device::Cpu);
    learner.precompute = true;
    let before = weights(&learner.head);
    // The optimizer steps on batch 7's NaN loss, and on the batches after it, before the block
    // is read; the divergence is still reported where it happened, and every weight goes back.
    let outcome = block_on(learner.fit_one_cycle(1, LearningRate::Single(1e5), 0.25, 25.0)).unwrap();
    let why = "the loss became NaN at epoch 0, batch 7: the learning rate is too high";
    assert_eq!(outcome, FitOutcome::Diverged(why.into()));
    assert_eq!(learner.recorder.losses.len(), 7, "the batches before the NaN are recorded");
    assert!(learner.results.is_empty());
    assert_eq!(weights(&learner.head), before, "the fit's starting weights, bit for bit");
    // An explosion (finite but far above the best loss) comes up a block late too.
    let outcome = block_on(learner.fit_one_cycle(1, LearningRate::Single(1e3), 0.25, 25.0)).unwrap();
    assert!(matches!(&outcome, FitOutcome::Diverged(why) if why.contains("at epoch 0, batch 8")), "{outcome:?}");
    assert_eq!(weights(&learner.head), before);
    // The restored learner trains on.
    assert_eq!(block_on(learner.fit(1, LearningRate::Single(1e-3))).unwrap(), FitOutcome::Finished);
    assert!(learner.results[0].train_loss.is_finite());
}

#[test]
fn a_stop_is_honoured_after_the_batch_in_progress() {
    let mut learner = self::learner(48, 2, 32, &Device::Cpu);
    learner.precompute = true;
    // Asked before the fit (as if during the first batch): that batch is trained and recorded.
    learner.stop_requested.set(true);
    assert_eq!(block_on(learner.fit(1, LearningRate::Single(1e-3))).unwrap(), FitOutcome::Stopped);
    assert_eq!(learner.recorder.losses.len(), 1);
    // Asked while hearing a block's reports: the block is already trained, so all of it is
    // recorded and reported, and no epoch is validated.
    let stop = learner.stop_requested.clone();
    let heard = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = heard.clone();
    learner.on_progress = Some(Box::new(move |p| {
        if let Progress::Batch { batch, .. } = p {
            count.set(count.get() + 1);
            if *batch == 3 {
                stop.set(true);
            }
        }
    }));
    assert_eq!(block_on(learner.fit(2, LearningRate::Single(1e-3))).unwrap(), FitOutcome::Stopped);
    assert_eq!((heard.get(), learner.recorder.losses.len(), learner.results.len()), (16, 17, 0));
}

#[test]
fn the_gpu_reads_back_once_per_block_of_batches_and_once_per_validation() {
    let device = gpu();
    let counters = || device.gpu_counters().expect("a GPU device has counters");
    let mut learner = self::learner(48, 2, 16, &device);
    // What is counted here is the loop's, so a tiny body will do (fewer dispatches and snapshot
    // copies, each slow on a software GPU): a strided convolution to the head's 1280 features,
    // in as many layers as the layer groups need.
    let mut rng = kiln::rng::Pcg32::new(5);
    let mut layers: Vec<Rc<dyn Module>> = vec![Rc::new(Conv2d::new(3, 1280, 4, 4, 0, 1, true, &device, &mut rng).unwrap())];
    layers.extend((0..7).map(|_| Rc::new(Stateless::Relu) as Rc<dyn Module>));
    learner.body = Sequential::new(layers);
    learner.freeze();
    let per_epoch = learner.data.train.len() / learner.batch_size;
    assert_eq!(per_epoch, 19);
    // lr_find in batches of 8 (smaller ones are too noisy for its 4x rule with this body): 4 an
    // epoch, read at each epoch's end.
    learner.batch_size = 8;
    let before = counters();
    let (lrs, _, _) = block_on(learner.lr_find(1e-7, 1e-3, 20)).unwrap();
    assert_eq!((lrs.len(), counters().since(&before).readbacks), (20, 5), "lr_find: one readback per epoch of 4 batches");
    learner.batch_size = 2;
    let before = counters();
    assert_eq!(block_on(learner.fit(2, LearningRate::Single(1e-3))).unwrap(), FitOutcome::Finished);
    let readbacks = counters().since(&before).readbacks;
    // Per epoch: a block of 16 losses, the last 3 at the epoch's end, and one for validation.
    assert_eq!(readbacks, 2 * (2 + 1), "one readback per block of losses and per validation, not per batch");
    assert_eq!(learner.recorder.losses.len(), 2 * per_epoch, "and every batch recorded");
    assert!(learner.results.iter().all(|r| r.train_loss.is_finite() && r.valid_loss.is_finite()));
}
