// The gradients the last training step used, two ways. #cnn-kernel-grads: each conv layer's −∇C per kernel, drawn
// like its kernels (one column per output channel, one row per input channel, blue +, red −, one scale a layer):
// the picture the optimizer adds to each kernel, scaled by the learning rate. #cnn-grad-norms: the size of each
// layer's gradient, ‖∂C/∂W‖ and bias together, on a log axis, so a layer whose gradient fades (or explodes) shows.
// Reads frame.kernelGrads and frame.gradNorm (labs/cnn/frame.js) and the state's parameter_layers and rows.

import { Plotly, fitToElement, valueRange } from '../../core/plotly.js';
import { colors, baseLayout, axis, chartConfig, fontSize } from '../../core/theme.js';
import { el } from '../../core/dom.js';
import { blit, paintMaps } from './feature-maps.js';

export class KernelGradients {
  /** @param {HTMLElement} root #cnn-kernel-grads */
  constructor(root) {
    this.root = root;
    this.key = '';
    this.cards = new Map();
    this.drawn = 0; // frames drawn (tests)
    this.frame = null;
    this.drawnFrame = null;
  }

  setStructure(state) {
    const layers = state.conv_layers ?? [];
    const rows = state.summary?.rows ?? [];
    const key = JSON.stringify(layers.map((k) => [k, rows[k]?.output_shape]));
    if (key === this.key) return;
    this.key = key;
    this.root.replaceChildren();
    this.cards.clear();
    for (const k of layers) {
      const card = el('div', 'kg-card');
      const canvas = el('canvas', 'kg-canvas');
      canvas.dataset.layer = String(k);
      card.append(el('div', 'kg-title', `${k} Conv2d: −∇C of each kernel`), canvas);
      this.root.append(card);
      this.cards.set(k, canvas);
    }
    if (!layers.length) this.root.append(el('p', 'muted', 'No convolution layer.'));
  }

  /** Every frame: remember it. Drawing is the chart scheduler's call (a few times a second): the −∇C pictures
   * change slowly, and repainting them on every frame cost the feature maps their frame rate. */
  take(frame) {
    this.frame = frame;
  }

  draw() {
    const { frame } = this;
    if (!frame || frame === this.drawnFrame) return;
    this.drawnFrame = frame;
    this.update(frame);
  }

  update(frame) {
    const width = Math.max(120, this.root.clientWidth - 16);
    for (const [k, canvas] of this.cards) {
      const grads = frame.kernelGrads?.[k];
      if (!grads) continue;
      const [cOut, cIn, kh, kw] = grads.shape;
      const size = kh * kw;
      // −∇C, column j is kernel j, its input channels down the column (as #feature-maps lays out the kernels).
      const byColumn = new Float32Array(grads.length);
      for (let o = 0; o < cOut; o += 1) {
        for (let i = 0; i < cIn; i += 1) {
          for (let p = 0; p < size; p += 1) byColumn[(i * cOut + o) * size + p] = -grads[(o * cIn + i) * size + p];
        }
      }
      blit(canvas, paintMaps(byColumn, cOut * cIn, kh, kw, cOut, { shared: true }), width, 8);
    }
    this.drawn += 1;
  }
}

export class GradientNorms {
  /** @param {HTMLElement} el #cnn-grad-norms */
  constructor(element) {
    this.el = element;
    fitToElement(element);
    this.labels = [];
    this.norms = null;
    this.drawnNorms = null;
  }

  setStructure(state) {
    const rows = state.summary?.rows ?? [];
    this.labels = (state.parameter_layers ?? []).map((k) => `${k} ${rows[k]?.type ?? ''}`);
  }

  take(frame) {
    if (frame.gradNorm) this.norms = frame.gradNorm;
  }

  draw() {
    const norms = this.norms;
    if (!norms || norms === this.drawnNorms) return;
    this.drawnNorms = norms;
    const y = Array.from(norms, (v) => (v > 0 && Number.isFinite(v) ? v : null));
    const text = y.map((v) => (v === null ? '0' : v.toPrecision(2)));
    const positive = y.filter((v) => v !== null);
    // The log axis in whole half-decades, so that it rarely changes: most draws then only restyle the bars
    // (a full Plotly.react with autorange cost this page its frame rate).
    const range = valueRange(Math.min(...positive), Math.max(...positive), true);
    const key = JSON.stringify([this.labels, range, fontSize(1)]);
    if (key === this.drawnKey && this.el.data) {
      Plotly.restyle(this.el, { y: [y], text: [text] });
      return;
    }
    this.drawnKey = key;
    const trace = {
      type: 'bar', x: this.labels.slice(0, y.length), y, marker: { color: colors.positive },
      text, textposition: 'outside',
      textfont: { size: fontSize(13), color: colors.text }, cliponaxis: false,
      hovertemplate: '%{x}: ‖∇C‖ = %{y:.3g}<extra></extra>',
    };
    const layout = baseLayout({
      margin: { l: 60, r: 16, t: 30, b: 44 },
      xaxis: axis({ type: 'category' }),
      yaxis: axis({ type: 'log', title: { text: '‖∂C/∂W‖ (log)', font: { size: fontSize(14) } },
        ...(range ? { range, autorange: false } : {}), exponentformat: 'power', automargin: true }),
    });
    Plotly.react(this.el, [trace], layout, chartConfig);
  }
}
