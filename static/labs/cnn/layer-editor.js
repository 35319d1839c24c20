// The `layers` control's widget: the network as a list of layers (torch.nn's names), each with its numbers in
// small boxes — out channels with −/+ (a kernel removed or added, every other trained weight kept), kernel size,
// stride, padding, pool size, dropout p, width — a × to remove it, and a row to insert a layer. Every change
// sends the whole list (`set {layers}`); the server checks it (engine.summary) and refuses one that cannot run,
// naming the layer, the formula and the numbers, under the control.

import { el } from '../../core/dom.js';

// The fields a layer type shows, in order, with their labels.
const FIELDS = {
  Conv2d: [['out_channels', 'out'], ['kernel_size', 'k'], ['stride', 's'], ['padding', 'p']],
  MaxPool2d: [['kernel_size', 'k'], ['stride', 's']],
  AvgPool2d: [['kernel_size', 'k'], ['stride', 's']],
  Dropout: [['p', 'p']],
  Linear: [['out_features', 'out']],
};
// A new layer of each type, as inserted.
const NEW = {
  Conv2d: { type: 'Conv2d', out_channels: 8, kernel_size: 3, stride: 1, padding: 1 },
  MaxPool2d: { type: 'MaxPool2d', kernel_size: 2, stride: null },
  AvgPool2d: { type: 'AvgPool2d', kernel_size: 2, stride: null },
  Dropout: { type: 'Dropout', p: 0.5 },
  Linear: { type: 'Linear', out_features: 32 },
  Flatten: { type: 'Flatten' },
};

function parse(text) {
  const t = text.trim();
  if (t === '' || t === 'auto') return null;
  return Number.isFinite(Number(t)) ? Number(t) : t; // the server says why a text is refused
}

/** The widget for Controls (core/controls.js): {body, set(value)}. */
export function layerEditor(control, send) {
  const types = control.layer_types ?? Object.keys(NEW);
  const body = el('div', 'layer-editor');
  body.id = 'layer-editor';
  const list = el('ol', 'layer-rows');
  const adder = el('div', 'layer-add');
  const typeSelect = el('select');
  typeSelect.id = 'layer-add-type';
  typeSelect.append(...types.map((t) => Object.assign(el('option', '', t), { value: t })));
  const where = el('select');
  where.id = 'layer-add-position';
  const add = el('button', 'tool', '+ layer');
  add.type = 'button';
  add.id = 'layer-add';
  adder.append(typeSelect, el('span', 'muted', 'at'), where, add);
  body.append(list, adder);
  let layers = [];

  const change = (next) => send(next);
  add.addEventListener('click', () => {
    const at = Number(where.value);
    const layer = { ...(NEW[typeSelect.value] ?? { type: typeSelect.value }) };
    change([...layers.slice(0, at), layer, ...layers.slice(at)]);
  });

  function row(layer, index) {
    const li = el('li', 'layer-row');
    li.dataset.type = layer.type;
    const fields = el('span', 'layer-fields');
    li.append(el('span', 'layer-index', String(index)), el('span', 'layer-type', layer.type), fields);
    for (const [name, label] of FIELDS[layer.type] ?? []) {
      const box = el('label', 'layer-field');
      const input = el('input');
      input.type = 'text';
      input.inputMode = 'decimal';
      input.value = layer[name] === null || layer[name] === undefined ? 'auto' : String(layer[name]);
      input.size = 3;
      input.id = `layer-${index}-${name.replaceAll('_', '-')}`;
      input.title = `${layer.type}.${name}`;
      input.addEventListener('change', () => change(layers.map((l, i) => (i === index ? { ...l, [name]: parse(input.value) } : l))));
      box.append(el('span', 'muted', label), input);
      if (name === 'out_channels') {
        const less = el('button', 'tool mini', '−');
        const more = el('button', 'tool mini', '+');
        less.type = 'button';
        more.type = 'button';
        less.title = 'Remove the last kernel (every other weight kept)';
        more.title = 'Add a kernel (every other weight kept)';
        less.addEventListener('click', () => change(layers.map((l, i) => (i === index ? { ...l, out_channels: l.out_channels - 1 } : l))));
        more.addEventListener('click', () => change(layers.map((l, i) => (i === index ? { ...l, out_channels: l.out_channels + 1 } : l))));
        box.append(less, more);
      }
      fields.append(box);
    }
    const remove = el('button', 'tool mini layer-remove', '×');
    remove.type = 'button';
    remove.title = 'Remove this layer';
    remove.addEventListener('click', () => change(layers.filter((_, i) => i !== index)));
    li.append(remove);
    return li;
  }

  let stale = false; // the list changed while a box had the focus: redrawn when it leaves
  const render = () => {
    stale = false;
    list.replaceChildren(...layers.map(row));
    const chosen = where.value;
    where.replaceChildren(...Array.from({ length: layers.length + 1 }, (_, i) => Object.assign(
      el('option', '', i === layers.length ? 'the end' : `${i} (before ${layers[i].type})`), { value: String(i) })));
    // Default: just before the Flatten (a conv or pool) or the last layer (the rest).
    const flatten = layers.findIndex((l) => l.type === 'Flatten');
    where.value = chosen && Number(chosen) <= layers.length ? chosen : String(flatten >= 0 ? flatten : layers.length - 1);
  };
  // Always the server's list (what the next change builds on); the rows wait while someone types in one.
  const set = (value) => {
    layers = value.map((l) => ({ ...l }));
    if (body.contains(document.activeElement) && document.activeElement.tagName === 'INPUT') stale = true;
    else render();
  };
  body.addEventListener('focusout', () => requestAnimationFrame(() => {
    if (stale && !(body.contains(document.activeElement) && document.activeElement.tagName === 'INPUT')) render();
  }));
  return { body, set };
}
