// The RNN lab's Plotly chart: ∂L/∂h_t through time (log scale, with the clipping threshold). It `take`s the newest
// frame; the chart scheduler calls `draw`. (The prediction and the hidden state over time are canvas views, drawn
// every frame: prediction-view.js, heatmap-view.js.)

import { Plotly, fitToElement } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, classColors } from '../../core/theme.js';

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

function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(1) : v.toPrecision(3);
}
