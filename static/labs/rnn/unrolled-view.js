// #rnn-unrolled: the network unrolled through time for the probe sequence — one cell per time step and layer (and
// direction: the reverse one reads right to left), each cell's hidden units lit by h_t, the input below, the
// readout above, h_0 where each direction starts, and dropout between layers drawn as dashed links.

import { sizeCanvas } from '../../core/canvas.js';
import { colors, colorLut, glowScale, fontSize } from '../../core/theme.js';

const LUT = colorLut(glowScale);
const MARGIN = { left: 118, right: 34, top: 26, bottom: 8 };
const SMALL_ROW = 26; // the input and output rows

function lutColor(value) {
  const i = Math.max(0, Math.min(255, Math.round((value + 1) * 127.5))) * 4;
  return `rgb(${LUT[i]},${LUT[i + 1]},${LUT[i + 2]})`;
}

export class UnrolledView {
  constructor(canvas, caption) {
    this.canvas = canvas;
    this.caption = caption;
    this.geometry = null;
    this.offscreen = document.createElement('canvas');
    this.image = null;
  }

  /** A reusable L × H ImageData (and an offscreen canvas at least that big) for one band's units. */
  bandImage(L, H) {
    if (!this.image || this.image.width !== L || this.image.height !== H) {
      this.image = new ImageData(L, H);
      this.offscreen.width = Math.max(this.offscreen.width, L);
      this.offscreen.height = Math.max(this.offscreen.height, H);
    }
    return this.image;
  }

  update(frame) {
    const state = frame.state;
    if (!state || !frame.hidden.length || !frame.hidden[0]) return;
    const canvas = this.canvas;
    const width = canvas.clientWidth || 800;
    const height = canvas.clientHeight || 320;
    const ctx = sizeCanvas(canvas, width, height);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, width, height);

    const K = state.num_layers;
    const D = state.num_directions;
    const H = state.hidden_size;
    const L = frame.hidden[0].shape[0];
    const relu = state.cell_type === 'RNN' && state.settings?.nonlinearity === 'relu';
    const dropout = state.settings?.dropout ?? 0;
    const plotW = width - MARGIN.left - MARGIN.right;
    const colW = plotW / L;
    const bands = K * D;
    const gap = 10;
    const bandH = Math.max(8, (height - MARGIN.top - MARGIN.bottom - 2 * SMALL_ROW - gap * (K + 1)) / bands);
    const inset = colW > 6 ? Math.min(4, colW * 0.18) : 0;
    const x0 = (t) => MARGIN.left + t * colW;

    // rows from the top: output, layers K-1 … 0 (each with its directions), input
    const outputY = MARGIN.top;
    const bandTop = (k, d) => MARGIN.top + SMALL_ROW + gap + (K - 1 - k) * (D * bandH + gap) + d * bandH;
    const inputY = MARGIN.top + SMALL_ROW + gap + K * (D * bandH + gap);

    ctx.font = `${fontSize(12)}px Inter, "DejaVu Sans", sans-serif`;
    ctx.textBaseline = 'middle';
    // time ticks
    ctx.fillStyle = colors.muted;
    ctx.textAlign = 'center';
    const every = Math.max(1, Math.ceil(L / Math.max(1, plotW / 48)));
    for (let t = 0; t < L; t += every) ctx.fillText(`t=${t}`, x0(t) + colW / 2, 10);

