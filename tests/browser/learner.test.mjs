// kiln.Learner from JavaScript in headless Chromium: Lesson 2's fine_tune on the sample photos on
// the CPU backend (the same numbers as the native run), a short run on WebGPU (SwiftShader)
// checked against the CPU, lr_find, interpretation, the cleaner, export/load, stop and errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openKilnPage, runInWorker } from './harness.mjs';

let site;
before(async () => {
  site = await openKilnPage();
  await site.page.evaluate(async () => {
    window.sample = await import('/www/sample.js');
  });
});
after(() => site.close());

/** Runs `fn(kiln, sample)` in the page after selecting `backend`; returns what it returns. */
function inPage(backend, fn, arg) {
  return site.page.evaluate(async ([backend, source, arg]) => {
    await window.kiln.useBackend(backend);
    return (0, eval)(`(${source})`)(window.kiln, window.sample, arg);
  }, [backend, fn.toString(), arg]);
}

const table = (rows) => rows.map((r) => `${r.epoch}  ${r.trainLoss.toFixed(6)}  ${r.validLoss.toFixed(6)}  ${r.errorRate.toFixed(6)}  ${r.seconds.toFixed(1)}s`).join('\n');

/** Lesson 2's fine_tune(2) on the sample photos at 128 px, batch 16, timed. */
async function fineTuneOnSample({ ImageDataset, Learner }, sample) {
  const dataset = ImageDataset.fromFiles(await sample.loadSampleFiles(), { size: 128 });
  const summary = dataset.summary();
  const learn = await Learner.vision(dataset, { batchSize: 16, weightsUrl: '/www/models/mobilenet_v2.safetensors' });
  const events = [];
  learn.onProgress = (e) => events.push(e.type);
  const started = performance.now();
  const outcome = await learn.fineTune(2);
  return { summary, outcome, rows: learn.results, batches: events.filter((t) => t === 'batch').length, seconds: (performance.now() - started) / 1000 };
}

let singleThreaded;
test('cpu: fineTune(2) at 128 px, batch 16, on the sample photos reaches error_rate <= 0.25', async () => {
  const run = (singleThreaded = await inPage('cpu', fineTuneOnSample));
  console.log(`fine_tune(2) in the browser, CPU backend, one thread (${run.seconds.toFixed(1)} s):\nepoch train_loss valid_loss error_rate time\n${table(run.rows)}`);
  assert.deepEqual(run.summary.vocab, ['fishes', 'monuments', 'others', 'renewable', 'tools']);
  assert.equal(run.summary.items.filter((i) => i.split === 'valid').length, 27);
  assert.equal(run.summary.augment, true, "fastai's aug_transforms by default");
  assert.deepEqual(run.outcome, { outcome: 'finished' });
  assert.equal(run.rows.length, 3, 'one frozen epoch, then two unfrozen');
  assert.equal(run.batches, 3 * Math.floor(112 / 16));
  assert.ok(run.rows.at(-1).errorRate <= 0.25, `final error_rate ${run.rows.at(-1).errorRate}`);
});

test('cpu: the threaded builds (2 threads, with and without FMA) give the single-threaded epoch table', async () => {
  assert.ok(singleThreaded, 'the single-threaded run above finished');
  for (const build of ['threads', 'threads-fma']) {
    const { cpu, result: run } = await runInWorker(site.page, build, 2, fineTuneOnSample);
    console.log(`${build}, ${cpu.threads} threads (${run.seconds.toFixed(1)} s):\n${table(run.rows)}`);
    assert.deepEqual({ build: cpu.build, threads: cpu.threads, fma: cpu.fma }, { build, threads: 2, fma: build === 'threads-fma' });
    assert.deepEqual(run.outcome, { outcome: 'finished' });
    assert.equal(run.batches, singleThreaded.batches);
    // Threads split the work without changing any sum's order: the same numbers. FMA rounds each
    // multiply-add once instead of twice, so its sums differ in the last bits, and training
    // carries that along a little.
    const tolerance = build === 'threads' ? 1e-5 : 2e-3;
    run.rows.forEach((row, i) => {
      const one = singleThreaded.rows[i];
      for (const key of ['trainLoss', 'validLoss']) {
        assert.ok(Math.abs(row[key] - one[key]) <= tolerance * (1 + one[key]), `${build} ${key} of epoch ${i}: ${row[key]} vs ${one[key]}`);
      }
      assert.ok(Math.abs(row.errorRate - one.errorRate) <= (build === 'threads' ? 0 : 1 / 27 + 1e-9), `${build} error_rate of epoch ${i}`);
    });
  }
});

