// kiln's JavaScript API, called from real JavaScript in headless Chromium, on both backends.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openKilnPage } from './harness.mjs';

let site;
before(async () => {
  site = await openKilnPage();
});
after(() => site.close());

/** Runs `fn(kiln)` in the page after selecting `backend`; returns what it returns. */
function inPage(backend, fn) {
  return site.page.evaluate(async ([backend, source]) => {
    await window.kiln.useBackend(backend);
    return (0, eval)(`(${source})`)(window.kiln);
  }, [backend, fn.toString()]);
}

const close = (actual, expected, tol = 1e-5) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * (1 + Math.abs(expected[i])), `[${i}] ${a} vs ${expected[i]}`));
};

test('useBackend reports the backend and adapter, and refuses unknown names', async () => {
  const gpu = await inPage('webgpu', (k) => k.backendInfo());
  assert.equal(gpu.backend, 'webgpu');
  assert.match(gpu.adapter, /swiftshader/i);
  assert.equal(gpu.fallback, true, 'SwiftShader is a software (fallback) adapter');
  const cpu = await inPage('cpu', (k) => k.backendInfo());
  assert.deepEqual(cpu, { backend: 'cpu', adapter: 'CPU, 1 thread, WebAssembly SIMD128', fallback: false });
  const refused = await inPage('cpu', (k) => k.useBackend('tpu').then(() => 'resolved', (e) => [e instanceof Error, e.message]));
  assert.deepEqual(refused, [true, "useBackend: unknown backend 'tpu'; use 'auto', 'webgpu' or 'cpu'"]);
});

for (const backend of ['webgpu', 'cpu']) {
  test(`${backend}: creation, elementwise ops, reductions and layout`, async () => {
    const r = await inPage(backend, async ({ Tensor }) => {
      const a = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = Tensor.fromArray(new Float32Array([10, 20, 30]), [3]);
      const arr = async (t) => Array.from(await t.toArray());
      return {
        shape: a.shape, backend: a.backend,
        add: await arr(a.add(b)), addNumber: await arr(a.add(1)), sub: await arr(a.sub(b)),
        mul: await arr(a.mul(2)), div: await arr(b.div(a)), neg: await arr(b.neg()),
        pow: await arr(a.pow(2)), pow3: await arr(a.pow(3)), exp: await arr(Tensor.fromArray([0, 1], [2]).exp()),
        log: await arr(Tensor.fromArray([1, Math.E], [2]).log()), relu: await arr(Tensor.fromArray([-1, 2], [2]).relu()),
        sum: await a.sum().item(), sum0: await arr(a.sum(0)), sum1keep: a.sum(1, true).shape,
        mean: await a.mean().item(), mean1: await arr(a.mean(1)),
        matmul: await arr(a.matmul(Tensor.fromArray([1, 0, 0, 1, 1, 1], [3, 2]))),
        transpose: await arr(a.transpose()), reshape: a.reshape([3, 2]).shape,
        zeros: await arr(Tensor.zeros([2])), ones: await arr(Tensor.ones([2])),
        randnSame: (await arr(Tensor.randn([4], 7))).join() === (await arr(Tensor.randn([4], 7))).join(),
      };
    });
    assert.deepEqual(r.shape, [2, 3]);
    assert.equal(r.backend, backend);
    assert.deepEqual(r.add, [11, 22, 33, 14, 25, 36]);
    assert.deepEqual(r.addNumber, [2, 3, 4, 5, 6, 7]);
    assert.deepEqual(r.sub, [-9, -18, -27, -6, -15, -24]);
    assert.deepEqual(r.mul, [2, 4, 6, 8, 10, 12]);
    close(r.div, [10, 10, 10, 2.5, 4, 5]);
    assert.deepEqual(r.neg, [-10, -20, -30]);
    close(r.pow, [1, 4, 9, 16, 25, 36]);
    close(r.pow3, [1, 8, 27, 64, 125, 216]);
    close(r.exp, [1, Math.E]);
    close(r.log, [0, 1]);
    assert.deepEqual(r.relu, [0, 2]);
    assert.equal(r.sum, 21);
    assert.deepEqual(r.sum0, [5, 7, 9]);
    assert.deepEqual(r.sum1keep, [2, 1]);
    assert.equal(r.mean, 3.5);
    assert.deepEqual(r.mean1, [2, 5]);
    assert.deepEqual(r.matmul, [4, 5, 10, 11]);
    assert.deepEqual(r.transpose, [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(r.reshape, [3, 2]);
    assert.deepEqual([r.zeros, r.ones], [[0, 0], [1, 1]]);
    assert.ok(r.randnSame);
  });

  test(`${backend}: autograd accumulates, zeroGrad clears, SGD follows PyTorch`, async () => {
    const r = await inPage(backend, async ({ Tensor, SGD }) => {
      const x = Tensor.fromArray([1, 2], [2], true);
      x.mul(x).sum().backward();
      x.mul(x).sum().backward();
      const accumulated = Array.from(await x.grad.toArray()); // 2 * 2x
      x.zeroGrad();
      const cleared = x.grad;
      // Momentum 0.9, weight decay 0.01, constant gradient 2, p0 = 1 (see tests/sgd.rs).
      const p = Tensor.fromArray([1], [1], true);
      const sgd = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
      const steps = [];
      for (let i = 0; i < 2; i++) {
        sgd.zeroGrad();
        p.mul(2).sum().backward();
        sgd.step();
        steps.push((await p.toArray())[0]);
      }
      // The lesson's manual update on a tensor that is still usable after being given to SGD.
      p.sub_(p.grad.mul(0.5));
      return { accumulated, cleared, steps, afterSub: (await p.toArray())[0], requiresGrad: p.requiresGrad, lr: sgd.lr };
    });
    assert.deepEqual(r.accumulated, [4, 8]);
    assert.equal(r.cleared, undefined);
    close(r.steps, [0.799, 0.417301], 1e-6);
    close([r.afterSub], [0.417301 - 1], 1e-6);
    assert.equal(r.requiresGrad, true);
    close([r.lr], [0.1]);
  });

  test(`${backend}: bad input throws a clear Error and the module keeps working`, async () => {
    const r = await inPage(backend, async ({ Tensor, SGD }) => {
      const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return `${e instanceof Error}: ${e.message}`; } };
      const a = Tensor.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
      return {
        broadcast: attempt(() => a.add(Tensor.fromArray([1, 2], [2]))),
        matmul: attempt(() => a.matmul(a)),
        count: attempt(() => Tensor.fromArray([1, 2, 3], [2, 2])),
        empty: attempt(() => Tensor.zeros([0, 3])),
        badShape: attempt(() => Tensor.zeros([2, -1])),
        notTensor: attempt(() => a.add('three')),
        nonScalar: attempt(() => Tensor.fromArray([1, 2], [2], true).mul(2).backward()),
        sgdLr: attempt(() => new SGD([Tensor.fromArray([1], [1], true)], { lr: -1 })),
        sgdParams: attempt(() => new SGD([a, 5], { lr: 0.1 })),
        stillWorks: Array.from(await a.add(1).toArray()),
      };
    });
    assert.equal(r.broadcast, 'true: add: shapes [2, 3] and [2] cannot be broadcast together');
    assert.equal(r.matmul, 'true: matmul: cannot multiply shapes [2, 3] and [2, 3]');
    assert.equal(r.count, 'true: from_array: 3 numbers cannot fill shape [2, 2] (4 elements)');
    assert.match(r.empty, /^true: full: shape \[0, 3\] has no elements/);
    assert.match(r.badShape, /^true: Tensor.zeros: shape must be an array of non-negative integers/);
    assert.equal(r.notTensor, 'true: add: the operand must be a kiln Tensor or a number');
    assert.equal(r.nonScalar, 'true: backward: needs a single number (a scalar loss), got shape [2]');
    assert.match(r.sgdLr, /^true: SGD: the learning rate must be a positive number/);
    assert.equal(r.sgdParams, 'true: SGD: params[1] is not a kiln Tensor');
    assert.deepEqual(r.stillWorks, [2, 3, 4, 5, 6, 7]);
  });
}

