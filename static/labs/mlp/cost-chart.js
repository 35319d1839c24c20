// Cost chart: train and test loss rolling downhill, accuracy on a second axis (classification only); linear or
// log scale; x in epochs (steps a toggle). A run that diverges keeps its axes on the last sane losses and says so.
// Reads frame.step, trainLoss, testLoss, trainAccuracy, testAccuracy, task, status, stepsPerEpoch (docs/page.md).

import { fitToElement, GrowingChart, stepRange, valueRange, extent } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from '../../core/theme.js';

const MAX_POINTS = 800; // beyond this, every other point is dropped: the whole run stays visible
// Losses beyond this many times where the run started are off the chart: a diverging run's 1e30 would otherwise
// flatten everything it learned into the x-axis.
const SANE_FACTOR = 20;

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
    this.unit = 'epoch'; // or 'step'
    this.stepsPerEpoch = 1;
    this.classification = true;
    this.diverged = null; // {x, y} of the last finite loss when the run diverged
    this.chart = new GrowingChart(el, chartConfig);
  }

  setLog(on) {
    this.log = on;
  }

  /** The x-axis unit: "epoch" (default) or "step". */
  setUnit(unit) {
    this.unit = unit === 'step' ? 'step' : 'epoch';
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
    this.classification = frame.task !== 'regression';
    if (frame.stepsPerEpoch > 0) this.stepsPerEpoch = frame.stepsPerEpoch;
    this.diverged = frame.status === 'diverged' ? { step: frame.step } : null;
  }

  draw() {
    const { step, series, generation } = this.history;
    const hasAccuracy = this.classification
      && (series.testAccuracy.some((v) => v !== null) || series.trainAccuracy.some((v) => v !== null));
    const names = ['batchLoss', 'trainLoss', 'testLoss', ...(hasAccuracy ? ['testAccuracy'] : [])];
    const losses = [series.batchLoss, series.trainLoss, series.testLoss];
    const [min, max] = extent(losses, this.log);
    const sane = saneMax(losses);
    const perX = this.unit === 'epoch' ? this.stepsPerEpoch : 1;
    const xs = perX === 1 ? step : step.map((s) => s / perX); // a new array only when the unit is epochs
    const lastX = (this.diverged?.step ?? step[step.length - 1] ?? 0) / perX;
    const xRange = stepRange(lastX, this.unit === 'epoch' ? 4 : 10);
    const yRange = valueRange(min, Math.min(max, sane), this.log);
    const mark = this.diverged ? divergedMark(lastX, yRange, this.log) : null;
    const key = [this.log, hasAccuracy, this.unit, perX, xRange, yRange, Boolean(mark), fontSize(1)].join();
    const copy = (name) => series[name].map((v) => (v !== null && Number.isFinite(v) ? v : null));
    const label = this.unit === 'epoch' ? 'epoch' : 'step';
    this.chart.draw(key, names.map((name) => ({ x: xs, y: series[name], generation })), () => {
      const traces = [
        line(xs.slice(), copy('batchLoss'), 'batch', 'rgba(88,196,221,0.3)', 'y', 1, label),
        line(xs.slice(), copy('trainLoss'), 'train', colors.positive, 'y', 4, label),
        line(xs.slice(), copy('testLoss'), 'test', colors.accentSoft, 'y', 3, label),
      ];
      if (hasAccuracy) traces.push(line(xs.slice(), copy('testAccuracy'), 'accuracy', colors.green, 'y2', 2, label, 'dot'));
      const layout = baseLayout({
        margin: { l: 72, r: hasAccuracy ? 72 : 16, t: 34, b: 48 },
        showlegend: true,
        legend: { orientation: 'h', x: 0, y: 1.01, yanchor: 'bottom', font: { size: fontSize(14) } },
        xaxis: axis({ title: { text: label, font: { size: fontSize(14) } }, range: xRange, autorange: false,
          nticks: 6 }),
        yaxis: axis({ type: this.log ? 'log' : 'linear', title: { text: 'loss', font: { size: fontSize(14) } },
          exponentformat: 'power', nticks: 6, ...(yRange ? { range: yRange, autorange: false } : { autorange: true }) }),
        yaxis2: axis({ overlaying: 'y', side: 'right', range: [0, 1.02], showgrid: false, tickformat: '.0%',
          tickvals: [0, 0.25, 0.5, 0.75, 1], visible: hasAccuracy, title: { text: 'accuracy', font: { size: fontSize(14) } } }),
        annotations: mark ? [mark] : [],
        uirevision: key,
      });
      return [traces, layout];
    });
  }
}

/**
 * The largest loss worth showing: SANE_FACTOR × where the run started (the first finite loss of each series, the
 * smallest of them: a minibatch's may already be far off). A run that learns stays well below it; one that diverges leaves the chart upwards instead of
 * flattening everything it learned into the x-axis (Infinity with no data).
 */
function saneMax(arrays) {
  let start = Infinity;
  for (const values of arrays) {
    const first = values.find((v) => v !== null && Number.isFinite(v));
    if (first !== undefined) start = Math.min(start, first);
  }
  return start > 0 && Number.isFinite(start) ? SANE_FACTOR * start : Infinity;
}

/** "diverged" at the run's end, at the top of the chart: what the losses did beyond it is off the scale. */
function divergedMark(x, yRange, log) {
  const top = yRange ? yRange[1] : (log ? 0 : 1);
  return {
    x, y: top, xref: 'x', yref: 'y', text: 'diverged ✕', showarrow: true, arrowhead: 2, ax: -40, ay: 24,
    font: { color: colors.negative, size: fontSize(16) }, arrowcolor: colors.negative, bgcolor: colors.background,
  };
}

function line(x, y, name, color, yaxis, width, unit, dash = 'solid') {
  return {
    type: 'scatter', mode: 'lines', x, y, name, yaxis, connectgaps: true,
    line: { color, width, dash, shape: 'linear' },
    hovertemplate: `${name} %{y:.4g}<extra>${unit} %{x:.4~g}</extra>`,
  };
}
