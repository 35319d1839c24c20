// Activations and gradient health: each hidden layer's pre-activation histogram under the activation function
// (saturated sigmoid/tanh and dead ReLUs show at a glance), with the probe's neurons as dots on the curve; and each
// layer's gradient norm over time on a log scale (vanishing and exploding gradients), with the clipping threshold.
//
// Reads frame.preActivationHist, histRange, histBins, preActivations, activations, gradNorm, hiddenActivations,
// settings; the curves come from the server's schema (activation_curves) when it sends them (docs/page.md).

import { Plotly, fitToElement, GrowingChart, stepRange, valueRange, extent } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from '../../core/theme.js';
import { History } from './cost-chart.js';

// One colour per layer, from the first hidden layer (blue) to the output (yellow).
const LAYER_COLORS = ['#58C4DD', '#83C167', '#C55F73', '#9A72AC', '#FF862F', '#A6CF8C', '#D4A5C6', '#E8E8E8', '#F4D345'];
const layerColor = (k, L) => (k === L - 1 ? colors.accentSoft : LAYER_COLORS[k % LAYER_COLORS.length]);

function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export class ActivationView {
  constructor(curvesEl, normsEl) {
    this.curvesEl = curvesEl;
    this.normsEl = normsEl;
    fitToElement(curvesEl);
    fitToElement(normsEl);
    this.curves = null; // {z: [...], curves: {name: {value, derivative}}} from the schema
    this.norms = null;
    this.normsKey = '';
    this.normsChart = new GrowingChart(normsEl, chartConfig);
  }

  setCurves(curves) {
    this.curves = curves ?? null;
  }

  /** Every frame: remember it and extend the gradient-norm history (drawing is the scheduler's call). */
  take(frame) {
    this.frame = frame;
    const L = frame.layerSizes.length - 1;
    const key = frame.layerSizes.join('-');
    if (key !== this.normsKey) {
      this.normsKey = key;
      this.norms = new History(Array.from({ length: L }, (_, k) => `layer${k}`));
    }
    const values = {};
    this.norms.names.forEach((name, k) => {
      const v = frame.gradNorm?.[k];
      values[name] = v > 0 && Number.isFinite(v) ? v : null;
    });
    this.norms.push(frame.step, values);
  }

  drawHistograms() {
    const { frame } = this;
    if (!frame) return;
    const L = frame.layerSizes.length - 1;
    const [lo, hi] = frame.histRange ?? [-6, 6];
    const bins = frame.histBins ?? 40;
    const width = (hi - lo) / bins;
    const centres = Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * width);
    const traces = [];
    const hist = frame.preActivationHist;
    let peak = 0.05;
    for (let k = 0; k < L - 1; k += 1) {
      const row = hist.subarray(k * bins, (k + 1) * bins);
      row.forEach((v) => { peak = Math.max(peak, v); });
      const color = layerColor(k, L);
      traces.push({
        type: 'scatter', mode: 'lines', x: centres, y: row, name: `layer ${k + 1}`, line: { shape: 'hvh', width: 2, color },
        fill: 'tozeroy', fillcolor: rgba(color, 0.18), hovertemplate: `layer ${k + 1}: %{y:.0%} at z≈%{x:.1f}<extra></extra>`,
      });
    }
    const activation = frame.hiddenActivations[0] ?? frame.settings?.activation;
    const curve = this.curves?.curves?.[activation];
    if (curve) {
      traces.push({
        type: 'scatter', mode: 'lines', x: this.curves.z, y: curve.value, yaxis: 'y2', name: `${activation}(z)`,
        line: { color: colors.text, width: 3 }, hoverinfo: 'skip',
      });
      traces.push({
        type: 'scatter', mode: 'lines', x: this.curves.z, y: curve.derivative, yaxis: 'y2', name: `${activation}′(z)`,
        line: { color: colors.accentSoft, width: 2, dash: 'dash' }, hoverinfo: 'skip',
      });
    }
    // The probe's own neurons: (z, a) pairs straight from the frame, lying on the activation curve.
    let aLow = -0.1;
    let aHigh = 1.05;
    for (let k = 0; k < L - 1; k += 1) {
      frame.activations[k + 1].forEach((v) => { aLow = Math.min(aLow, v * 1.1); aHigh = Math.max(aHigh, v * 1.1); });
    }
    if (curve) curve.value.forEach((v) => { aLow = Math.min(aLow, v); aHigh = Math.max(aHigh, v); });
    // One trace for every layer's dots (coloured per layer): each trace costs Plotly a few milliseconds.
    const dots = { x: [], y: [], color: [] };
    for (let k = 0; k < L - 1; k += 1) {
      frame.preActivations[k].forEach((z, i) => {
        dots.x.push(Math.max(lo, Math.min(hi, z)));
        dots.y.push(frame.activations[k + 1][i]);
        dots.color.push(layerColor(k, L));
      });
    }
    // Ranges in steps, so that most redraws only restyle the data (a full Plotly.react costs ~30 ms).
    const yRange = [0, Math.ceil(peak * 1.1 * 10) / 10];
    const a2Range = [aLow >= -0.1 ? -0.1 : Math.floor(aLow * 2) / 2, aHigh <= 1.05 ? 1.05 : Math.ceil(aHigh * 2) / 2];
    const key = [frame.layerSizes.join('-'), activation, Boolean(curve), lo, hi, bins, yRange, a2Range, fontSize(1)].join();
    const histograms = Array.from({ length: L - 1 }, (_, k) => hist.subarray(k * bins, (k + 1) * bins));
    if (key === this.histKey && this.curvesEl.data) {
      const indices = histograms.map((_, k) => k);
      indices.push(traces.length);
      Plotly.restyle(this.curvesEl, { x: [...histograms.map(() => centres), dots.x], y: [...histograms, dots.y] }, indices);
      return;
    }
    this.histKey = key;
    traces.push({
      type: 'scatter', mode: 'markers', x: dots.x, y: dots.y, yaxis: 'y2', name: 'the probe\'s neurons',
      marker: { size: 9, color: dots.color, line: { color: colors.background, width: 1 } }, hoverinfo: 'skip',
    });
    const layout = baseLayout({
      margin: { l: 48, r: 44, t: 30, b: 36 },
      title: { text: `pre-activations z under ${activation ?? 'σ'}(z)`, font: { size: fontSize(14), color: colors.muted },
        x: 0.02, xanchor: 'left', y: 0.97 },
      xaxis: axis({ range: [lo, hi], fixedrange: true }),
      yaxis: axis({ range: yRange, fixedrange: true, tickformat: '.0%', showgrid: false }),
      yaxis2: axis({ overlaying: 'y', side: 'right', fixedrange: true, range: a2Range,
        dtick: a2Range[1] - a2Range[0] > 4 ? 2 : 0.5, showgrid: false }),
      uirevision: key,
    });
    Plotly.react(this.curvesEl, traces, layout, chartConfig);
  }

  drawNorms() {
    const { frame, norms } = this;
    if (!frame) return;
    const L = frame.layerSizes.length - 1;
    const { names } = norms;
    const clipping = frame.settings?.clipping;
    const threshold = clipping && clipping !== 'off' ? frame.settings.clip_threshold : null;
    const columns = names.map((name) => norms.series[name]);
    let [min, max] = extent(columns, true);
    if (threshold) [min, max] = [Math.min(min, threshold), Math.max(max, threshold)];
    const xRange = stepRange(norms.step[norms.step.length - 1] ?? 0);
    const yRange = valueRange(min, max, true);
    const key = [this.normsKey, clipping, threshold, xRange, yRange, fontSize(1)].join();
    const series = columns.map((y) => ({ x: norms.step, y, generation: norms.generation }));
    this.normsChart.draw(key, series, () => {
      const traces = names.map((name, k) => ({
        type: 'scatter', mode: 'lines', x: norms.step.slice(), y: norms.series[name].slice(),
        name: k === L - 1 ? 'output' : `layer ${k + 1}`, line: { color: layerColor(k, L), width: 2.5 },
        hovertemplate: `${k === L - 1 ? 'output' : `layer ${k + 1}`}: %{y:.2e}<extra>step %{x}</extra>`,
      }));
      const shapes = [];
      const annotations = [];
      if (threshold) {
        shapes.push({ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: threshold, y1: threshold,
          line: { color: colors.negative, width: 2, dash: 'dash' } });
        annotations.push({ xref: 'paper', x: 1, y: Math.log10(threshold), xanchor: 'right', yanchor: 'bottom',
          text: clipping === 'norm' ? `clip: total norm ${threshold}` : `clip: each |g| ≤ ${threshold}`,
          showarrow: false, font: { color: colors.negative, size: fontSize(13) } });
      }
      const layout = baseLayout({
        margin: { l: 56, r: 12, t: 26 + 20 * Math.ceil(L / 5), b: 28 },
        title: { text: 'gradient norm per layer', font: { size: fontSize(14), color: colors.muted },
          x: 0.02, xanchor: 'left', y: 0.99, yanchor: 'top' },
        showlegend: true,
        legend: { orientation: 'h', x: 0, y: 1.0, yanchor: 'bottom', font: { size: fontSize(12) } },
        xaxis: axis({ range: xRange, autorange: false }),
        yaxis: axis({ type: 'log', exponentformat: 'power', dtick: 1,
          ...(yRange ? { range: yRange, autorange: false } : { autorange: true }) }),
        shapes,
        annotations,
        uirevision: key,
      });
      return [traces, layout];
    });
  }
}