    // links between layers (dashed where dropout acts), drawn first, under the cells
    ctx.strokeStyle = colors.grid;
    ctx.lineWidth = 1;
    for (let k = 0; k <= K; k += 1) {
      const fromY = k === 0 ? inputY : bandTop(k - 1, 0);
      const toY = k === K ? outputY + SMALL_ROW : bandTop(k, D - 1) + bandH;
      const dashed = k > 0 && k < K && dropout > 0;
      ctx.setLineDash(dashed ? [3, 3] : []);
      if (colW >= 3) {
        ctx.beginPath();
        for (let t = 0; t < L; t += 1) {
          ctx.moveTo(x0(t) + colW / 2, fromY);
          ctx.lineTo(x0(t) + colW / 2, toY);
        }
        ctx.stroke();
      }
      if (dashed) {
        ctx.fillStyle = colors.accentSoft;
        ctx.textAlign = 'left';
        ctx.fillText(`dropout ${dropout}`, 4, (fromY + toY) / 2);
      }
    }
    ctx.setLineDash([]);

    // cells: hidden units lit by h_t
    for (let k = 0; k < K; k += 1) {
      const states = frame.hidden[k];
      if (!states) continue;
      let scale = 1;
      if (relu) {
        let max = 0;
        for (const v of states) if (v > max) max = v;
        scale = max > 0 ? 1 / max : 1;
      }
      for (let d = 0; d < D; d += 1) {
        const top = bandTop(k, d);
        // one pixel per (unit, step), painted through the palette, then stretched over the band
        const image = this.bandImage(L, H);
        const px = image.data;
        for (let t = 0; t < L; t += 1) {
          const base = t * D * H + d * H;
          for (let j = 0; j < H; j += 1) {
            const v = states[base + j] * scale;
            const c = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5))) * 4;
            const o = (j * L + t) * 4;
            px[o] = LUT[c]; px[o + 1] = LUT[c + 1]; px[o + 2] = LUT[c + 2]; px[o + 3] = 255;
          }
        }
        this.offscreen.getContext('2d').putImageData(image, 0, 0);
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(this.offscreen, 0, 0, L, H, MARGIN.left, top + 1, plotW, bandH - 2);
        if (inset > 0) { // the gaps that make each step its own cell
          ctx.fillStyle = colors.background;
          for (let t = 0; t <= L; t += 1) ctx.fillRect(x0(t) - inset, top, 2 * inset, bandH);
        }
        if (colW >= 8) {
          ctx.strokeStyle = colors.grid;
          for (let t = 0; t < L; t += 1) ctx.strokeRect(x0(t) + inset + 0.5, top + 0.5, colW - 2 * inset - 1, bandH - 1);
        }
        // the recurrence: arrows along time, to the right (forward) or to the left (reverse)
        if (colW >= 10) {
          ctx.strokeStyle = colors.muted;
          ctx.fillStyle = colors.muted;
          const y = top + bandH / 2;
          for (let t = 0; t < L - 1; t += 1) {
            const a = x0(t + 1) - inset;
            const b = x0(t + 1) + inset;
            arrow(ctx, d === 0 ? a : b, y, d === 0 ? b : a, y);
          }
        }
        // h_0 enters where the direction starts
        ctx.fillStyle = colors.accentSoft;
        ctx.textAlign = 'center';
        const hx = d === 0 ? MARGIN.left - 12 : width - MARGIN.right + 12;
        ctx.fillText('h₀', hx, top + bandH / 2);
        ctx.fillStyle = colors.text;
        ctx.textAlign = 'left';
        const name = D === 2 ? `layer ${k} ${d === 0 ? '→' : '←'}` : `layer ${k}`;
        ctx.fillText(name, 4, top + bandH / 2 - (bandH > 30 ? 8 : 0));
        if (bandH > 30) {
          ctx.fillStyle = colors.muted;
          ctx.fillText(`h (${H} units)`, 4, top + bandH / 2 + 9);
        }
      }
    }

    this.drawInput(ctx, frame, state, inputY, x0, colW, inset, L);
    this.drawOutput(ctx, frame, state, outputY, x0, colW, inset, L);
    this.geometry = { width, height, L };
    const seq = state.task === 'chars' ? 'characters' : 'sequence';
    this.caption.textContent = `${L} steps × ${K} layer${K > 1 ? 's' : ''}${D === 2 ? ' × 2 directions' : ''}`
      + ` = ${L * K * D} cells, one set of weights per layer${D === 2 ? ' and direction' : ''}; units lit by h_t`
      + ` for test ${seq} #${frame.probeIndex}`;
  }

  drawInput(ctx, frame, state, y, x0, colW, inset, L) {
    const p = frame.probe;
    ctx.fillStyle = colors.text;
    ctx.textAlign = 'left';
    ctx.fillText('input xₜ', 4, y + SMALL_ROW / 2);
    const w = Math.max(1, colW - 2 * inset);
    ctx.textAlign = 'center';
    for (let t = 0; t < L; t += 1) {
      const left = x0(t) + inset;
      if (p.ids) {
        ctx.fillStyle = colors.neutral;
        ctx.fillRect(left, y, w, SMALL_ROW);
        if (colW >= 7) {
          ctx.fillStyle = colors.text;
          ctx.fillText(visible(state.vocabulary[p.ids[t]]), x0(t) + colW / 2, y + SMALL_ROW / 2);
        }
      } else if (p.input) {
        const width = p.input.shape[1];
        const value = p.input[t * width];
        ctx.fillStyle = lutColor(state.task === 'adding' ? value * 2 - 1 : value);
        ctx.fillRect(left, y, w, SMALL_ROW);
        if (width === 2 && p.input[t * width + 1] > 0.5) { // the adding problem's marked numbers
          ctx.strokeStyle = colors.accent;
          ctx.lineWidth = 2;
          ctx.strokeRect(left + 1, y + 1, w - 2, SMALL_ROW - 2);
          ctx.lineWidth = 1;
        }
      }
    }
  }

  drawOutput(ctx, frame, state, y, x0, colW, inset, L) {
    const p = frame.probe;
    ctx.fillStyle = colors.text;
    ctx.textAlign = 'left';
    ctx.fillText(state.readout === 'last_step' ? 'ŷ (last step)' : 'output ŷₜ', 4, y + SMALL_ROW / 2);
    const w = Math.max(1, colW - 2 * inset);
    ctx.textAlign = 'center';
    if (p.predicted) {
      for (let t = 0; t < L; t += 1) {
        const right = p.predicted[t] === p.target[t];
        ctx.fillStyle = right ? '#254a2a' : colors.neutral;
        ctx.fillRect(x0(t) + inset, y, w, SMALL_ROW);
        if (colW >= 7) {
          ctx.fillStyle = right ? colors.green : colors.muted;
          ctx.fillText(visible(state.vocabulary[p.predicted[t]]), x0(t) + colW / 2, y + SMALL_ROW / 2);
        }
      }
    } else if (p.prediction && state.readout === 'last_step') {
      const t = L - 1;
      ctx.fillStyle = colors.accentSoft;
      ctx.fillRect(x0(t) + inset, y, w, SMALL_ROW);
      ctx.textAlign = 'right';
      ctx.fillText(`ŷ = ${p.prediction[0].toFixed(2)} (target ${p.target[0].toFixed(2)})`, x0(t) - 4, y + SMALL_ROW / 2);
    } else if (p.prediction) {
      for (let t = 0; t < L; t += 1) {
        ctx.fillStyle = lutColor(p.prediction[t]);
        ctx.fillRect(x0(t) + inset, y, w, SMALL_ROW);
      }
    }
  }
}

function arrow(ctx, x1, y1, x2, y2) {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
  const dir = Math.sign(x2 - x1) || 1;
  ctx.beginPath();
  ctx.moveTo(x2, y2);
  ctx.lineTo(x2 - 3 * dir, y2 - 2.5);
  ctx.lineTo(x2 - 3 * dir, y2 + 2.5);
  ctx.fill();
}

/** A character as it can be seen: space and newline get a visible stand-in. */
export function visible(c) {
  if (c === ' ') return '·';
  if (c === '\n') return '↵';
  return c ?? '';
}
