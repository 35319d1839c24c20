// #cnn-detail: one clicked feature-map pixel taken apart with the live trained numbers, as CNN Explainer does.
// A convolution (or the activation after it): per input channel the receptive-field patch (padding greyed), the
// kernel and their elementwise products with their sum; then the sum over channels, plus the bias, is the
// pre-activation, and the activation of it is the pixel. A pooled pixel: its window, the input that won the max
// (or the average's equal shares), and — backward — where the cost's gradient for the probe goes: to the winner
// only, or shared evenly. Reads frame.detail (the server's numbers, app/labs/cnn/detail.py) and the detail.*
// arrays; computes no training maths, only the row sums it prints, which the server's numbers equal.

import { el } from '../../core/dom.js';

const MINUS = '\u2212';

/** A number as the view prints it: fixed decimals, a real minus sign. */
export function fmt(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const text = Math.abs(value) < 0.5 * 10 ** -digits ? (0).toFixed(digits) : value.toFixed(digits);
  return text.replace('-', MINUS);
}

/** Background for a value on a signed scale: blue +, red −, alpha by size against `scale`. */
function signed(value, scale) {
  const a = scale > 0 ? Math.min(1, Math.abs(value) / scale) : 0;
  return value >= 0 ? `rgba(88,196,221,${(0.75 * a).toFixed(3)})` : `rgba(252,98,85,${(0.75 * a).toFixed(3)})`;
}

function maxAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/** A kH×kW grid of numbers; returns the table and its cells (row-major). */
function grid(className, kh, kw) {
  const table = el('table', `cd-grid ${className}`);
  const cells = [];
  for (let i = 0; i < kh; i += 1) {
    const tr = el('tr');
    for (let j = 0; j < kw; j += 1) {
      const td = el('td');
      tr.append(td);
      cells.push(td);
    }
    table.append(tr);
  }
  return { table, cells };
}

const CHANNEL_NAMES = { 3: ['red', 'green', 'blue'] };

export class DetailView {
  /** @param {HTMLElement} figure #cnn-detail-view  @param {{onClose()}} hooks */
  constructor(figure, hooks = {}) {
    this.figure = figure;
    this.title = figure.querySelector('#cnn-detail-title');
    this.body = figure.querySelector('#cnn-detail');
    this.hooks = hooks;
    this.key = '';
    this.closedKey = null;
    this.drawn = 0; // frames drawn (tests)
    const close = el('button', 'tool mini cd-close', '×');
    close.type = 'button';
    close.title = 'Close the detail view (click another pixel to open it again)';
    close.addEventListener('click', () => {
      this.closedKey = this.key;
      this.figure.hidden = true;
      this.hooks.onClose?.();
    });
    figure.querySelector('figcaption').append(close);
  }

  /** A pixel was clicked: show its detail even if the same one was closed before. */
  reopen() {
    this.closedKey = null;
    this.key = '';
  }

  /** The state's layer rows (types, shapes) name what is shown. */
  setStructure(state) {
    this.rows = state.summary?.rows ?? [];
    this.inputShape = state.image_shape;
  }

  update(frame) {
    const d = frame.detail;
    if (!d) {
      this.figure.hidden = true;
      this.key = '';
      return;
    }
    const key = JSON.stringify([d.kind, d.layer, d.channel, d.y, d.x, d.rows, d.cols, frame.arrays?.['detail.patch']?.shape]);
    if (key === this.closedKey) return; // closed by the user until another pixel is asked about
    this.closedKey = null;
    this.figure.hidden = false;
    if (key !== this.key) {
      this.key = key;
      this.build(d, frame.arrays);
    }
    if (d.kind === 'conv') this.fillConv(d, frame.arrays);
    else this.fillPool(d, frame.arrays);
    this.drawn += 1;
  }

  layerName(k) {
    if (k < 0) return 'the input image';
    const row = this.rows?.[k];
    return row ? `layer ${k} (${row.type})` : `layer ${k}`;
  }