test('webgpu: a short fit of the head on precomputed features gives the CPU backend\'s numbers', async () => {
  const fit = async ({ ImageDataset, Learner }, sample) => {
    // Small, because SwiftShader (software WebGPU) runs each of the thousands of kernels of a
    // training step slowly: 16 photos of 2 classes at 32 px, the body's features computed once
    // (precompute) and the head trained on them for 2 epochs.
    const files = await sample.loadSampleFiles(undefined, { classes: ['fishes', 'tools'], perClass: 8 });
    const data = ImageDataset.fromFiles(files, { size: 32 });
    const learn = await Learner.vision(data, { batchSize: 4, precompute: true, weightsUrl: '/www/models/mobilenet_v2.safetensors' });
    const outcome = await learn.fitOneCycle(2, 1e-2);
    return { outcome, rows: learn.results, recorder: learn.recorder };
  };
  const cpu = await inPage('cpu', fit);
  const gpu = await inPage('webgpu', fit);
  console.log(`cpu:\n${table(cpu.rows)}\nwebgpu:\n${table(gpu.rows)}`);
  assert.deepEqual(gpu.outcome, { outcome: 'finished' });
  const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 2e-3 * (1 + Math.abs(b)), `${what}: webgpu ${a} vs cpu ${b}`);
  assert.equal(gpu.rows.length, 2);
  gpu.rows.forEach((row, i) => {
    near(row.trainLoss, cpu.rows[i].trainLoss, `train_loss of epoch ${i}`);
    near(row.validLoss, cpu.rows[i].validLoss, `valid_loss of epoch ${i}`);
    assert.equal(row.errorRate, cpu.rows[i].errorRate);
  });
  gpu.recorder.losses.forEach((l, i) => near(l, cpu.recorder.losses[i], `smoothed loss of batch ${i}`));
});

