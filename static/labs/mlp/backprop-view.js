// Backpropagation calculus, step by step (3Blue1Brown's fourth video), for the probe input: pick an output neuron
// j and a weight w_jk into it; see z = w·a + b, a = σ(z), the cost C₀ = Σ (a − y)² and the chain rule
// ∂C₀/∂w_jk = a_k · σ′(z_j) · 2(a_j − y_j) with the live numbers, next to the engine's own gradient for that
// weight. Then the nudges each output wants of the previous layer's activations, and how they add up.
//
// Reads frame.activations, preActivations, weights, biases, probeTarget and frame.arrays['backprop.*'] and
// ['probe.output_weight_grad'] with frame.backprop {cost, output_activation, cost_value} (docs/protocol.md,
// "Backprop step-through"). Every number comes from the server: the view only lays them out.

import { Plotly, fitToElement } from '../../core/plotly.js';
import { colors, baseLayout, axis, plotConfig, fontSize } from '../../core/theme.js';
import { argmax, el } from '../../core/dom.js';

const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

/** A number as the equations print it: 4 significant digits, an exponent only when tiny or huge. */
export function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) {
    const [mantissa, exponent] = v.toExponential(2).split('e');
    return `${mantissa}×10${[...String(Number(exponent))].map((c) => SUPERSCRIPT[c]).join('')}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** A small inline formula from parts: strings, or [text, className] pairs (numbers, symbols), or nodes. */
function formula(...parts) {
  const line = el('div', 'bp-line');
  for (const part of parts) {
    if (part instanceof Node) line.append(part);
    else if (Array.isArray(part)) line.append(el('span', part[1], part[0]));
    else line.append(document.createTextNode(part));
  }
  return line;
}

/** symbol with a subscript, e.g. sym('w', '7,3') → w₇,₃ (HTML <sub>), in a colour class. */
function sym(base, sub, className = '') {
  const s = el('span', `bp-sym ${className}`, base);
  if (sub !== undefined && sub !== '') s.append(el('sub', null, String(sub)));
  return s;
}

export class BackpropView {
  /** @param {HTMLElement} root where the pickers, the equations and the nudges chart are built */
  constructor(root) {
    root.classList.add('backprop-view');
    this.j = null; // chosen output neuron (null: follow the probe's label)
    this.k = 0; // chosen input of that neuron
    const pickers = el('div', 'bp-pickers');
    this.outputPicker = el('div', 'bp-picker');
    this.inputPicker = el('div', 'bp-picker');
    pickers.append(el('span', 'muted', 'output neuron j'), this.outputPicker,
      el('span', 'muted', 'weight from neuron k'), this.inputPicker);
    const body = el('div', 'bp-body');
    this.equations = el('div', 'bp-equations');
    const chartBox = el('div', 'bp-chart-box');
    this.chartTitle = el('div', 'bp-chart-title');
    this.chart = el('div', 'plot bp-chart');
    chartBox.append(this.chartTitle, this.chart);
    body.append(this.equations, chartBox);
    root.append(pickers, body);
    fitToElement(this.chart);
    this.outputButtons = [];
    this.inputButtons = [];
    this.bound = false;
    this.last = null;
  }

  buttons(container, list, count, onPick, label) {
    if (list.length === count) return list;
    container.replaceChildren();
    const made = Array.from({ length: count }, (_, i) => {
      const b = el('button', 'chip-button', label(i));
      b.type = 'button';
      b.addEventListener('click', () => onPick(i));
      container.append(b);
      return b;
    });
    list.splice(0, list.length, ...made);
    return list;
  }

  pickOutput(j) {
    this.j = j;
    this.draw();
  }

  pickInput(k) {
    this.k = k;
    this.draw();
  }

  /** Every frame: remember it (drawing is the page's chart scheduler's call, or a pick's). */
  take(frame) {
    this.last = frame;
  }

  draw() {
    if (this.last) this.render(this.last);
  }

  render(frame) {
    const L = frame.layerSizes.length - 1;
    const C = frame.layerSizes[L];
    const H = frame.layerSizes[L - 1];
    const arrays = frame.arrays ?? {};
    const delta = arrays['backprop.delta'];
    this.buttons(this.outputPicker, this.outputButtons, C, (j) => this.pickOutput(j), String);
    this.buttons(this.inputPicker, this.inputButtons, H, (k) => this.pickInput(k), String);
    if (!delta || !frame.probeTarget) {
      this.equations.replaceChildren(el('p', 'muted bp-empty',
        'The step-through needs a target y: pick a training or test digit, or draw one and say which digit you meant.'));
      this.chartTitle.textContent = '';
      Plotly.purge(this.chart);
      this.bound = false;
      return;
    }
    const target = frame.probeTarget;
    const j = this.j !== null && this.j < C ? this.j : argmax(target);
    const k = Math.min(this.k, H - 1);
    this.outputButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(i === j)));
    this.inputButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(i === k)));
    this.drawEquations(frame, arrays, j, k, L, H, C);
    this.drawNudges(frame, arrays, j, k, C, H);
  }

  drawEquations(frame, arrays, j, k, L, H, C) {
    const meta = frame.backprop ?? {};
    // σ is 3Blue1Brown's sigmoid; other output activations (tanh on 2-D sets, none for regression) go by name.
    const f = { sigmoid: 'σ', tanh: 'tanh', linear: 'id' }[meta.output_activation] ?? 'σ';
    const crossEntropy = meta.cost === 'cross_entropy';
    const aPrev = frame.activations[L - 1];
    const W = frame.weights[L - 1];
    const z = frame.preActivations[L - 1][j];
    const a = frame.activations[L][j];
    const y = frame.probeTarget[j];
    const w = W[j * H + k];
    const b = frame.biases[L - 1][j];
    const mine = arrays['backprop.weight_grad'][j * H + k];
    const engine = arrays['probe.output_weight_grad']?.[j * H + k];
    const costTerm = arrays['backprop.cost_terms'][j];
    const prevLayer = L - 1 === 0 ? 'a pixel' : `layer ${L - 1}`;
    const n = (v, cls = 'bp-num') => [fmt(v), cls];
    const lines = [
      formula(sym('z', j), ' = Σ', el('sub', null, 'k'), ' ', sym('w', `${j},k`, 'bp-w'), ' ', sym('a', 'k', 'bp-a'),
        ' + ', sym('b', j, 'bp-b'), ' = ', n(z)),
      formula(['this weight ', 'muted'], sym('w', `${j},${k}`, 'bp-w'), ' = ', n(w, 'bp-num bp-w'), ['; its input ', 'muted'],
        sym('a', k, 'bp-a'), ' = ', n(aPrev[k], 'bp-num bp-a'), [` (${prevLayer})`, 'muted']),
    ];
    if (crossEntropy) {
      lines.push(
        formula(sym('p', j), ' = softmax(z)', el('sub', null, j), ' = ', n(a), ['   target ', 'muted'], sym('y', j, 'bp-y'),
          ' = ', n(y)),
        formula(sym('C', 0), ' = −log ', sym('p', 'y'), ' = ', n(meta.cost_value)),
        formula('∂', sym('C', 0), '/∂', sym('w', `${j},${k}`, 'bp-w'), ' = ', sym('a', k, 'bp-a'), ' · (',
          sym('p', j), ' − ', sym('y', j, 'bp-y'), ')'),
        formula('= ', n(aPrev[k], 'bp-num bp-a'), ' · ', n(arrays['backprop.delta'][j], 'bp-num bp-d'), ' = ',
          n(mine, 'bp-num bp-result')),
      );
    } else {
      const slope = arrays['backprop.activation_slope'][j];
      const outGrad = arrays['backprop.output_grad'][j];
      lines.push(
        formula(sym('a', j), ` = ${f}(`, sym('z', j), ') = ', n(a), ['   target ', 'muted'], sym('y', j, 'bp-y'), ' = ', n(y)),
        formula(sym('C', 0), ' = Σ', el('sub', null, 'j'), ' (', sym('a', 'j'), ' − ', sym('y', 'j', 'bp-y'), ')² = ',
          n(meta.cost_value), ['  (', 'muted'], sym('a', j), ' − ', sym('y', j, 'bp-y'), ')² = ', n(costTerm),
          [' of it)', 'muted']),
        formula('∂', sym('C', 0), '/∂', sym('w', `${j},${k}`, 'bp-w'), ' = ', sym('a', k, 'bp-a'), ` · ${f}′(`, sym('z', j),
          ') · 2(', sym('a', j), ' − ', sym('y', j, 'bp-y'), ')'),
        formula('= ', n(aPrev[k], 'bp-num bp-a'), ' · ', n(slope, 'bp-num bp-s'), ' · ', n(outGrad, 'bp-num bp-d'),
          ' = ', n(mine, 'bp-num bp-result')),
      );
    }
    const same = engine !== undefined && Math.abs(mine - engine) <= 1e-5 * Math.max(1e-3, Math.abs(engine));
    lines.push(formula(['engine’s backward: ', 'muted'], n(engine, 'bp-num bp-result'),
      [same ? '  ✓ the same number' : '  ✗ differs', same ? 'bp-ok' : 'bp-bad']));
    lines.push(formula(['bias: ', 'muted'], '∂', sym('C', 0), '/∂', sym('b', j, 'bp-b'), ' = ',
      n(arrays['backprop.delta'][j]), ['   (b = ', 'muted'], n(b), [')', 'muted']));
    const sum = arrays['backprop.prev_activation_grad'][k];
    lines.push(formula('∂', sym('C', 0), '/∂', sym('a', k, 'bp-a'), ' = Σ', el('sub', null, 'j'), ' ',
      sym('w', `j,${k}`, 'bp-w'), crossEntropy ? ' (p − y)' : ` ${f}′(z) 2(a − y)`, el('sub', null, 'j'), ' = ',
      n(sum, 'bp-num bp-sum'), [`  (${C} wishes, added)`, 'muted']));
    this.equations.replaceChildren(...lines);
  }

  drawNudges(frame, arrays, j, k, C, H) {
    const parts = arrays['backprop.prev_activation_grad_parts'];
    const total = arrays['backprop.prev_activation_grad'];
    const x = Array.from({ length: H }, (_, i) => i);
    const traces = [];
    for (let o = 0; o < C; o += 1) {
      const y = x.map((i) => -parts[o * H + i]);
      // Output j's wish in yellow; the others in two alternating greys, so each one's share of a stack shows.
      const color = o === j ? colors.accentSoft : o % 2 ? '#4f6b7c' : '#6f8d9e';
      traces.push({
        type: 'bar', x, y, name: `output ${o}`,
        marker: { color, line: { width: 1, color: colors.background } },
        hovertemplate: `output ${o} wants a<sub>%{x}</sub> to move %{y:.3g}<extra></extra>`,
      });
    }
    traces.push({
      type: 'scatter', mode: 'markers', x, y: x.map((i) => -total[i]), name: 'sum',
      marker: { symbol: 'diamond', size: 14, color: colors.text, line: { width: 2, color: colors.background } },
      hovertemplate: 'all outputs together: −∂C/∂a<sub>%{x}</sub> = %{y:.3g}<extra></extra>',
    });
    // Same outputs, inputs and picked k as drawn: only the bars' heights and colours change (a restyle, no layout).
    const key = [C, H, k, fontSize(1)].join();
    if (this.bound && key === this.nudgesKey && this.chart.data) {
      Plotly.restyle(this.chart, { y: traces.map((t) => t.y), 'marker.color': traces.map((t) => t.marker.color) });
      return;
    }
    this.nudgesKey = key;
    this.chartTitle.replaceChildren(
      el('span', null, 'Nudges wanted of the previous layer, −∂C₀/∂a'), el('sub', null, 'k'),
      el('span', 'muted', ': output j’s in yellow, the others’ grey, their sum ◆ (click a neuron: k)'),
    );
    const layout = baseLayout({
      barmode: 'relative', bargap: 0.25,
      margin: { l: 56, r: 10, t: 8, b: 40 },
      xaxis: axis({ title: { text: 'neuron k of the previous layer', font: { size: fontSize(13) } }, dtick: H > 16 ? 2 : 1,
        range: [-0.6, H - 0.4], fixedrange: true, showgrid: false, automargin: true }),
      // automargin: the margin grows to fit the tick labels (a trained network's nudges read 5×10⁻⁴, wide).
      yaxis: axis({ zeroline: true, zerolinecolor: colors.muted, fixedrange: true, exponentformat: 'power',
        automargin: true }),
      shapes: [{ type: 'rect', xref: 'x', yref: 'paper', x0: k - 0.5, x1: k + 0.5, y0: 0, y1: 1,
        fillcolor: 'rgba(255,255,0,0.08)', line: { color: colors.accent, width: 1, dash: 'dot' } }],
    });
    Plotly.react(this.chart, traces, layout, plotConfig);
    if (!this.bound) {
      this.bound = true;
      this.chart.on('plotly_click', (event) => {
        const point = event.points?.[0];
        if (point) this.pickInput(Number(point.x));
      });
    }
  }
}