  channelName(c, count) {
    const names = count === (this.inputShape?.[0] ?? 0) ? CHANNEL_NAMES[count] : null;
    return names ? `${c} ${names[c]}` : String(c);
  }

  // --- a convolution ---------------------------------------------------------------------------------------
  build(d, arrays) {
    this.body.replaceChildren();
    this.parts = null;
    const where = `channel ${d.channel}, y ${d.y}, x ${d.x}`;
    if (d.kind !== 'conv') {
      this.buildPool(d, arrays, where);
      return;
    }
    const [cIn, kh, kw] = arrays['detail.patch'].shape;
    const clicked = d.layer === d.conv_layer ? '' : ` (clicked: ${this.layerName(d.layer)})`;
    this.title.textContent = `Convolution at ${where} of ${this.layerName(d.conv_layer)}${clicked}`;
    const explain = el('p', 'cd-explain',
      `Kernel ${d.channel} (${cIn}×${kh}×${kw}) lies on ${this.layerName(d.input_layer)} at rows ${d.rows[0]}…`
      + `${d.rows[kh - 1]}, columns ${d.cols[0]}…${d.cols[kw - 1]} (stride ${d.stride.join('×')}, padding `
      + `${d.padding.join('×')}; grey cells are padding, zeros). Each input channel: patch ⊙ kernel, summed.`);
    const channels = el('div', 'cd-channels');
    const rows = [];
    for (let c = 0; c < cIn; c += 1) {
      const row = el('div', 'cd-channel');
      row.dataset.channel = String(c);
      const patch = grid('cd-patch', kh, kw);
      const kernel = grid('cd-kernel', kh, kw);
      const products = grid('cd-products', kh, kw);
      const sum = el('span', 'cd-sum');
      row.append(el('span', 'cd-label', `in ${this.channelName(c, cIn)}`), patch.table, el('span', 'cd-op', '⊙'),
        kernel.table, el('span', 'cd-op', '='), products.table, el('span', 'cd-op', 'Σ ='), sum);
      channels.append(row);
      rows.push({ patch: patch.cells, kernel: kernel.cells, products: products.cells, sum });
    }
    const total = el('p', 'cd-total');
    const z = el('p', 'cd-z');
    const a = el('p', 'cd-a');
    this.body.append(explain, channels, total, z, a);
    this.parts = { rows, total, z, a, cIn, size: kh * kw };
  }

  fillConv(d, arrays) {
    const { rows, total, z, a, cIn, size } = this.parts;
    const patch = arrays['detail.patch'];
    const kernel = arrays['detail.kernel'];
    const products = arrays['detail.products'];
    const padding = arrays['detail.padding'];
    const sums = arrays['detail.channel_sums'];
    const patchScale = maxAbs(patch);
    const kernelScale = maxAbs(kernel);
    const productScale = maxAbs(products);
    for (let c = 0; c < cIn; c += 1) {
      const r = rows[c];
      for (let i = 0; i < size; i += 1) {
        const k = c * size + i;
        const pad = padding[i] === 1;
        const cell = r.patch[i];
        cell.textContent = fmt(patch[k], 3);
        cell.classList.toggle('pad', pad);
        cell.style.background = pad ? '' : `rgba(242,242,242,${(patchScale > 0 ? 0.55 * Math.abs(patch[k]) / patchScale : 0).toFixed(3)})`;
        r.kernel[i].textContent = fmt(kernel[k], 3);
        r.kernel[i].style.background = signed(kernel[k], kernelScale);
        r.products[i].textContent = fmt(products[k], 3);
        r.products[i].style.background = signed(products[k], productScale);
      }
      r.sum.textContent = fmt(sums[c], 3);
    }
    const terms = Array.from(sums, (s) => fmt(s, 3)).join(' + ');
    total.textContent = cIn > 1 ? `Σ over the ${cIn} channels: ${terms} = ${fmt(d.total, 3)}`
      : `Σ = ${fmt(d.total, 3)}`;
    z.textContent = `z = Σ + bias = ${fmt(d.total, 3)} + (${fmt(d.bias, 3)}) = ${fmt(d.pre_activation, 3)}`
      + `   (the layer's output there: ${fmt(d.output, 3)})`;
    a.textContent = d.activation_name === 'linear' ? 'no activation follows: the pixel is z'
      : `${d.activation_name}(z) = ${d.activation_name}(${fmt(d.pre_activation, 3)}) = ${fmt(d.activation, 3)}`;
  }