test('cpu: lrFind, interpretation, the cleaner, export and load, predict, stop and errors (with their kinds)', async () => {
  const r = await inPage('cpu', async ({ ImageDataset, Learner }, sample) => {
    // An error as "kind: message", kiln's error.kind first.
    const failure = (e) => `${e.kind}: ${e.message}`;
    const files = await sample.loadSampleFiles(undefined, { classes: ['fishes', 'monuments', 'tools'] });
    const learn = await Learner.vision(ImageDataset.fromFiles(files, { size: 64 }), { batchSize: 8, weightsUrl: '/www/models/mobilenet_v2.safetensors' });
    const before = await learn.validate();
    const finder = await learn.lrFind({ numIt: 30 });
    const afterFind = await learn.validate();
    let stopAt;
    learn.onProgress = (e) => { if (e.type === 'batch' && e.batch === 2) { stopAt = e; learn.stop(); } };
    const stopped = await learn.fitOneCycle(1, [1e-3]);
    learn.onProgress = null;
    const running = learn.fitOneCycle(1, 1e-3);
    const busy = await learn.validate().then(() => 'resolved', failure);
    await running;
    const interp = await learn.interpret();
    const dataset = learn.dataset;
    const victim = interp.topLosses[0];
    learn.relabelItem(victim.item, victim.predicted);
    const other = interp.topLosses[1].item;
    learn.deleteItem(other);
    const cleaned = learn.dataset;
    const refusedLabel = (() => { try { learn.relabelItem(0, 'whales'); return 'accepted'; } catch (e) { return e.message; } })();
    const { weights, description } = await learn.export();
    const photo = files.find((f) => f.label === 'tools');
    const prediction = await learn.predict(photo.bytes, photo.name);
    const corrupt = (() => { try { learn.loadExported(weights.slice(0, 100), description); return 'accepted'; } catch (e) { return failure(e); } })();
    const otherClasses = description.replace('"tools"', '"hammers"');
    const wrongClasses = (() => { try { learn.loadExported(weights, otherClasses); return 'accepted'; } catch (e) { return failure(e); } })();
    const samePrediction = await learn.predict(photo.bytes, photo.name);
    learn.loadExported(weights, description);
    const badRate = await learn.fitOneCycle(1, -1).then(() => 'resolved', failure);
    const noEpochs = await learn.fitOneCycle(0, 1e-3).then(() => 'resolved', failure);
    const notImage = await learn.predict(new TextEncoder().encode('hello'), 'notes.txt').then(() => 'resolved', failure);
    const options = {
      misspelt: await learn.lrFind({ numit: 30 }).then(() => 'resolved', failure),
      wrongType: await learn.tta({ n: 'four' }).then(() => 'resolved', failure),
      notObject: await learn.fitOneCycle(1, 1e-3, 'fast').then(() => 'resolved', failure),
      range: await learn.lrFind({ start: 1, end: 1e-3 }).then(() => 'resolved', failure),
      dataset: (() => { try { ImageDataset.fromFiles(files, { size: 64, validPCT: 0.3 }); return 'accepted'; } catch (e) { return failure(e); } })(),
    };
    const single = (() => { try { ImageDataset.fromFiles(files.filter((f) => f.label === 'tools'), { size: 32 }); return 'accepted'; } catch (e) { return failure(e); } })();
    const unreadable = (() => {
      try {
        ImageDataset.fromFiles(files.slice(0, 4).map((f) => ({ ...f, bytes: f.bytes.slice(0, 50) })), { size: 32 });
        return 'accepted';
      } catch (e) { return failure(e); }
    })();
    return { before, finder, afterFind, stopAt, stopped, busy, interp, dataset, victim, cleaned, other, refusedLabel, weightsLength: weights.length,
      description: JSON.parse(description), prediction, samePrediction, corrupt, wrongClasses, badRate, noEpochs, notImage, options, single, unreadable };
  });
  assert.deepEqual(r.afterFind, r.before, 'lr_find restores every weight');
  assert.equal(r.finder.lrs.length, r.finder.losses.length);
  for (const [name, value] of Object.entries(r.finder.suggestions)) assert.ok(value > 1e-7 && value < 10, `${name} = ${value}`);
  assert.deepEqual(r.stopped, { outcome: 'stopped' });
  assert.equal(r.stopAt.batch, 2);
  assert.match(r.busy, /^bad-input: validate: .*busy/);
  const validCount = r.dataset.items.filter((i) => i.split === 'valid').length;
  assert.equal(r.interp.items.length, validCount);
  assert.equal(r.interp.confusion.flat().reduce((a, b) => a + b, 0), validCount);
  const losses = r.interp.topLosses.map((t) => t.loss);
  assert.deepEqual(losses, [...losses].sort((a, b) => b - a), 'top losses come largest first');
  assert.equal(r.cleaned.items[r.victim.item].label, r.victim.predicted);
  assert.equal(r.cleaned.items[r.other].split, 'deleted');
  assert.match(r.refusedLabel, /'whales' is not one of the classes/);
  assert.deepEqual(r.description.vocab, ['fishes', 'monuments', 'tools']);
  assert.ok(r.weightsLength > 9e6);
  assert.equal(r.prediction.probabilities.length, 3);
  assert.ok(Math.abs(r.prediction.probabilities.reduce((a, b) => a + b) - 1) < 1e-4);
  assert.match(r.corrupt, /^decode: load_safetensors: model\.safetensors: not a readable safetensors file/);
  assert.match(r.wrongClasses, /^bad-input: load: model\.safetensors: the model knows the classes/);
  assert.deepEqual(r.samePrediction, r.prediction, 'a failed load changes nothing');
  assert.match(r.badRate, /^bad-input: .*learning rate/i);
  assert.match(r.noEpochs, /^bad-input: fit_one_cycle: needs at least one epoch/);
  assert.equal(r.notImage, 'decode: decode_image: notes.txt: is not an image kiln can read (JPEG, PNG, WebP, GIF or BMP)');
  // Options are read into Rust structs: a misspelt or wrongly typed option is named.
  assert.match(r.options.misspelt, /^bad-input: lrFind: option numit: unknown field `numit`, expected one of `start`, `end`, `numIt`$/);
  assert.match(r.options.wrongType, /^bad-input: tta: option n: invalid type: string "four"/);
  assert.match(r.options.notObject, /^bad-input: fitOneCycle: the options must be an object/);
  assert.match(r.options.range, /^bad-input: lr_find: needs 0 < start < end/);
  assert.match(r.options.dataset, /^bad-input: ImageDataset\.fromFiles: option validPCT: unknown field `validPCT`/);
  assert.match(r.single, /^bad-input: dataset: a classifier needs at least two classes/);
  assert.match(r.unreadable, /^decode: dataset: no readable images \(4 file\(s\) skipped\)/);
});
