// Cost chart: train and test loss rolling downhill, accuracy on a second axis; linear or log scale.
// Reads frame.step, trainLoss, testLoss, trainAccuracy, testAccuracy (docs/page.md).

import { fitToElement, GrowingChart, stepRange, valueRange, extent } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from '../../core/theme.js';

const MAX_POINTS = 800; // beyond this, every other point is dropped: the whole run stays visible

/** A growing series of (step, value) that thins itself instead of growing without bound. */
export class History {
  constructor(names) {
    this.names = names;
    this.clear();
  }

  clear() {
    this.step = [];
    this.series = Object.fromEntries(this.names.map((n) => [n, []]));
    this.stride = 1;
    this.seen = 0;
    this.revision = (this.revision ?? 0) + 1; // never repeats: Plotly's datarevision for arrays grown in place
    // Bumped whenever points already drawn change (cleared, thinned): a chart then redraws in full instead of
    // appending (GrowingChart).
    this.generation = (this.generation ?? 0) + 1;
  }

  /** Append one sample; a step that went backwards (reset) starts a new history. */
  push(step, values) {
    const last = this.step[this.step.length - 1];
    if (last !== undefined && step < last) this.clear();
    if (last === step) return;
    this.seen += 1;
    if (this.seen % this.stride !== 0) return;
    this.step.push(step);
    this.revision += 1;
    for (const n of this.names) this.series[n].push(values[n] ?? null);
    if (this.step.length > MAX_POINTS) {
      const keep = (_, i) => i % 2 === 0;
      this.step = this.step.filter(keep);
      for (const n of this.names) this.series[n] = this.series[n].filter(keep);
      this.stride *= 2;
      this.generation += 1;
    }
  }
}

export class CostChart {
  constructor(el) {
    this.el = el;
    fitToElement(el);
    this.history = new History(['trainLoss', 'testLoss', 'trainAccuracy', 'testAccuracy', 'batchLoss']);
    this.log = false;
    this.chart = new GrowingChart(el, chartConfig);
  }

  setLog(on) {
    this.log = on;
  }

  /** Start from the server's history bundle (on connect and after reset): arrays of (n,), NaN where unknown. */
  load(arrays) {
    this.history.clear();
    const steps = arrays['history.step'];
    if (!steps) return;
    const column = (name) => arrays[`history.${name}`];
    for (let i = 0; i < steps.length; i += 1) {
      const at = (name) => (column(name) && Number.isFinite(column(name)[i]) ? column(name)[i] : null);
      this.history.push(steps[i], {
        trainLoss: at('train_loss'), testLoss: at('test_loss'), trainAccuracy: at('train_accuracy'),
        testAccuracy: at('test_accuracy'), batchLoss: at('batch_loss'),
      });
    }
  }

  /** Every frame: remember its numbers (drawing is the scheduler's call). */
  take(frame) {
    this.history.push(frame.metricsStep, frame);
  }

  draw() {
    const { step, series, generation } = this.history;
    const hasAccuracy = series.testAccuracy.some((v) => v !== null) || series.trainAccuracy.some((v) => v !== null);
    const names = ['batchLoss', 'trainLoss', 'testLoss', ...(hasAccuracy ? ['testAccuracy'] : [])];
    const [min, max] = extent([series.batchLoss, series.trainLoss, series.testLoss], this.log);
    const xRange = stepRange(step[step.length - 1] ?? 0);
    const yRange = valueRange(min, max, this.log);
    const key = [this.log, hasAccuracy, xRange, yRange, fontSize(1)].join();
    const copy = (name) => series[name].map((v) => (v !== null && Number.isFinite(v) ? v : null));
    this.chart.draw(key, names.map((name) => ({ x: step, y: series[name], generation })), () => {
      const traces = [
        line(step.slice(), copy('batchLoss'), 'batch', 'rgba(88,196,221,0.3)', 'y', 1),
        line(step.slice(), copy('trainLoss'), 'train', colors.positive, 'y', 4),
        line(step.slice(), copy('testLoss'), 'test', colors.accentSoft, 'y', 3),
      ];
      if (hasAccuracy) traces.push(line(step.slice(), copy('testAccuracy'), 'accuracy', colors.green, 'y2', 2, 'dot'));
      const layout = baseLayout({
        margin: { l: 64, r: hasAccuracy ? 60 : 16, t: 34, b: 44 },
        showlegend: true,
        legend: { orientation: 'h', x: 0, y: 1.01, yanchor: 'bottom', font: { size: fontSize(14) } },
        xaxis: axis({ title: { text: 'step', font: { size: fontSize(14) } }, range: xRange, autorange: false }),
        yaxis: axis({ type: this.log ? 'log' : 'linear', title: { text: 'loss', font: { size: fontSize(14) } },
          exponentformat: 'power', ...(yRange ? { range: yRange, autorange: false } : { autorange: true }) }),
        yaxis2: axis({ overlaying: 'y', side: 'right', range: [0, 1.02], showgrid: false, tickformat: '.0%',
          tickvals: [0, 0.25, 0.5, 0.75, 1], visible: hasAccuracy, title: { text: 'accuracy', font: { size: fontSize(14) } } }),
        uirevision: key,
      });
      return [traces, layout];
    });
  }
}

function line(x, y, name, color, yaxis, width, dash = 'solid') {
  return {
    type: 'scatter', mode: 'lines', x, y, name, yaxis, connectgaps: true,
    line: { color, width, dash, shape: 'linear' },
    hovertemplate: `${name} %{y:.4g}<extra>step %{x}</extra>`,
  };
}
