// Steps 4 and 5 of the lesson: what the model gets wrong (fastai's ClassificationInterpretation:
// plot_top_losses, the confusion matrix, most_confused) and fastai's ImageClassifierCleaner,
// which deletes or relabels photos for the next training and lists the changes as a CSV.
import { Op } from './learner-protocol.js';
import { $, csvField, el, percent, say } from './lesson2-ui.js';
import { photo } from './lesson2-data.js';

const TOP = 9;
const CLEANER_MAX = 30;

/** The last interpretation, dropped whenever the model or the data change. */
let interpretation = null;
/** Its validation losses, which the cleaner keeps using after cleaning (deleted photos left out). */
let losses = null;
let csvUrl = null;

export function setupInterpret(app) {
  $('top-losses-button').addEventListener('click', () => showTopLosses(app));
  $('tta-button').addEventListener('click', () => compareTta(app));
  $('normalize').addEventListener('change', () => interpretation && showConfusion(app, interpretation));
  $('clean-button').addEventListener('click', () => openCleaner(app));
  $('clean-class').addEventListener('change', () => showCleaner(app));
  $('clean-split').addEventListener('change', () => showCleaner(app));
  $('apply-clean').addEventListener('click', () => applyCleaning(app));
  const stale = () => { interpretation = null; losses = null; };
  app.on('trained', () => {
    stale();
    $('tta-table').hidden = true; // another model: its figures no longer hold
  });
  app.on('dataset', ({ fresh, cleaned }) => {
    if (cleaned) interpretation = null; // the same model: its losses still hold for the cleaner
    else stale();
    if (fresh) {
      $('top-losses').replaceChildren();
      $('confusion-view').hidden = true;
      $('tta-table').hidden = true;
      $('cleaner').hidden = true;
      say('interpret-status', '');
      say('clean-status', '');
      showCsv(app);
    }
  });
}

/** The validation set's per-photo losses, predictions and the confusion matrix (cached). */
async function interpret(app) {
  interpretation ??= await app.worker.call(Op.INTERPRET);
  losses = interpretation.topLosses;
  return interpretation;
}

function showTopLosses(app) {
  return app.run('interpretation', async () => {
    say('interpret-status', 'Predicting every validation photo…');
    const interp = await interpret(app);
    const top = interp.topLosses.slice(0, TOP);
    $('top-losses').replaceChildren(...top.map((t) => photo(app, t.name, `${t.predicted}/${t.actual}/${t.loss.toFixed(2)}/${t.probability.toFixed(2)}`,
      { className: `photo ${t.predicted === t.actual ? '' : 'wrong'}` })));
    const wrong = interp.items.filter((i) => i.predicted !== i.actual).length;
    say('interpret-status', `${wrong} of ${interp.items.length} validation photos are predicted wrong. Each title reads prediction/actual/loss/probability of the prediction.`);
    showConfusion(app, interp);
  });
}

/** The validation error rate without and with test-time augmentation, side by side. */
function compareTta(app) {
  return app.run('test-time augmentation', async () => {
    say('interpret-status', 'Predicting every validation photo five times (once as it is, four times augmented)…');
    const { errorRate, plainErrorRate } = await app.worker.call(Op.TTA);
    const row = (name, error) => el('tr', {}, el('th', { scope: 'row' }, name), el('td', {}, error.toFixed(4)), el('td', {}, (1 - error).toFixed(4)));
    $('tta-table').tBodies[0].replaceChildren(row('without TTA', plainErrorRate), row('with TTA', errorRate));
    $('tta-table').hidden = false;
    const change = errorRate < plainErrorRate ? 'TTA helps here' : errorRate > plainErrorRate ? 'TTA does worse here' : 'TTA changes nothing here';
    say('interpret-status', `${change}: error_rate ${plainErrorRate.toFixed(4)} without, ${errorRate.toFixed(4)} with (fastai's tta: 4 augmented passes averaged, then blended 3:1 with the plain one).`);
  });
}

/** confusion[actual][predicted], as counts or as each actual class's fractions. */
function showConfusion(app, interp) {
  const vocab = app.summary.vocab;
  const normalize = $('normalize').checked;
  $('confusion-view').hidden = false;
  const head = el('tr', {}, el('th', { scope: 'col', className: 'corner' }, 'actual ╲ predicted'), ...vocab.map((v) => el('th', { scope: 'col' }, v)));
  const max = Math.max(1, ...interp.confusion.flat());
  const rows = interp.confusion.map((row, a) => {
    const total = row.reduce((s, n) => s + n, 0) || 1;
    return el('tr', {}, el('th', { scope: 'row' }, vocab[a]), ...row.map((n, p) => {
      const share = normalize ? n / total : n / max;
      // Darker cells for more photos; the diagonal (right answers) in blue, mistakes in orange.
      const colour = a === p ? `rgba(29, 78, 216, ${0.12 + 0.6 * share})` : n ? `rgba(194, 65, 12, ${0.15 + 0.6 * share})` : 'transparent';
      return el('td', { style: `background:${colour}`, dataCount: String(n) }, normalize ? (n / total).toFixed(2) : String(n));
    }));
  });
  $('confusion').replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
  $('confusion').setAttribute('aria-label', `Confusion matrix (${normalize ? 'each row normalised' : 'counts'}): rows are the actual classes, columns the predictions`);
  const pairs = interp.mostConfused;
  $('most-confused').replaceChildren(...(pairs.length
    ? pairs.map((c) => el('li', {}, `${c.actual} taken for ${c.predicted}: ${c.count} photo${c.count === 1 ? '' : 's'}`))
    : [el('li', {}, 'None: every validation photo is predicted right.')]));
}

