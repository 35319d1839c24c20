// #rnn-hidden-heatmap: the hidden state h_t of one layer over time for the probe sequence, painted on a canvas —
// one column per time step, one row per hidden unit (the reverse direction's below the forward's), on the red–blue
// diverging scale of the other views, with its colour bar. Painted every frame: it costs about a millisecond,
// where a Plotly heatmap cost 30-100 ms a redraw (and so only updated a few times a second).

import { sizeCanvas } from '../../core/canvas.js';
import { putDiverging } from '../../core/grid-paint.js';
import { colors, colorLut, divergingScale, fontSize } from '../../core/theme.js';

const LUT = colorLut(divergingScale);
const MARGIN = { left: 64, right: 58, top: 10, bottom: 40 };
const BAR = 12; // colour bar width

export class HiddenHeatmap {
  constructor(el, layerSelect, redraw = () => {}) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'rnn-plot-canvas';
    el.replaceChildren(this.canvas);
    this.layerSelect = layerSelect;
    this.offscreen = document.createElement('canvas');
    this.image = null;
    this.cell = null; // {L, width, H, D, k, states, x0, y0, cw, ch}: what the pointer reads
    layerSelect.addEventListener('change', redraw);
    this.canvas.addEventListener('mousemove', (event) => this.hover(event));
  }

  /** The layer choice follows the number of layers (the top one at first). */
  take(frame) {
    const K = frame.hidden.length;
    if (this.layerSelect.options.length !== K) {
      const chosen = Math.min(Number(this.layerSelect.value || K - 1), K - 1);
      this.layerSelect.replaceChildren(...Array.from({ length: K }, (_, k) => new Option(`${k}`, `${k}`)));
      this.layerSelect.value = String(chosen < 0 ? K - 1 : chosen);
    }
  }

  update(frame) {
    if (!frame?.state || !frame.hidden?.length) return;
    this.take(frame);
    const k = Math.min(Number(this.layerSelect.value || 0), frame.hidden.length - 1);
    const states = frame.hidden[k];
    if (!states) return;
    const [L, width] = states.shape;
    const D = frame.state.num_directions;
    const H = width / D;
    const relu = frame.state.cell_type === 'RNN' && frame.state.settings?.nonlinearity === 'relu';
    // tanh, sigmoid-gated states live in [-1, 1]; a ReLU RNN's are unbounded: scaled to the largest |h|
    let scale = 1;
    if (relu) {
      scale = 0;
      for (const v of states) scale = Math.max(scale, Math.abs(v));
      scale = scale > 0 ? scale : 1;
    }

    const cssW = this.canvas.clientWidth || 400;
    const cssH = this.canvas.clientHeight || 260;
    const ctx = sizeCanvas(this.canvas, cssW, cssH);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, cssW, cssH);
    const plotW = Math.max(10, cssW - MARGIN.left - MARGIN.right);
    const plotH = Math.max(10, cssH - MARGIN.top - MARGIN.bottom);

    // the cells: a (width × L) image, unit j in row j, step t in column t, scaled up without smoothing
    if (!this.image || this.image.width !== L || this.image.height !== width) {
      this.image = new ImageData(L, width);
      this.offscreen.width = L;
      this.offscreen.height = width;
    }
    const px = this.image.data;
    for (let t = 0; t < L; t += 1) {
      for (let j = 0; j < width; j += 1) putDiverging(px, (j * L + t) * 4, states[t * width + j] / scale);
    }
    this.offscreen.getContext('2d').putImageData(this.image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.offscreen, 0, 0, L, width, MARGIN.left, MARGIN.top, plotW, plotH);
    const cw = plotW / L;
    const ch = plotH / width;
    this.cell = { L, width, H, D, k, states, x0: MARGIN.left, y0: MARGIN.top, cw, ch };

    ctx.font = `${fontSize(12)}px Inter, "DejaVu Sans", sans-serif`;
    ctx.fillStyle = colors.muted;
    ctx.strokeStyle = colors.grid;
    // the reverse direction's units below a line
    if (D === 2) {
      ctx.beginPath();
      ctx.moveTo(MARGIN.left, MARGIN.top + H * ch);
      ctx.lineTo(MARGIN.left + plotW, MARGIN.top + H * ch);
      ctx.stroke();
    }
    // time ticks under the columns' centres, about every 50 px
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const every = niceStep(L / Math.max(1, plotW / 50));
    for (let t = 0; t < L; t += every) ctx.fillText(`${t}`, MARGIN.left + (t + 0.5) * cw, MARGIN.top + plotH + 4);
    ctx.fillText('t', MARGIN.left + plotW / 2, MARGIN.top + plotH + 4 + fontSize(14));
    // unit labels (each unit when there is room, else every few), → / ← for the directions
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const unitEvery = niceStep(width / Math.max(1, plotH / fontSize(14)));
    for (let j = 0; j < width; j += unitEvery) {
      const name = D === 2 ? `${j < H ? '→' : '←'}${j % H}` : `${j}`;
      ctx.fillText(name, MARGIN.left - 4, MARGIN.top + (j + 0.5) * ch);
    }
    ctx.save();
    ctx.translate(fontSize(12), MARGIN.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText(`unit of hₜ (layer ${k})`, 0, 0);
    ctx.restore();

    // the colour bar: +scale at the top, −scale at the bottom
    const barX = MARGIN.left + plotW + 12;
    for (let y = 0; y < plotH; y += 1) {
      const c = Math.round(255 * (1 - y / Math.max(1, plotH - 1))) * 4;
      ctx.fillStyle = `rgb(${LUT[c]},${LUT[c + 1]},${LUT[c + 2]})`;
      ctx.fillRect(barX, MARGIN.top + y, BAR, 1);
    }
    ctx.fillStyle = colors.muted;
    ctx.textAlign = 'left';
    for (const [value, y] of [[scale, 0], [0, plotH / 2], [-scale, plotH]]) {
      ctx.fillText(formatTick(value), barX + BAR + 4, MARGIN.top + y);
    }
  }

  /** The value under the pointer, as the canvas's tooltip: "t 12, unit →3: 0.734". */
  hover(event) {
    const c = this.cell;
    if (!c) return;
    const rect = this.canvas.getBoundingClientRect();
    const t = Math.floor((event.clientX - rect.left - c.x0) / c.cw);
    const j = Math.floor((event.clientY - rect.top - c.y0) / c.ch);
    if (t < 0 || t >= c.L || j < 0 || j >= c.width) {
      this.canvas.title = '';
      return;
    }
    const unit = c.D === 2 ? `${j < c.H ? '→' : '←'}${j % c.H}` : `${j}`;
    this.canvas.title = `t ${t}, unit ${unit} (layer ${c.k}): h = ${c.states[t * c.width + j].toFixed(3)}`;
  }
}

/** 1, 2, 5, 10, 20 … : the smallest such step of at least `raw`. */
function niceStep(raw) {
  if (raw <= 1) return 1;
  const base = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw);
}

function formatTick(v) {
  return Math.abs(v) >= 100 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(0) : `${Number(v.toPrecision(2))}`;
}
