// Controls built from the server's schema (the one source of truth for names, kinds, ranges and defaults).
// Every widget sends what the user chose or typed; the server validates, and its `error` shows inline here.
// Ids are the control names with '-' for '_' (#learning-rate, #batch-size, #dataset, #activation, ...).

const GROUPS = [
  ['data', 'Data'],
  ['network', 'Network'],
  ['training', 'Training'],
  ['regularization', 'Regularization'],
];

export const idOf = (name) => name.replaceAll('_', '-');

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

/** Two significant digits: what a log slider should land on (0.03, not 0.0312). */
function roundNice(x) {
  return Number(x.toPrecision(2));
}

/** The typed text as the wire value: a number when it parses, else the raw text (the server will say why). */
function parseTyped(text, kind) {
  const trimmed = text.trim();
  if (kind === 'integer_list') {
    if (trimmed === '') return [];
    return trimmed.split(/[\s,]+/).map((part) => (/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(part) ? Number(part) : part));
  }
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

function formatValue(value) {
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Number(value.toPrecision(4)));
  return String(value);
}

export class Controls {
  /**
   * @param {HTMLElement} root the controls panel
   * @param {{onChange(name, value), onPageOption(name, value)}} hooks
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.widgets = new Map(); // name -> {control, set(value), error: HTMLElement, box: HTMLElement}
    this.settings = {};
  }

  /**
   * Build every widget from the schema's controls (once per schema). A lab adds its page-only display options
   * ({name, label, group, default}: checkboxes, kept in the URL, never sent) and which settings only matter when
   * others have given values ({name: (settings) => bool}: dimmed otherwise, still usable), and its own widgets
   * for controls of its own kinds ({name: (control, send) => {body, set}}).
   */
  build(schema, pageValues, { pageOptions = [], relevantWhen = {}, widgets = {} } = {}) {
    this.root.replaceChildren();
    this.widgets.clear();
    this.relevantWhen = relevantWhen;
    this.customWidgets = widgets; // name -> (control, send) => {body, set}: a lab's own editor for a control
    const groups = schema.groups ?? GROUPS; // a lab may name its own sections (the search lab's "Search space")
    for (const [group, title] of groups) {
      const controls = schema.controls.filter((c) => c.group === group);
      const options = pageOptions.filter((o) => o.group === group);
      if (!controls.length && !options.length) continue;
      const section = el('section', { className: `group group-${group}` }, [el('h2', { textContent: title })]);
      for (const control of controls) section.append(this.widget(control));
      for (const option of options) section.append(this.pageOption(option, pageValues[option.name]));
      this.root.append(section);
    }
    // Controls the server knows but that no group above lists still get a widget.
    const known = new Set(groups.map(([g]) => g));
    for (const control of schema.controls.filter((c) => !known.has(c.group))) this.root.append(this.widget(control));
  }

  widget(control) {
    const id = idOf(control.name);
    const box = el('div', { className: `control kind-${control.kind}` });
    box.dataset.control = control.name;
    box.title = control.help ?? '';
    const label = el('label', { htmlFor: id }, [el('span', { textContent: control.label })]);
    const error = el('div', { className: 'error', id: `${id}-error`, role: 'alert' });
    const send = (value) => this.hooks.onChange(control.name, value);
    let set;
    let body;
    if (this.customWidgets?.[control.name]) {
      ({ body, set } = this.customWidgets[control.name](control, send));
    } else if (control.kind === 'choice') {
      const select = el('select', { id, name: control.name });
      for (const choice of control.choices) select.append(el('option', { value: choice, textContent: choice }));
      select.addEventListener('change', () => send(select.value));
      set = (v) => { select.value = v; };
      body = select;
    } else if (control.kind === 'choices') {
      body = el('div', { className: 'chips', id });
      const boxes = control.choices.map((choice) => {
        const input = el('input', { type: 'checkbox', value: choice });
        input.addEventListener('change', () => send(boxes.filter((b) => b.checked).map((b) => b.value)));
        body.append(el('label', { className: 'chip' }, [input, el('span', { textContent: choice })]));
        return input;
      });
      set = (v) => boxes.forEach((b) => { b.checked = v.includes(b.value); });
    } else if (control.kind === 'number' || control.kind === 'integer') {
      ({ body, set } = this.numberWidget(control, id, send));
    } else {
      const input = el('input', { type: 'text', id, name: control.name, autocomplete: 'off', className: 'typed-list' });
      input.addEventListener('change', () => send(parseTyped(input.value, control.kind)));
      set = (v) => { input.value = formatValue(v); };
      body = input;
    }
    box.append(label, body, error);
    this.widgets.set(control.name, { control, set, error, box });
    return box;
  }

