// MobileNetV2 with its real ImageNet weights in headless Chromium, on both backends, against the
// independent numpy forward pass (tests/fixtures/mobilenet_reference.json).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openKilnPage } from './harness.mjs';

const reference = JSON.parse(readFileSync(new URL('../fixtures/mobilenet_reference.json', import.meta.url)));
let site;
before(async () => {
  site = await openKilnPage();
  await site.page.evaluate(() => {
    window.imageBytes = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
    window.loadModel = () => window.kiln.Model.mobilenetV2({
      pretrained: true, weightsUrl: '/www/models/mobilenet_v2.safetensors', classesUrl: '/www/models/imagenet_classes.txt',
    });
  });
});
after(() => site.close());

test("'auto' prefers the CPU backend over a software WebGPU adapter, and says why", async () => {
  const info = await site.page.evaluate(() => window.kiln.useBackend('auto'));
  assert.equal(info.backend, 'cpu');
  assert.match(info.reason, /only WebGPU adapter here is a software one \(google swiftshader/);
});

// A real race (compareBackends) runs the whole network several times on each backend: minutes on
// SwiftShader, too slow for this suite. Its options are checked here, and the timing it uses,
// SpeedTest::training_rate, natively (tests/models.rs).
test("compareBackends and useBackend('auto') refuse bad options before timing anything", async () => {
  const refused = await site.page.evaluate(() => Promise.all([
    window.kiln.compareBackends({ batchSize: 1 }).then(() => 'resolved', (e) => e.message),
    window.kiln.compareBackends({ steps: 1000 }).then(() => 'resolved', (e) => e.message),
    window.kiln.useBackend('auto', { size: 'big' }).then(() => 'resolved', (e) => e.message),
    window.kiln.useBackend('auto', { size: 4096 }).then(() => 'resolved', (e) => e.message),
  ]));
  assert.match(refused[0], /^compareBackends: option batchSize: the batch size must be at least 2/);
  assert.equal(refused[1], 'compareBackends: option steps: from 1 to 20 timed steps, got 1000');
  assert.match(refused[2], /^useBackend: option size: invalid type/);
  assert.equal(refused[3], 'useBackend: option size: the image size must be from 1 to 1024 pixels, got 4096');
});

for (const backend of ['cpu', 'webgpu']) {
  test(`${backend}: MobileNetV2 sees a bald eagle and a malamute, as numpy does`, async () => {
    const results = await site.page.evaluate(async (backend) => {
      await window.kiln.useBackend(backend);
      const model = await window.loadModel();
      const out = {};
      for (const name of ['eagle', 'dog']) {
        out[name] = await model.predict(await window.imageBytes(`/tests/fixtures/images/${name}.jpg`), 1000, `${name}.jpg`);
      }
      return out;
    }, backend);
    for (const [name, label] of [['eagle', 'bald eagle'], ['dog', 'malamute']]) {
      const predictions = results[name];
      assert.equal(predictions[0].label, label, `${name} on ${backend}`);
      const expected = reference.images[name];
      expected.top5_indices.forEach((index, i) => {
        const got = predictions.find((p) => p.index === index).probability;
        assert.ok(Math.abs(got - expected.top5_probabilities[i]) <= 0.01, `${name} class ${index} on ${backend}: ${got} vs ${expected.top5_probabilities[i]}`);
      });
    }
  });
}

test('bad files give clear errors of the right kind and leave the model working', async () => {
  const r = await site.page.evaluate(async () => {
    await window.kiln.useBackend('cpu');
    const model = await window.loadModel();
    // "kind: message" of an Error, kiln's error.kind first.
    const attempt = async (f) => { try { await f(); return 'no error'; } catch (e) { return `${e instanceof Error && e.kind}: ${e.message}`; } };
    const threeClasses = await (await window.kiln.Model.mobilenetV2({ pretrained: false, numClasses: 3 })).save();
    const eagle = await window.imageBytes('/tests/fixtures/images/eagle.jpg');
    return {
      text: await attempt(() => model.predict(new TextEncoder().encode('not a picture'), 5, 'notes.png')),
      truncated: await attempt(() => model.predict(eagle.slice(0, 20000), 5, 'cut.jpg')),
      weights: await attempt(() => model.load(new Uint8Array([1, 2, 3]), 'broken.safetensors')),
      missing: await attempt(() => window.kiln.Model.mobilenetV2({ weightsUrl: '/nowhere.safetensors' })),
      otherShape: await attempt(() => model.load(threeClasses, 'three-classes.safetensors')),
      badOption: await attempt(() => window.kiln.Model.mobilenetV2({ pretrained: 'yes' })),
      stillWorks: (await model.predict(eagle, 1))[0].label,
      names: model.stateNames().length,
    };
  });
  assert.equal(r.text, 'decode: decode_image: notes.png: is not an image kiln can read (JPEG, PNG, WebP, GIF or BMP)');
  assert.match(r.truncated, /^decode: decode_image: cut\.jpg: is damaged or truncated/);
  assert.match(r.weights, /^decode: load_safetensors: broken\.safetensors: not a readable safetensors file/);
  assert.match(r.missing, /^bad-input: Model: could not fetch \/nowhere\.safetensors: HTTP status 404/);
  assert.equal(r.otherShape, "shape: load_safetensors: three-classes.safetensors: tensor 'classifier.1.weight' has shape [3, 1280], the model expects [1000, 1280]");
  assert.match(r.badOption, /^bad-input: Model\.mobilenetV2: option pretrained: invalid type: string "yes", expected a boolean/);
  assert.equal(r.stillWorks, 'bald eagle');
  assert.equal(r.names, 262);
});