/** The cleaner: pick a class and a split, review its photos largest loss first. */
function openCleaner(app) {
  return app.run('the cleaner', async () => {
    await interpret(app);
    const select = $('clean-class');
    const chosen = select.value;
    select.replaceChildren(...app.summary.vocab.map((v) => el('option', { value: v }, v)));
    if (app.summary.vocab.includes(chosen)) select.value = chosen;
    $('cleaner').hidden = false;
    showCleaner(app);
    $('clean-class').focus();
  });
}

/**
 * Validation photos of the class come sorted by loss (largest first); training photos have no
 * loss computed, so they come in dataset order. At most 30, like fastai's cleaner.
 */
function cleanerItems(app) {
  const label = $('clean-class').value;
  if ($('clean-split').value === 'valid' && losses) {
    const now = app.summary.items; // labels and splits after any cleaning
    return losses.filter((t) => now[t.item].label === label && now[t.item].split === 'valid').slice(0, CLEANER_MAX)
      .map((t) => ({ item: t.item, name: t.name, note: `loss ${t.loss.toFixed(2)}, predicted ${t.predicted} (${percent(t.probability)})` }));
  }
  const split = $('clean-split').value;
  return app.summary.items.map((it, item) => ({ ...it, item })).filter((it) => it.label === label && it.split === split)
    .slice(0, CLEANER_MAX).map((it) => ({ item: it.item, name: it.name, note: it.split }));
}

function showCleaner(app) {
  const label = $('clean-class').value;
  const items = cleanerItems(app);
  const choices = ['Keep', 'Delete', ...app.summary.vocab.filter((v) => v !== label)];
  $('clean-grid').replaceChildren(...items.map(({ item, name, note }) => {
    const figure = photo(app, name, note);
    const select = el('select', { ariaLabel: `What to do with ${name}`, dataItem: String(item), dataName: name },
      ...choices.map((c, i) => el('option', { value: i === 0 ? 'keep' : i === 1 ? 'delete' : c }, i > 1 ? `Relabel as ${c}` : c)));
    figure.append(select);
    return figure;
  }));
  say('clean-status', items.length
    ? `${items.length} ${$('clean-split').value} photos labelled ${label}${$('clean-split').value === 'valid' ? ', the ones the model finds hardest first' : ''}.`
    : `No ${$('clean-split').value} photos labelled ${label}.`);
}

/** Deletes and relabels what the selects say; the next training uses the cleaned data. */
function applyCleaning(app) {
  const changes = [...$('clean-grid').querySelectorAll('select')].filter((s) => s.value !== 'keep').map((s) => ({
    item: Number(s.dataset.item),
    name: s.dataset.name,
    action: s.value === 'delete' ? 'delete' : 'relabel',
    label: s.value === 'delete' ? '' : s.value,
  }));
  if (!changes.length) {
    say('clean-status', 'Nothing to apply: every photo is set to Keep.');
    return undefined;
  }
  return app.run('cleaning', async () => {
    const summary = await app.worker.call(Op.CLEAN, { changes });
    app.edits.push(...changes.map(({ name, action, label }) => ({ name, action, label })));
    app.emit('dataset', { summary, fresh: false, cleaned: true });
    const deleted = changes.filter((c) => c.action === 'delete').length;
    showCleaner(app);
    say('clean-status', `Deleted ${deleted} and relabelled ${changes.length - deleted} photo${changes.length - deleted === 1 ? '' : 's'}: the next training uses the cleaned data. Your files are untouched; the CSV lists the changes to make to them.`);
    showCsv(app);
  });
}

/** "Download changes (CSV)": file,action,new_label for every change so far. */
function showCsv(app) {
  if (csvUrl) URL.revokeObjectURL(csvUrl);
  csvUrl = null;
  const link = $('clean-csv');
  link.hidden = !app.edits.length;
  if (!app.edits.length) return;
  const lines = ['file,action,new_label', ...app.edits.map((e) => [e.name, e.action, e.label].map(csvField).join(','))];
  csvUrl = URL.createObjectURL(new Blob([`${lines.join('\n')}\n`], { type: 'text/csv' }));
  link.href = csvUrl;
}
