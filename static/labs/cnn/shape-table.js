// #shape-table: one row per layer — its type, the output shape (N, C, H, W) with H_out = ⌊(H + 2P − K)/S⌋ + 1
// filled in, the parameters with (K·K·C_in + 1)·C_out filled in, the multiply-adds — and the total in the last
// row (the engine's own count: data-total). Reads the state's `summary` (engine.summary, computed by the server).

import { el } from '../../core/dom.js';

const n = (v) => v.toLocaleString('en-US');

export class ShapeTable {
  constructor(table) {
    this.table = table;
    this.key = '';
  }

  update(state) {
    const s = state.summary;
    const key = JSON.stringify(s);
    if (key === this.key) return;
    this.key = key;
    const head = el('thead');
    const titles = ['layer', 'type', 'output shape', 'parameters', 'multiply-adds'];
    head.append(el('tr', '', ''));
    head.firstChild.append(...titles.map((t) => el('th', '', t)));
    const body = el('tbody');
    const input = el('tr', 'shape-input');
    input.append(el('td', '', ''), el('td', '', 'input'), this.cell(`(N, ${s.input_shape.join(', ')})`, ''),
      el('td', '', ''), el('td', '', ''));
    body.append(input);
    for (const row of s.rows) {
      const tr = el('tr');
      tr.dataset.layer = row.name;
      tr.append(el('td', 'num', row.name), el('td', '', row.type), this.cell(row.shape_text, row.shape_formula),
        this.cell(n(row.parameters), row.parameters ? row.parameter_formula : ''),
        this.cell(n(row.mult_adds), row.mult_adds ? row.mult_adds_formula : ''));
      body.append(tr);
    }
    const total = el('tr', 'shape-total');
    total.append(el('td', '', ''), el('td', '', 'total'), el('td', '', ''),
      this.cell(n(s.total_parameters), s.total_formula), el('td', 'num', n(s.total_mult_adds)));
    total.children[3].classList.add('total-parameters');
    body.append(total);
    this.table.replaceChildren(head, body);
    this.table.dataset.total = String(s.total_parameters);
    this.table.dataset.engineCount = String(state.num_parameters);
  }

  /** A value with its arithmetic under it (the ConvNetJS card's "8x5x5x1+8 = 208"). */
  cell(value, formula) {
    const td = el('td', 'num');
    td.append(el('div', 'value', value));
    if (formula) td.append(el('div', 'formula', formula));
    return td;
  }
}
