// The RNN lab's Plotly charts: ∂L/∂h_t through time (log scale, with the clipping threshold) and the prediction
// against the target along the probe sequence. Each `take`s the newest frame; the chart scheduler calls `draw`.
// (The hidden state over time is a canvas view: heatmap-view.js.)

import { Plotly, fitToElement } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, classColors } from '../../core/theme.js';
import { visible } from './unrolled-view.js';

const DIRECTION_DASH = ['solid', 'dot'];

export class GradientTimeChart {
  constructor(el, caption) {
    this.el = el;
    this.caption = caption;
    this.frame = null;
    fitToElement(el);
  }

  take(frame) {
    this.frame = frame;
  }

  draw() {
    const frame = this.frame;
    if (!frame?.state) return;
    const state = frame.state;
    const s = state.settings;
    const traces = [];
    const g = frame.gradH;
    let min = Infinity;
    let max = 0;
    if (g) {
      const [K, D, L] = g.shape;
      for (let k = 0; k < K; k += 1) {
        for (let d = 0; d < D; d += 1) {
          // h_0 sits before step 0 for the forward direction, after step L-1 for the reverse one
          const x = [];
          const y = [];
          const h0 = frame.gradH0[k * D + d];
          if (d === 0) { x.push(-1); y.push(h0); }
          for (let t = 0; t < L; t += 1) {
            x.push(t);
            y.push(g[(k * D + d) * L + t]);
          }
          if (d === 1) { x.push(L); y.push(h0); }
          for (const v of y) if (v > 0 && Number.isFinite(v)) { min = Math.min(min, v); max = Math.max(max, v); }
          traces.push({
            x, y: y.map((v) => (v > 0 ? v : null)), type: 'scatter', mode: 'lines+markers',
            name: `layer ${k}${D === 2 ? (d === 0 ? ' →' : ' ←') : ''}`,
            line: { color: classColors[(k + 1) % classColors.length], width: 2.5, dash: DIRECTION_DASH[d] },
            marker: { size: 4 },
          });
        }
      }
    }
    const shapes = [];
    const annotations = [];
    if (s.clipping === 'norm') {
      shapes.push({ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: s.clip_threshold, y1: s.clip_threshold,
        line: { color: colors.accent, dash: 'dash', width: 2 } });
      annotations.push({ xref: 'paper', x: 1, y: Math.log10(s.clip_threshold), xanchor: 'right', yanchor: 'bottom',
        text: `clipping threshold ${s.clip_threshold} (on ‖∇θ‖, now ${fmt(frame.gradNorm)})`, showarrow: false,
        font: { color: colors.accent } });
      min = Math.min(min, s.clip_threshold);
      max = Math.max(max, s.clip_threshold);
    }
    const range = max > 0 ? [Math.floor(Math.log10(min)) - 0.2, Math.ceil(Math.log10(max)) + 0.2] : undefined;
    const layout = baseLayout({
      showlegend: traces.length > 1,
      legend: { orientation: 'h', y: 1.12, font: { color: colors.text } },
      xaxis: axis({ title: { text: 'time step t  (−1: h₀)' }, zeroline: false }),
      yaxis: axis({ type: 'log', title: { text: '‖∂L/∂hₜ‖', standoff: 4 }, range, exponentformat: 'power',
        automargin: true }),
      margin: { l: 72, r: 16, t: 36, b: 44 },
      shapes, annotations,
    });
    Plotly.react(this.el, traces, layout, chartConfig);
    if (g && max > 0) {
      const y = traces[0].y;
      const [first, last] = [y[0], y[y.length - 1]];
      this.caption.textContent = first && last
        ? `h₀ gets ${fmt(first / last)}× the last step's`
        : 'how much each step still influences the loss';
    } else {
      this.caption.textContent = 'appears after the first training step';
    }
  }
}

export class PredictionChart {
  constructor(el, title, caption) {
    this.el = el;
    this.title = title;
    this.caption = caption;
    this.frame = null;
    fitToElement(el);
  }

  take(frame) {
    this.frame = frame;
  }

  draw() {
    const frame = this.frame;
    if (!frame?.state) return;
    const state = frame.state;
    const p = frame.probe;
    let traces;
    let layout;
    if (p.targetProbability) { // characters: how likely the model found the character that came next
      const L = p.targetProbability.length;
      const x = Array.from({ length: L }, (_, t) => t);
      traces = [{ x, y: Array.from(p.targetProbability), type: 'bar', marker: { color: colors.positive },
        text: Array.from(p.target, (id) => visible(state.vocabulary[id])), textposition: 'outside',
        name: 'p(next character)' }];
      layout = baseLayout({ xaxis: axis({ title: { text: 't' } }),
        yaxis: axis({ title: { text: 'p(the right next character)' }, range: [0, 1.15] }) });
      this.title.textContent = 'Next character: how sure, how right';
      const right = p.predicted.reduce((n, id, t) => n + (id === p.target[t]), 0);
      this.caption.textContent = `${right} of ${L} guessed right (bars: the probability given to the true one)`;
    } else if (state.readout === 'last_step') { // the adding problem: the sum, read at the end
      const L = p.input.shape[0];
      const x = Array.from({ length: L }, (_, t) => t);
      const values = x.map((t) => p.input[t * 2]);
      const marked = x.filter((t) => p.input[t * 2 + 1] > 0.5);
      traces = [
        { x, y: values, type: 'bar', width: 0.8, marker: { color: colors.grid }, name: 'values' },
        { x: marked, y: marked.map((t) => values[t]), type: 'bar', width: 0.8, marker: { color: colors.accentSoft },
          name: 'marked' },
        { x: [L + 1], y: [p.target[0]], type: 'bar', width: 0.8, marker: { color: colors.green }, name: 'target sum' },
        { x: [L + 2], y: [p.prediction[0]], type: 'bar', width: 0.8, marker: { color: colors.positive },
          name: 'prediction' },
      ];
      layout = baseLayout({ barmode: 'overlay', showlegend: true, legend: { orientation: 'h', y: 1.15 },
        xaxis: axis({ title: { text: 't  (then: target, prediction)' } }), yaxis: axis({ range: [0, 2] }) });
      this.title.textContent = 'The adding problem';
      this.caption.textContent = `target ${p.target[0].toFixed(3)}, prediction ${p.prediction[0].toFixed(3)}`;
    } else { // waves: the next value at every step
      const L = p.target.length;
      const x = Array.from({ length: L }, (_, t) => t);
      traces = [
        { x, y: Array.from(p.target), type: 'scatter', mode: 'lines', name: 'target xₜ₊₁',
          line: { color: 'rgba(131,193,103,0.45)', width: 9 } },
        { x, y: Array.from(p.prediction), type: 'scatter', mode: 'lines+markers', name: 'prediction ŷₜ',
          line: { color: colors.positive, width: 2 }, marker: { size: 4 } },
      ];
      layout = baseLayout({ showlegend: true, legend: { orientation: 'h', y: 1.15 },
        xaxis: axis({ title: { text: 't' } }), yaxis: axis({ range: [-1.2, 1.2] }) });
      this.title.textContent = 'Prediction against target';
      let sq = 0;
      for (let t = 0; t < L; t += 1) sq += (p.prediction[t] - p.target[t]) ** 2;
      this.caption.textContent = `test sequence #${frame.probeIndex}: squared error ${(sq / L).toFixed(4)}`;
    }
    Plotly.react(this.el, traces, layout, chartConfig);
  }
}

function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(1) : v.toPrecision(3);
}
