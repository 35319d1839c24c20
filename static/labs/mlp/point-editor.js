// Your own data on the decision-boundary view: "Draw data" turns the plane into a canvas — click to add a point
// of the chosen class (or, for regression, of the slider's value), drag to paint several, right-click or the
// eraser to remove, #clear-points to start empty — and the network trains on the points as they appear.
// #upload-data sends a CSV (the server validates it; an error names the line and column), #download-data gets
// the current data back as the same CSV, #export-pytorch the trained network as a PyTorch script.
//
// The server owns the points: every edit is an event (docs/protocol.md, "Your own data"), and what is drawn
// comes back in the next frame's dataset bundle. Painted points are sent in small batches while dragging.

import { classColors } from '../../core/theme.js';

const MAX_CLASSES = 6;
const PAINT_SPACING_PX = 14; // a drag adds a point every this many pixels
const ERASER_PX = 14; // what the eraser (or a right-click) takes: points within this many pixels
const FLUSH_MS = 60; // painted points go to the server at most this often

export class PointEditor {
  /**
   * `boundary`: the BoundaryView (its toPlane maps a pointer to (x1, x2)); `els`: the toolbar's elements
   * {toolbar, mode, classes, valueBox, value, valueOut, eraser, clear, upload, note}; `hooks`: send(event, payload)
   * → reply (a refusal is shown by the core), toast(message, ms), limits() → the schema's `own_data` limits,
   * onEditing(on) when data mode turns on or off.
   */
  constructor(boundary, els, hooks) {
    this.boundary = boundary;
    this.els = els;
    this.hooks = hooks;
    this.active = false;
    this.erasing = false;
    this.label = 0;
    this.state = null;
    this.pending = [];
    this.pendingErase = [];
    this.stroke = null; // {button, last: [px, py]} while a pointer is down
    this.overlay = document.createElement('div');
    this.overlay.className = 'point-overlay';
    this.overlay.hidden = true;
    boundary.root.append(this.overlay);
    this.buildClassPicker();
    els.mode.addEventListener('click', () => this.setActive(!this.active));
    els.eraser.addEventListener('click', () => this.setErasing(!this.erasing));
    els.clear.addEventListener('click', () => this.send('clear_points', { task: this.task() }));
    els.value.addEventListener('input', () => { els.valueOut.textContent = Number(els.value.value).toFixed(2); });
    els.upload.addEventListener('change', (event) => this.upload(event));
    this.overlay.addEventListener('pointerdown', (event) => this.down(event));
    this.overlay.addEventListener('pointermove', (event) => this.move(event));
    this.overlay.addEventListener('pointerup', () => this.up());
    this.overlay.addEventListener('pointercancel', () => this.up());
    this.overlay.addEventListener('contextmenu', (event) => event.preventDefault());
  }

  buildClassPicker() {
    this.swatches = Array.from({ length: MAX_CLASSES }, (_, k) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'swatch';
      button.dataset.class = String(k);
      button.style.setProperty('--swatch', classColors[k]);
      button.title = `Class ${k}`;
      button.setAttribute('aria-label', `class ${k}`);
      button.addEventListener('click', () => this.pickClass(k));
      this.els.classes.append(button);
      return button;
    });
    this.pickClass(0);
  }

  pickClass(k) {
    this.label = k;
    this.setErasing(false);
    this.swatches.forEach((button, i) => button.setAttribute('aria-pressed', String(i === k)));
  }

  setActive(on) {
    this.active = on;
    this.overlay.hidden = !on;
    this.els.mode.setAttribute('aria-pressed', String(on));
    this.els.toolbar.classList.toggle('editing', on);
    this.boundary.root.classList.toggle('editing', on);
    this.hooks.onEditing?.(on);
  }

  setErasing(on) {
    this.erasing = on;
    this.els.eraser.setAttribute('aria-pressed', String(on));
    this.overlay.classList.toggle('erasing', on);
  }

  task() {
    return this.state?.task === 'regression' ? 'regression' : 'classification';
  }

  /** Every state: the class picker or the value slider, the data's note (e.g. rescaled), and 2-D only. */
  showState(state) {
    this.state = state;
    const points = state.input_kind === 'points';
    this.els.toolbar.hidden = !points;
    if (!points && this.active) this.setActive(false);
    const regression = state.task === 'regression';
    this.els.classes.hidden = regression;
    this.els.valueBox.hidden = !regression;
    // Classes in use are shown full; the next unused one is offered too, up to six.
    const used = state.task === 'classification' ? state.num_classes : 0;
    this.swatches.forEach((button, k) => button.classList.toggle('unused', k >= used));
    const own = state.points;
    this.els.note.textContent = own
      ? `${own.count} point${own.count === 1 ? '' : 's'} of your own${own.note ? ` · ${own.note}` : ''}`
      : '';
  }

  // --- pointer → points
  down(event) {
    const at = this.boundary.toPlane(event.clientX, event.clientY);
    if (!at) return;
    event.preventDefault();
    this.overlay.setPointerCapture(event.pointerId);
    const erase = this.erasing || event.button === 2;
    this.stroke = { erase, last: [event.clientX, event.clientY] };
    this.mark(at, erase);
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
  }

  move(event) {
    if (!this.stroke) return;
    const [px, py] = this.stroke.last;
    const spacing = this.stroke.erase ? ERASER_PX / 2 : PAINT_SPACING_PX;
    if (Math.hypot(event.clientX - px, event.clientY - py) < spacing) return;
    const at = this.boundary.toPlane(event.clientX, event.clientY);
    if (!at) return;
    this.stroke.last = [event.clientX, event.clientY];
    this.mark(at, this.stroke.erase);
  }

  up() {
    if (!this.stroke) return;
    this.stroke = null;
    clearInterval(this.timer);
    this.flush();
  }

  mark(at, erase) {
    (erase ? this.pendingErase : this.pending).push(at);
  }

  flush() {
    if (this.pending.length) {
      const payload = { points: this.pending };
      if (this.task() === 'regression') payload.value = Number(this.els.value.value);
      else payload.label = this.label;
      this.pending = [];
      this.send('add_points', payload);
    }
    if (this.pendingErase.length) {
      const radius = ERASER_PX * this.boundary.unitsPerPixel();
      this.send('remove_points', { at: this.pendingErase, radius: Math.min(3, Math.max(0.01, radius)) });
      this.pendingErase = [];
    }
  }

  async send(event, payload) {
    return this.hooks.send(event, payload);
  }

  async upload(event) {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    const limit = this.hooks.limits()?.max_csv_bytes;
    if (limit && file.size > limit) {
      // Too big to send: say so in the server's words, naming the line that crosses the limit.
      const line = (await file.slice(0, limit).text()).split('\n').length;
      this.hooks.toast(`upload_data.csv: line ${line}: got a file of ${file.size.toLocaleString('en')} bytes `
        + `(the limit is crossed on this line); allowed: at most ${limit.toLocaleString('en')} bytes`, 9000);
      return;
    }
    const reply = await this.send('upload_data', { csv: await file.text() });
    if (reply?.ok === false) return; // the error is shown (it names the line and the column)
    const note = this.state?.points?.note;
    this.hooks.toast(`Loaded ${file.name}${note ? `: ${note}` : '.'}`, note ? 9000 : 3000);
  }
}

