// Draw your own digit: a mouse / touch / pen canvas (#draw-canvas) whose drawing becomes the probe while you draw.
// The server centres and scales it exactly as the dataset's digits were made (engine.datasets.center_and_scale),
// so the network sees what it was trained on; the frames then show its activations and #prediction its answer.
// #clear-drawing wipes it and gives the probe back to the digit shown before.
//
// Sends `probe {drawing: {width, height, pixels, label?}}` (docs/protocol.md): pixels are the drawing's ink,
// one byte per pixel (0 blank … 255 ink), row-major, base64. At most 20 a second, and never more than one
// unanswered, so a long stroke stays far below the server's message rate limit.

import { argmax, el } from './dom.js';

const SIDE = 280; // the canvas's own pixels (it is shown at whatever CSS size the layout gives it)
const SENT_SIDE = 140; // what travels: 140×140 bytes, 26 KB as base64, well under the 64 KB control limit
// Pen diameter as a fraction of the canvas, so a digit drawn to fill most of it has about the stroke width of the
// dataset's digits once centred and scaled (MNIST's strokes are about 1/8 of a digit's height, optdigits' 1/4).
// Tried with the drawn shapes of tests/engine/test_drawing.py on networks trained as the presets train: on mnist
// every one is read right with pens from 0.06 to 0.14; on the 8×8 digits a plain 7 needs 0.17 (thinner, it reads
// as a 3), which that test checks.
const PEN = { mnist: 0.09, digits: 0.17 };
const MIN_INTERVAL_MS = 50; // at most 20 drawings a second

/** Bytes to base64, in chunks (String.fromCharCode has an argument limit). */
function base64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text);
}

export class DrawCanvas {
  /**
   * @param {HTMLElement} root where the canvas, the prediction and the buttons are built
   * @param {{send: (event: string, payload: object) => Promise<object>}} hooks
   */
  constructor(root, hooks) {
    this.hooks = hooks;
    this.root = root; // the core lends it to the lab shown (lab.activate moves it into the lab's panel)
    root.classList.add('draw-panel');
    const pad = el('div', 'draw-pad');
    this.canvas = el('canvas');
    this.canvas.id = 'draw-canvas';
    this.canvas.width = SIDE;
    this.canvas.height = SIDE;
    this.canvas.setAttribute('aria-label', 'Draw a digit here');
    this.hint = el('div', 'draw-hint', 'draw a digit here');
    pad.append(this.canvas, this.hint);

    const side = el('div', 'draw-side');
    const readout = el('div', 'draw-readout');
    this.prediction = el('output', 'prediction');
    this.prediction.id = 'prediction';
    this.prediction.setAttribute('aria-live', 'polite');
    readout.append(el('span', 'muted', 'the network reads'), this.prediction);

    // "I meant …": the drawing's label, so the backprop step-through has a target y for it.
    const meant = el('div', 'draw-label');
    const chips = el('div', 'draw-label-chips');
    this.labelButtons = Array.from({ length: 10 }, (_, d) => {
      const b = el('button', 'chip-button', String(d));
      b.type = 'button';
      b.title = `Tell the network this drawing is a ${d} (its target y in the cost)`;
      b.addEventListener('click', () => this.setLabel(this.label === d ? null : d));
      chips.append(b);
      return b;
    });
    meant.append(el('span', 'muted', 'I meant'), chips);
    this.clearButton = el('button', 'tool', 'Clear');
    this.clearButton.id = 'clear-drawing';
    this.clearButton.type = 'button';
    side.append(readout, meant, this.clearButton);
    root.append(pad, side);

    this.ctx = this.canvas.getContext('2d');
    this.small = el('canvas');
    this.small.width = SENT_SIDE;
    this.small.height = SENT_SIDE;
    this.pen = PEN.mnist;
    this.label = null;
    this.hasInk = false;
    this.stroke = null; // the pointer drawing now, and where it was
    this.wanted = false; // a newer drawing than the last one sent
    this.inFlight = false;
    this.lastSent = -Infinity;
    this.timer = null;
    this.returnProbe = { split: 'train', index: 0 }; // the probe to give back on clear
    this.blank();
    this.listen();
  }

