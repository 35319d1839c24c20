// #rnn-prediction: the model's output along the probe sequence, painted on a canvas every frame (about a
// millisecond, where the Plotly chart it replaces cost 30-200 ms a redraw and so lagged the training):
//   characters — a bar per step: the probability the model gave the character that really came next, that
//                character written above its bar;
//   the adding problem — the values (the two marked ones highlighted), then the target sum and the prediction;
//   waves — the target x_{t+1} as a broad pale line and the prediction ŷ_t over it.
// Hovering reads the numbers of the step under the pointer (the canvas's tooltip).

import { sizeCanvas } from '../../core/canvas.js';
import { colors, fontSize } from '../../core/theme.js';
import { visible } from './unrolled-view.js';

const MARGIN = { left: 56, right: 14, top: 30, bottom: 40 };
const TARGET_LINE = 'rgba(131,193,103,0.45)';

export class PredictionChart {
  constructor(el, title, caption) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'rnn-plot-canvas';
    el.replaceChildren(this.canvas);
    this.title = title;
    this.caption = caption;
    this.drawn = null; // {mode, L, x(t), y(v), tips[]}: what was painted, for the pointer and the tests
    this.canvas.addEventListener('mousemove', (event) => this.hover(event));
  }

  update(frame) {
    const state = frame?.state;
    const p = frame?.probe;
    if (!state || !p) return;
    const cssW = this.canvas.clientWidth || 400;
    const cssH = this.canvas.clientHeight || 260;
    const ctx = sizeCanvas(this.canvas, cssW, cssH);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, cssW, cssH);
    ctx.font = `${fontSize(12)}px Inter, "DejaVu Sans", sans-serif`;
    if (p.targetProbability) this.chars(ctx, cssW, cssH, state, p);
    else if (state.readout === 'last_step') this.adding(ctx, cssW, cssH, p);
    else this.waves(ctx, cssW, cssH, frame, p);
  }

  chars(ctx, w, h, state, p) {
    const L = p.targetProbability.length;
    const plot = frameAxes(ctx, w, h, { columns: L, yMin: 0, yMax: 1.15, yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
      xTitle: 't', yTitle: 'p(the right next character)' });
    const tips = [];
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    for (let t = 0; t < L; t += 1) {
      const v = p.targetProbability[t];
      const [left, right] = plot.band(t, 0.8);
      ctx.fillStyle = colors.positive;
      ctx.fillRect(left, plot.y(v), right - left, plot.y(0) - plot.y(v));
      const char = visible(state.vocabulary[p.target[t]]);
      ctx.fillStyle = p.predicted[t] === p.target[t] ? colors.green : colors.text;
      ctx.fillText(char, (left + right) / 2, plot.y(v) - 2);
      tips.push(`t ${t}: next is ${char}, given p = ${v.toFixed(3)}; guessed ${visible(state.vocabulary[p.predicted[t]])}`);
    }
    this.drawn = { mode: 'chars', L, ...plot, tips };
    this.title.textContent = 'Next character: how sure, how right';
    const right = p.predicted.reduce((n, id, t) => n + (id === p.target[t]), 0);
    this.caption.textContent = `${right} of ${L} guessed right (bars: the probability given to the true one; `
      + 'green letters: guessed right)';
  }

  adding(ctx, w, h, p) {
    const L = p.input.shape[0];
    const plot = frameAxes(ctx, w, h, { columns: L + 3, yMin: 0, yMax: 2, yTicks: [0, 0.5, 1, 1.5, 2],
      xTitle: 't  (then: target, prediction)' });
    const tips = [];
    const bar = (t, v, color) => {
      const [left, right] = plot.band(t, 0.8);
      const top = plot.y(Math.min(2, Math.max(0, v)));
      ctx.fillStyle = color;
      ctx.fillRect(left, top, right - left, plot.y(0) - top);
    };
    for (let t = 0; t < L; t += 1) {
      const value = p.input[t * 2];
      const marked = p.input[t * 2 + 1] > 0.5;
      bar(t, value, marked ? colors.accentSoft : colors.grid);
      tips.push(`t ${t}: value ${value.toFixed(3)}${marked ? ', marked' : ''}`);
    }
    tips.push('');
    bar(L + 1, p.target[0], colors.green);
    bar(L + 2, p.prediction[0], colors.positive);
    tips.push(`target sum ${p.target[0].toFixed(3)}`, `prediction ${p.prediction[0].toFixed(3)}`);
    legend(ctx, w, [['values', colors.grid], ['marked', colors.accentSoft], ['target sum', colors.green],
      ['prediction', colors.positive]]);
    this.drawn = { mode: 'adding', L, ...plot, tips };
    this.title.textContent = 'The adding problem';
    this.caption.textContent = `target ${p.target[0].toFixed(3)}, prediction ${p.prediction[0].toFixed(3)}`;
  }

  waves(ctx, w, h, frame, p) {
    const L = p.target.length;
    const plot = frameAxes(ctx, w, h, { columns: L, yMin: -1.2, yMax: 1.2, yTicks: [-1, -0.5, 0, 0.5, 1],
      xTitle: 't' });
    const line = (values, color, width) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      for (let t = 0; t < L; t += 1) {
        const y = plot.y(Math.max(-1.2, Math.min(1.2, values[t])));
        if (t === 0) ctx.moveTo(plot.x(t), y);
        else ctx.lineTo(plot.x(t), y);
      }
      ctx.stroke();
    };
    line(p.target, TARGET_LINE, 9);
    line(p.prediction, colors.positive, 2);
    ctx.fillStyle = colors.positive;
    for (let t = 0; t < L; t += 1) {
      ctx.beginPath();
      ctx.arc(plot.x(t), plot.y(Math.max(-1.2, Math.min(1.2, p.prediction[t]))), 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    legend(ctx, w, [['target xₜ₊₁', TARGET_LINE], ['prediction ŷₜ', colors.positive]]);
    const tips = Array.from({ length: L }, (_, t) => `t ${t}: target ${p.target[t].toFixed(3)}, `
      + `prediction ${p.prediction[t].toFixed(3)}`);
    this.drawn = { mode: 'waves', L, ...plot, tips };
    this.title.textContent = 'Prediction against target';
    let sq = 0;
    for (let t = 0; t < L; t += 1) sq += (p.prediction[t] - p.target[t]) ** 2;
    this.caption.textContent = `test sequence #${frame.probeIndex}: squared error ${(sq / L).toFixed(4)}`;
  }

  hover(event) {
    const d = this.drawn;
    if (!d) return;
    const x = event.clientX - this.canvas.getBoundingClientRect().left;
    const column = Math.floor((x - d.left) / d.columnWidth);
    this.canvas.title = d.tips[column] ?? '';
  }
}

