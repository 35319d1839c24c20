// #generated-text: text sampled from the character model, one character at a time at the temperature chosen; the
// prime (the start of the probe's text) in grey. The server samples again as the model trains.

import { el } from '../../core/dom.js';

export class TextView {
  constructor(pre, caption) {
    this.pre = pre;
    this.caption = caption;
    this.version = null;
  }

  /** A `sample` bundle (its meta fields: text, prime, temperature, step, note). */
  show(sample) {
    if (!sample || sample.version === this.version) return;
    this.version = sample.version;
    if (sample.note) {
      this.pre.replaceChildren(el('span', 'prime', sample.note));
      this.caption.textContent = '';
      return;
    }
    this.pre.replaceChildren(el('span', 'prime', sample.prime), document.createTextNode(sample.text));
    this.caption.textContent = `after ${sample.step} steps, temperature ${sample.temperature}: `
      + 'each character drawn from softmax(logits / temperature) and fed back in';
  }
}
