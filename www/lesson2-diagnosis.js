// After training, what the numbers say, in the lesson's words (fastai course, Lesson 2):
// - learning rate too high: the loss explodes; no amount of training repairs it, retrain lower;
// - too low a rate, or too few epochs: train_loss stays above valid_loss, error_rate still falls;
// - too many epochs: error_rate improves, then gets worse (overfitting). train_loss below
//   valid_loss alone is NOT overfitting.
import { el, rate } from './lesson2-ui.js';

/**
 * Paragraphs for the diagnosis box from the run's `outcome` ('finished' | 'stopped' |
 * 'diverged'), its epoch `rows`, the learning rate used and whether the body was unfrozen.
 */
export function diagnose({ outcome, rows, lr, unfrozen, app }) {
  const out = [el('h3', {}, 'What the numbers say')];
  const p = (...children) => out.push(el('p', {}, ...children));
  const top = Array.isArray(lr) ? lr[1] : lr;

  if (outcome === 'diverged') {
    p(el('strong', {}, 'The learning rate is too high. '),
      'The loss exploded: each step overshot further than the last. Training longer cannot repair this; ',
      `train again from the last good weights with a lower rate, say ${rate(top / 10)}, or run Find learning rate and take a rate where the loss is still falling.`);
    out.push(el('button', {
      type: 'button',
      onclick: () => app.run('going back to the last good weights', async () => {
        await app.rebuild(app.info.backend);
        out.at(-1).replaceWith(el('p', {}, app.lastModel ? 'Back to the weights from the last finished training.' : 'Back to the ImageNet weights and a new head.'));
      }),
    }, 'Go back to the last good weights'));
    return out;
  }
  if (!rows.length) {
    p('No epoch finished, so there is nothing to judge yet. Train for at least one whole epoch.');
    return out;
  }

  const last = rows.at(-1);
  const errors = rows.map((r) => r.errorRate);
  const best = errors.indexOf(Math.min(...errors));
  const fell = best > 0 && errors[best] < errors[0];
  const rose = best < rows.length - 1 && last.errorRate > errors[best];
  if (fell && rose) {
    p(el('strong', {}, 'Too many epochs: the model is starting to overfit. '),
      `error_rate fell to ${errors[best].toFixed(4)} at epoch ${rows[best].epoch}, then rose to ${last.errorRate.toFixed(4)}: it is learning the training photos by heart instead of what the classes look like. `,
      `Train again from the start with fewer epochs (${best + 1} instead of ${rows.length}). `,
      '(A train_loss below valid_loss on its own is not overfitting: only a worse error_rate is.)');
  } else if (last.trainLoss > last.validLoss) {
    p(el('strong', {}, 'Not trained enough yet. '),
      `train_loss (${last.trainLoss.toFixed(4)}) is still above valid_loss (${last.validLoss.toFixed(4)}): the model has not even fitted the photos it trains on. `,
      'The learning rate was too low or there were too few epochs: train for more epochs, or with a higher rate.');
  } else if (rows.length > 1 && last.errorRate < errors.at(-2)) {
    p(el('strong', {}, 'Still improving: too few epochs, or too low a learning rate. '),
      `error_rate was still falling at the last epoch (${errors.at(-2).toFixed(4)} → ${last.errorRate.toFixed(4)}): train for a few more epochs, or with a higher rate.`);
  } else {
    p(el('strong', {}, 'Looks well trained. '),
      `error_rate is ${last.errorRate.toFixed(4)} (${(100 * (1 - last.errorRate)).toFixed(1)}% right) and has stopped improving with these settings.`);
  }
  p(unfrozen
    ? 'Next: look at what it gets wrong (Show top losses), and clean the data if some photos are mislabelled.'
    : 'Next: press Unfreeze, find the learning rate again, and train a few epochs with a slice such as 1e-5, 1e-3, so the pretrained body adapts too. Or first look at what it gets wrong: Show top losses.');
  return out;
}