/**
 * Axes for `columns` steps (one column each, tick labels about every 50 px) and a y range with `yTicks` (grid lines),
 * drawn on `ctx`; returns the mapping: x(t) a column's centre, band(t, share) its bar's [left, right], y(v).
 */
function frameAxes(ctx, w, h, { columns, yMin, yMax, yTicks, xTitle = '', yTitle = '' }) {
  const left = MARGIN.left;
  const top = MARGIN.top;
  const width = Math.max(10, w - MARGIN.left - MARGIN.right);
  const height = Math.max(10, h - MARGIN.top - MARGIN.bottom);
  const columnWidth = width / columns;
  const x = (t) => left + (t + 0.5) * columnWidth;
  const y = (v) => top + height * (1 - (v - yMin) / (yMax - yMin));
  const band = (t, share) => [x(t) - (share * columnWidth) / 2, x(t) + (share * columnWidth) / 2];
  ctx.strokeStyle = colors.grid;
  ctx.lineWidth = 1;
  ctx.fillStyle = colors.muted;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of yTicks) {
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(v)) + 0.5);
    ctx.lineTo(left + width, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(`${v}`, left - 6, y(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const every = [1, 2, 5, 10, 20, 50, 100, 200, 500].find((s) => s * columnWidth >= 40) ?? 1000;
  for (let t = 0; t < columns; t += every) ctx.fillText(`${t}`, x(t), top + height + 4);
  ctx.fillText(xTitle, left + width / 2, top + height + 4 + fontSize(14));
  if (yTitle) {
    ctx.save();
    ctx.translate(fontSize(12), top + height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(yTitle, 0, -fontSize(12) / 2);
    ctx.restore();
  }
  return { left, top, width, height, columnWidth, x, y, band };
}

/** A one-line legend at the top right: a swatch and a name per entry. */
function legend(ctx, w, entries) {
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  let x = w - MARGIN.right;
  const y = MARGIN.top / 2;
  for (const [name] of entries) x -= ctx.measureText(name).width + 26;
  for (const [name, color] of entries) {
    ctx.fillStyle = color;
    ctx.fillRect(x, y - 5, 14, 10);
    ctx.fillStyle = colors.text;
    ctx.fillText(name, x + 18, y);
    x += ctx.measureText(name).width + 26;
  }
}