test('options: defaults when left out; a misspelt or wrongly typed one is a bad-input Error naming it', async () => {
  const r = await inPage('cpu', async (k) => {
    const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return `${e.kind}: ${e.message}`; } };
    const p = k.Tensor.fromArray([1], [1], true);
    return {
      lr: new k.SGD([p], { lr: 0.5, momentum: undefined, weightDecay: null }).lr,
      noBias: new k.Linear(3, 4, { bias: false }).parameters().length,
      defaults: new k.Conv2d(3, 4, 3).parameters().length,
      missingLr: attempt(() => new k.SGD([p], { momentum: 0.9 })),
      misspelt: attempt(() => new k.SGD([p], { lr: 0.1, momentun: 0.9 })),
      wrongType: attempt(() => new k.SGD([p], { lr: '0.1' })),
      notObject: attempt(() => new k.SGD([p], 0.1)),
      stride: attempt(() => new k.Conv2d(3, 4, 3, { stride: 1.5 })),
      padding: attempt(() => new k.Conv2d(3, 4, 3, { padding: -1 })),
      bias: attempt(() => new k.Linear(3, 4, { bias: 'no' })),
      params: attempt(() => new k.SGD([p, 5], { lr: 0.1 })),
    };
  });
  close([r.lr], [0.5]);
  assert.equal(r.noBias, 1);
  assert.equal(r.defaults, 2);
  assert.equal(r.missingLr, 'bad-input: SGD: option lr is required, as in {lr: 0.1}');
  assert.match(r.misspelt, /^bad-input: SGD: option momentun: unknown field `momentun`, expected one of `lr`, `momentum`, `weightDecay`$/);
  assert.match(r.wrongType, /^bad-input: SGD: option lr: invalid type: string "0\.1", expected f32/);
  assert.equal(r.notObject, 'bad-input: SGD: the options must be an object like {name: value}, not a number');
  assert.match(r.stride, /^bad-input: Conv2d: option stride: invalid type: floating point `1\.5`, expected usize/);
  assert.match(r.padding, /^bad-input: Conv2d: option padding: invalid value: integer `-1`, expected usize/);
  assert.match(r.bias, /^bad-input: Linear: option bias: invalid type: string "no", expected a boolean/);
  assert.equal(r.params, 'bad-input: SGD: params[1] is not a kiln Tensor');
});