  /** A slider (log or linear) beside a box the user can type any value into, out-of-range ones included. */
  numberWidget(control, id, send) {
    const log = control.scale === 'log';
    const span = control.maximum - control.minimum;
    // `zero_means`: the word 0 stands for (a training-set size of 0 is "all"), shown for 0 and read back as 0
    const zero = control.zero_means;
    const show = (v) => (zero && v === 0 ? zero : formatValue(v));
    const read = (text) => (zero && text.trim().toLowerCase() === zero ? 0 : parseTyped(text, control.kind));
    const typed = el('input', { type: 'text', id, name: control.name, autocomplete: 'off', inputMode: 'decimal',
      className: 'typed' });
    typed.addEventListener('change', () => send(read(typed.value)));
    typed.addEventListener('keydown', (event) => { if (event.key === 'Enter') typed.blur(); });
    if (!log && span > 10000) return { body: typed, set: (v) => { typed.value = show(v); } };

    const slider = el('input', { type: 'range', id: `${id}-slider`, tabIndex: -1 });
    const toSlider = log ? (v) => Math.log10(v) : (v) => v;
    const fromSlider = (s) => {
      const v = log ? roundNice(10 ** s) : Number(s);
      return control.kind === 'integer' ? Math.round(v) : Number(v.toPrecision(6));
    };
    slider.min = toSlider(control.minimum);
    slider.max = toSlider(control.maximum);
    slider.step = log ? 0.01 : control.kind === 'integer' ? 1 : span / 100;
    let lastSent = 0;
    slider.addEventListener('input', () => {
      const value = fromSlider(slider.value);
      typed.value = show(value);
      // While dragging, send at most ~10 updates a second; the final value always goes on 'change'.
      const now = performance.now();
      if (now - lastSent > 100) {
        lastSent = now;
        send(value);
      }
    });
    slider.addEventListener('change', () => send(fromSlider(slider.value)));
    const set = (v) => {
      typed.value = show(v);
      slider.value = toSlider(v);
    };
    return { body: el('div', { className: 'row' }, [slider, typed]), set };
  }

  pageOption(option, value) {
    const id = idOf(option.name);
    const input = el('input', { type: 'checkbox', id, checked: Boolean(value ?? option.default) });
    input.addEventListener('change', () => this.hooks.onPageOption(option.name, input.checked));
    return el('div', { className: 'control checkbox' }, [input, el('label', { htmlFor: id, textContent: option.label })]);
  }

  /**
   * One small select per hidden layer under #activation, for set_activation on a single layer.
   * `activations` is the state's hidden_activations (one per hidden layer).
   */
  updateLayerActivations(activations) {
    const widget = this.widgets.get('activation');
    if (!widget) return;
    let row = widget.box.querySelector('.per-layer');
    if (!row) {
      row = el('div', { className: 'per-layer', title: 'The activation of each hidden layer on its own' });
      widget.box.insertBefore(row, widget.error);
    }
    if (row.dataset.key === activations.join()) return;
    row.dataset.key = activations.join();
    row.replaceChildren();
    activations.forEach((name, layer) => {
      const select = el('select', { id: `activation-${layer}`, title: `Hidden layer ${layer + 1}'s activation` });
      for (const choice of widget.control.choices) select.append(el('option', { value: choice, textContent: choice }));
      select.value = name;
      select.addEventListener('change', () => this.hooks.onLayerActivation(layer, select.value));
      row.append(el('label', {}, [el('span', { textContent: `${layer + 1}` }), select]));
    });
  }

  /** Show the server's settings, except in a box the user is typing in right now. */
  update(settings) {
    this.settings = settings;
    for (const [name, widget] of this.widgets) {
      if (!(name in settings)) continue;
      if (!widget.box.contains(document.activeElement) || document.activeElement.type === 'range') {
        widget.set(settings[name]);
      }
      const relevant = this.relevantWhen?.[name];
      widget.box.classList.toggle('dimmed', relevant ? !relevant(settings) : false);
    }
  }

  /** Put the server's refusal under the control it names; anything else goes to the caller. */
  showError(name, message) {
    const widget = this.widgets.get(name);
    if (!widget) return false;
    widget.error.textContent = message;
    widget.box.classList.add('invalid');
    // The widget snaps back to the value in force: a refused value must not look as if it were running.
    if (this.settings && name in this.settings) widget.set(this.settings[name]);
    return true;
  }

  clearError(name) {
    const widget = this.widgets.get(name);
    if (!widget) return;
    widget.error.textContent = '';
    widget.box.classList.remove('invalid');
    // An accepted change puts the server's value back in a box that showed a refused one.
    if (name in this.settings) widget.set(this.settings[name]);
  }

  /** Hide controls by name (from ?hide=): the server's, the page's, or a view/tool id. */
  hide(names) {
    for (const name of names) {
      const widget = this.widgets.get(name);
      if (widget) widget.box.hidden = true;
      const byId = document.getElementById(idOf(name));
      const box = byId?.closest('.control') ?? byId;
      if (box && !widget) box.hidden = true;
    }
    for (const section of this.root.querySelectorAll('section.group')) {
      section.hidden = [...section.querySelectorAll('.control')].every((c) => c.hidden);
    }
  }
}