  // --- a pooled pixel --------------------------------------------------------------------------------------
  buildPool(d, arrays, where) {
    const [kh, kw] = arrays['detail.window'].shape;
    const name = d.kind === 'max' ? 'Max pooling' : 'Average pooling';
    this.title.textContent = `${name} at ${where} of ${this.layerName(d.layer)}`;
    const forward = el('div', 'cd-pool-row');
    const window = grid('cd-window', kh, kw);
    const out = el('span', 'cd-sum');
    forward.append(el('span', 'cd-label', 'forward'), window.table,
      el('span', 'cd-op', d.kind === 'max' ? 'max →' : 'mean →'), out);
    const forwardText = el('p', 'cd-explain');
    const backward = el('div', 'cd-pool-row');
    const routed = grid('cd-routed', kh, kw);
    const gradOut = el('span', 'cd-sum');
    backward.append(el('span', 'cd-label', 'backward'), routed.table, el('span', 'cd-op', '← dC/d(out) ='), gradOut);
    const backwardText = el('p', 'cd-explain');
    this.body.append(
      el('p', 'cd-explain', `The ${kh}×${kw} window at rows ${d.rows[0]}…${d.rows[kh - 1]}, columns `
        + `${d.cols[0]}…${d.cols[kw - 1]} of ${this.layerName(d.input_layer)}, channel ${d.channel}. Pooling passes `
        + 'values on to the next layer in the forward pass, and gradients to the previous layer in the backward pass.'),
      forward, forwardText, backward, backwardText);
    this.parts = { window: window.cells, out, forwardText, routed: routed.cells, gradOut, backwardText, kh, kw };
  }

  fillPool(d, arrays) {
    const { window, out, forwardText, routed, gradOut, backwardText, kh, kw } = this.parts;
    const values = arrays['detail.window'];
    const shares = arrays['detail.shares'];
    const grads = arrays['detail.grad_window'];
    const scale = maxAbs(values);
    const winner = d.winner ? (d.winner[0] - d.rows[0]) * kw + (d.winner[1] - d.cols[0]) : -1;
    for (let i = 0; i < kh * kw; i += 1) {
      window[i].textContent = fmt(values[i], 3);
      window[i].classList.toggle('winner', i === winner);
      window[i].style.background = i === winner ? '' : signed(values[i], scale);
      const g = grads ? grads[i] : null;
      routed[i].textContent = grads ? fmt(g, 4) : `${fmt(shares[i], 2)}·g`;
      routed[i].classList.toggle('winner', shares[i] > 0 && d.kind === 'max');
    }
    out.textContent = fmt(d.output, 3);
    forwardText.textContent = d.kind === 'max'
      ? `The largest of the ${kh * kw} inputs, at row ${d.winner[0]}, column ${d.winner[1]}, is the output: `
        + `${fmt(d.output, 3)}.`
      : `The mean of the ${kh * kw} inputs is the output: ${fmt(d.output, 3)}.`;
    gradOut.textContent = d.grad_output === null ? 'g' : fmt(d.grad_output, 4);
    const g = d.grad_output === null ? 'g' : fmt(d.grad_output, 4);
    const why = d.grad_output === null ? ' (the probe has no label, so no cost: g stands for its gradient)'
      : ` (the cost's gradient for the probe, label ${d.label})`;
    backwardText.textContent = (d.kind === 'max'
      ? `All of dC/d(out) = ${g} goes back to the winner; the other ${kh * kw - 1} inputs get 0: they did not `
        + 'change the output.'
      : `Each of the ${kh * kw} inputs gets an equal share, 1/${kh * kw} of dC/d(out) = ${g}.`) + why;
  }
}
