// Stochastic gradient descent, "stumbling downhill": the cost of a minibatch (what a step actually descends: jumpy,
// since each batch is a handful of examples; one dot per frame, the frame's last minibatch) beside the cost over
// the whole training set (what we want to fall: smooth). A row of batch sizes changes it live: batch 1 stumbles
// wildly, 500 barely stumbles.
//
// Reads frame.step, batchLoss, metricsStep, trainLoss, settings.batch_size, dataset.meta.n_train; load() takes the
// server's history bundle (history.step, history.batch_loss, history.train_loss) on connect and after reset.

import { fitToElement, GrowingChart, stepRange, valueRange, extent } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from '../../core/theme.js';
import { History } from './cost-chart.js';
import { el } from '../../core/dom.js';

const BATCH_SIZES = [1, 10, 32, 100, 500];

export class SgdView {
  /**
   * @param {HTMLElement} root where the batch-size row and the chart are built
   * @param {{send: (event: string, payload: object) => Promise<object>}} hooks
   */
  constructor(root, hooks) {
    root.classList.add('sgd-view');
    const bar = el('div', 'sgd-bar');
    bar.append(el('span', 'muted', 'batch size'));
    this.sizeButtons = BATCH_SIZES.map((n) => {
      const b = el('button', 'chip-button', String(n));
      b.type = 'button';
      b.title = `Minibatches of ${n} example${n === 1 ? '' : 's'}`;
      b.addEventListener('click', () => hooks.send('set', { batch_size: n }));
      bar.append(b);
      return b;
    });
    this.note = el('span', 'muted sgd-note');
    bar.append(this.note);
    this.chart = el('div', 'plot sgd-chart');
    root.append(bar, this.chart);
    fitToElement(this.chart);
    this.batch = new History(['loss']);
    this.full = new History(['loss']);
    this.log = true;
    this.plot = new GrowingChart(this.chart, chartConfig);
  }

  /** Start from the server's history bundle: arrays (n,), NaN where unknown. */
  load(arrays) {
    this.batch.clear();
    this.full.clear();
    const steps = arrays['history.step'];
    if (!steps) return;
    const value = (name, i) => {
      const v = arrays[`history.${name}`]?.[i];
      return Number.isFinite(v) ? v : null;
    };
    for (let i = 0; i < steps.length; i += 1) {
      if (value('batch_loss', i) !== null) this.batch.push(steps[i], { loss: value('batch_loss', i) });
      if (value('train_loss', i) !== null) this.full.push(steps[i], { loss: value('train_loss', i) });
    }
  }

  /** Every frame: remember its numbers (drawing is the page's chart scheduler's call). */
  take(frame) {
    if (frame.step < (this.batch.step[this.batch.step.length - 1] ?? 0)) {
      this.batch.clear();
      this.full.clear();
    }
    if (Number.isFinite(frame.batchLoss)) this.batch.push(frame.step, { loss: frame.batchLoss });
    if (Number.isFinite(frame.trainLoss)) this.full.push(frame.metricsStep, { loss: frame.trainLoss });
    const size = frame.settings?.batch_size;
    const nTrain = frame.dataset?.meta?.n_train;
    this.sizeButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(BATCH_SIZES[i] === size)));
    this.note.textContent = size && nTrain ? `each step sees ${Math.min(size, nTrain)} of ${nTrain} training examples` : '';
  }

  draw() {
    const { batch, full } = this;
    const [min, max] = extent([batch.series.loss, full.series.loss], this.log);
    const xRange = stepRange(Math.max(batch.step[batch.step.length - 1] ?? 0, full.step[full.step.length - 1] ?? 0));
    const yRange = valueRange(min, max, this.log);
    const key = [this.log, xRange, yRange, fontSize(1)].join();
    const series = [
      { x: batch.step, y: batch.series.loss, generation: batch.generation },
      { x: full.step, y: full.series.loss, generation: full.generation },
    ];
    this.plot.draw(key, series, () => {
      const traces = [
        {
          type: 'scatter', mode: 'lines+markers', name: 'this minibatch', x: batch.step.slice(), y: batch.series.loss.slice(),
          line: { color: 'rgba(88,196,221,0.5)', width: 1.5 }, marker: { color: colors.positive, size: 7, opacity: 0.9 },
          hovertemplate: 'minibatch cost %{y:.4g}<extra>step %{x}</extra>',
        },
        {
          type: 'scatter', mode: 'lines', name: 'whole training set', x: full.step.slice(), y: full.series.loss.slice(),
          line: { color: colors.accent, width: 4 }, connectgaps: true,
          hovertemplate: 'training-set cost %{y:.4g}<extra>step %{x}</extra>',
        },
      ];
      const layout = baseLayout({
        margin: { l: 60, r: 12, t: 8, b: 40 },
        showlegend: true,
        legend: { x: 0.99, xanchor: 'right', y: 0.99, bgcolor: 'rgba(14,17,23,0.7)', font: { size: fontSize(13) } },
        xaxis: axis({ title: { text: 'step', font: { size: fontSize(13) } }, range: xRange, autorange: false }),
        yaxis: axis({ type: this.log ? 'log' : 'linear', title: { text: 'cost', font: { size: fontSize(13) } },
          exponentformat: 'power', dtick: this.log ? 'D2' : undefined,
          ...(yRange ? { range: yRange, autorange: false } : { autorange: true }) }),
        uirevision: key,
      });
      return [traces, layout];
    });
  }
}