test('tensors from two backends do not mix', async () => {
  const message = await site.page.evaluate(async () => {
    const { useBackend, Tensor } = window.kiln;
    await useBackend('webgpu');
    const onGpu = Tensor.ones([2]);
    await useBackend('cpu');
    try { Tensor.ones([2]).add(onGpu); return 'no error'; } catch (e) { return e.message; }
  });
  assert.equal(message, 'add: tensors are on different backends (cpu with shape [2], webgpu with shape [2])');
});

test('GPU kernels agree with the CPU backend in the browser on odd shapes', async () => {
  const worst = await site.page.evaluate(async () => {
    const { useBackend, Tensor } = window.kiln;
    const run = async (backend) => {
      await useBackend(backend);
      const a = Tensor.fromArray(await Tensor.randn([3, 5, 7], 1).toArray(), [3, 5, 7], true);
      const b = Tensor.randn([7, 129], 2);
      const c = Tensor.randn([129, 65], 3);
      const h = a.matmul(b).relu().add(Tensor.randn([129], 4)).transpose();   // [3, 129, 5]
      const loss = h.exp().add(1).log().sum(1).pow(2).mean();
      loss.backward();
      const big = Tensor.randn([129, 65], 5).mul(c).sum(0);
      return [...await h.toArray(), await loss.item(), ...await a.grad.toArray(), ...await big.toArray()];
    };
    const [gpu, cpu] = [await run('webgpu'), await run('cpu')];
    return gpu.reduce((w, g, i) => Math.max(w, Math.abs(g - cpu[i]) / (1 + Math.abs(cpu[i]))), 0);
  });
  assert.ok(worst < 1e-4, `largest relative difference ${worst}`);
});

for (const backend of ['webgpu', 'cpu']) {
  test(`${backend}: nn layers with PyTorch names train with SGD`, async () => {
    const r = await inPage(backend, async (k) => {
      const net = new k.Sequential([
        new k.Conv2d(3, 4, 3, { padding: 1 }), new k.BatchNorm2d(4), new k.ReLU6(),
        new k.Conv2d(4, 4, 3, { stride: 2, groups: 4, bias: false }), new k.ReLU(),
      ]);
      const head = new k.Sequential([new k.Linear(4 * 2 * 2, 8), new k.BatchNorm1d(8), new k.Dropout(0.1), new k.Linear(8, 2)]);
      const x = k.Tensor.randn([8, 3, 6, 6], 3);
      const labels = k.Tensor.fromArray([0, 1, 0, 1, 0, 1, 0, 1], [8]);
      const onehot = k.Tensor.fromArray([1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1], [8, 2]);
      const sgd = new k.SGD([...net.parameters(), ...head.parameters()], { lr: 0.1, momentum: 0.9 });
      const losses = [];
      for (let step = 0; step < 15; step++) {
        const logits = head.forward(net.forward(x).reshape([8, 16]));
        const loss = logits.sub(onehot).pow(2).mean();
        losses.push(await loss.item());
        sgd.zeroGrad();
        loss.backward();
        sgd.step();
      }
      net.eval();
      const evalShape = net.forward(x).shape;
      const attempt = (f) => { try { f(); return 'no error'; } catch (e) { return e.message; } };
      return {
        names: net.namedTensors().map((t) => `${t.name}${t.trainable ? '' : ' (buffer)'}`),
        losses, evalShape, labels: labels.shape,
        badGroups: attempt(() => new k.Conv2d(3, 4, 3, { groups: 2 })),
        badLayer: attempt(() => new k.Sequential([net, 'relu'])),
        badInput: attempt(() => net.forward(k.Tensor.zeros([2, 5, 6, 6]))),
      };
    });
    assert.deepEqual(r.names, ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean (buffer)', '1.running_var (buffer)', '3.weight']);
    assert.ok(r.losses.at(-1) < r.losses[0] / 2, `training lowers the loss: ${r.losses[0]} -> ${r.losses.at(-1)}`);
    assert.deepEqual(r.evalShape, [8, 4, 2, 2]);
    assert.equal(r.badGroups, 'Conv2d: groups = 2 must divide inChannels = 3 and outChannels = 4');
    assert.equal(r.badLayer, 'Sequential: item 1 is not a kiln layer');
    assert.match(r.badInput, /^conv2d: input \[2, 5, 6, 6\] and weight \[4, 3, 3, 3\]/);
  });
}
