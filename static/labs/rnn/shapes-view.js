// #shapes: the four tensors (and the LSTM's cell states) with their shapes as numbers and as torch's documentation
// writes them, every parameter's state_dict name and shape, and the total — all from the server's rnn_shapes.

import { el } from '../../core/dom.js';

const tuple = (shape) => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

export class ShapesView {
  constructor(root, cellLabel) {
    this.root = root;
    this.cellLabel = cellLabel;
    this.key = null;
  }

  /** Rebuild from a `state` (only when the shapes changed). */
  show(state) {
    const shapes = state.shapes;
    const key = JSON.stringify([shapes, state.warnings, state.cell_type]);
    if (key === this.key) return;
    this.key = key;
    this.cellLabel.textContent = state.cell_type;
    const root = this.root;
    root.replaceChildren();
    const s = shapes.symbols;
    root.append(el('p', 'muted', `L = ${s.L}, N = ${s.N}, H_in = ${s.H_in}, H_out = ${s.H_out}, `
      + `D = ${s.D}, num_layers = ${s.num_layers}`));

    const tensors = el('table', 'rnn-tensors');
    tensors.append(row('th', ['tensor', 'shape', 'as the docs write it']));
    for (const t of shapes.tensors) {
      const tr = row('td', [t.name, tuple(t.shape), t.symbols]);
      tr.dataset.tensor = t.name;
      tr.title = `${t.name} ${tuple(t.shape)}`;
      tensors.append(tr);
    }
    root.append(tensors);
    for (const note of shapes.notes) root.append(el('p', 'note', note));
    for (const warning of state.warnings ?? []) root.append(el('p', 'warning', `Warning: ${warning}`));

    const params = el('table', 'rnn-parameters');
    params.append(row('th', ['parameter (state_dict)', 'shape', '', 'count']));
    for (const p of shapes.parameters) {
      const tr = row('td', [p.name, tuple(p.shape), p.symbols, p.count.toLocaleString('en')]);
      tr.dataset.parameter = p.name;
      params.append(tr);
    }
    const total = row('td', [`${state.cell_type} total`, '', '', shapes.total.toLocaleString('en')]);
    total.className = 'total';
    params.append(total);
    for (const p of shapes.head) params.append(row('td', [p.name, tuple(p.shape), '(out, D·H_out)', p.count.toLocaleString('en')]));
    const all = row('td', ['model total', '', '', shapes.model_total.toLocaleString('en')]);
    all.className = 'total';
    params.append(all);
    root.append(params);
  }
}

function row(tag, cells) {
  const tr = el('tr');
  cells.forEach((text, i) => tr.append(el(tag, i === 2 ? 'symbols' : '', text)));
  return tr;
}