  blank() {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, SIDE, SIDE);
    this.hint.hidden = false;
  }

  listen() {
    const c = this.canvas;
    c.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 && e.pointerType === 'mouse') return;
      e.preventDefault();
      c.setPointerCapture?.(e.pointerId);
      const p = this.point(e);
      this.stroke = { id: e.pointerId, last: p };
      this.line(p, p);
    });
    c.addEventListener('pointermove', (e) => {
      if (!this.stroke || e.pointerId !== this.stroke.id) return;
      e.preventDefault();
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const ev of events.length ? events : [e]) {
        const p = this.point(ev);
        this.line(this.stroke.last, p);
        this.stroke.last = p;
      }
    });
    const end = (e) => {
      if (!this.stroke || e.pointerId !== this.stroke.id) return;
      this.stroke = null;
      this.changed();
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener('lostpointercapture', end);
    this.clearButton.addEventListener('click', () => this.clear());
  }

  /** Pointer position in canvas pixels, whatever size the canvas is shown at. */
  point(e) {
    const box = this.canvas.getBoundingClientRect();
    return [((e.clientX - box.left) / box.width) * SIDE, ((e.clientY - box.top) / box.height) * SIDE];
  }

  line(from, to) {
    const ctx = this.ctx;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = this.pen * SIDE;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0] + 0.01, to[1]); // a zero-length segment draws nothing: a click still leaves a dot
    ctx.stroke();
    this.hasInk = true;
    this.hint.hidden = true;
    this.changed();
  }

  changed() {
    if (!this.hasInk) return;
    this.wanted = true;
    this.pump();
  }

  /** Send the newest drawing when the last one is answered and 50 ms have passed since it went. */
  pump() {
    if (this.inFlight || !this.wanted) return;
    const wait = this.lastSent + MIN_INTERVAL_MS - performance.now();
    if (wait > 0) {
      if (!this.timer) this.timer = setTimeout(() => { this.timer = null; this.pump(); }, wait);
      return;
    }
    this.wanted = false;
    this.inFlight = true;
    this.lastSent = performance.now();
    const drawing = this.encode();
    if (this.label !== null) drawing.label = this.label;
    Promise.resolve(this.hooks.send('probe', { drawing }))
      .catch(() => {})
      .finally(() => { this.inFlight = false; this.pump(); });
  }

  /** The drawing at SENT_SIDE² (the browser's smoothing averages the ink), one byte of ink per pixel. */
  encode() {
    const ctx = this.small.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(this.canvas, 0, 0, SENT_SIDE, SENT_SIDE);
    const rgba = ctx.getImageData(0, 0, SENT_SIDE, SENT_SIDE).data;
    const ink = new Uint8Array(SENT_SIDE * SENT_SIDE);
    for (let i = 0; i < ink.length; i += 1) ink[i] = rgba[i * 4]; // white ink on black: the red channel
    return { width: SENT_SIDE, height: SENT_SIDE, pixels: base64(ink) };
  }

  setLabel(digit) {
    this.label = digit;
    this.labelButtons.forEach((b, d) => b.setAttribute('aria-pressed', String(d === digit)));
    this.changed();
  }

  /** Wipe the drawing and give the probe back to the digit shown before it. */
  clear() {
    this.blank();
    this.hasInk = false;
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.prediction.textContent = '';
    this.setLabel(null);
    this.hooks.send('probe', this.returnProbe);
  }

  /**
   * The lab's frame: inputShape ([H, W] of an image probe, else null), probe (the state's), and the network's
   * outputs for the probe (`outputs`, or the last of `activations`).
   */
  update(frame) {
    if (!frame.inputShape) return;
    this.pen = frame.inputShape[frame.inputShape.length - 1] <= 8 ? PEN.digits : PEN.mnist;
    const probe = frame.probe;
    const drawn = !!(probe && (probe.drawing || probe.image));
    if (probe && !drawn) this.returnProbe = 'point' in probe ? { point: probe.point } : { split: probe.split, index: probe.index };
    const outputs = frame.outputs ?? frame.activations?.[frame.activations.length - 1];
    this.prediction.textContent = drawn && this.hasInk && outputs ? String(argmax(outputs)) : '';
  }
}
