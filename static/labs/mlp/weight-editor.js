// The box that opens where a link (or bias) was clicked: type a new value, Enter applies it live through the
// server's edit_weight / edit_bias; a refused value shows the server's error and changes nothing.
// It also lets the loss-landscape plane take this parameter as one of its two axes.

import { parameterName } from './gradient-view.js';

export class WeightEditor {
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.input = root.querySelector('input');
    this.label = root.querySelector('#weight-editor-label');
    this.error = root.querySelector('.error');
    this.target = null;
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') this.apply();
      if (event.key === 'Escape') this.close();
    });
    const axisButtons = document.createElement('span');
    axisButtons.className = 'axis-buttons';
    for (const [which, text] of [[0, 'plot as x'], [1, 'plot as y']]) {
      const button = document.createElement('button');
      button.className = 'tool';
      button.textContent = text;
      button.title = 'Use this parameter as an axis of the loss landscape';
      button.addEventListener('click', () => {
        if (this.target) this.hooks.onChooseAxis(which, this.target);
        this.close();
      });
      axisButtons.append(button);
    }
    root.append(axisButtons);
    document.addEventListener('pointerdown', (event) => {
      if (!this.root.hidden && !this.root.contains(event.target) && !event.target.closest?.('#network-view')) this.close();
    });
  }

  /** Open at the click for target {kind: 'weight' | 'bias', layer, row, col, event}. */
  open(target, frame) {
    const { kind, layer, row, col } = target;
    this.target = { kind, layer, row, col };
    const nIn = frame?.layerSizes[layer];
    const value = kind === 'bias' ? frame?.biases[layer]?.[row] : frame?.weights[layer]?.[row * nIn + col];
    this.label.textContent = `${parameterName(this.target)} =`;
    this.input.value = value === undefined ? '' : String(Number(value.toPrecision(4)));
    this.error.textContent = '';
    const box = this.root.parentElement.getBoundingClientRect();
    const x = (target.event?.clientX ?? box.left + box.width / 2) - box.left;
    const y = (target.event?.clientY ?? box.top + box.height / 2) - box.top;
    this.root.hidden = false;
    this.root.style.left = `${Math.max(4, Math.min(x + 12, box.width - this.root.offsetWidth - 4))}px`;
    this.root.style.top = `${Math.max(4, Math.min(y + 12, box.height - this.root.offsetHeight - 4))}px`;
    this.input.focus();
    this.input.select();
  }

  async apply() {
    if (!this.target) return;
    const text = this.input.value.trim();
    // A number when it parses; anything else goes as typed, and the server's error explains what is allowed.
    const value = text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    const { kind, layer, row, col } = this.target;
    const reply = kind === 'bias'
      ? await this.hooks.send('edit_bias', { layer, neuron: row, value })
      : await this.hooks.send('edit_weight', { layer, neuron: row, input: col, value });
    if (reply?.ok !== false) this.close();
  }

  showError(message) {
    if (this.root.hidden) return false;
    this.error.textContent = message;
    return true;
  }

  close() {
    this.root.hidden = true;
    this.target = null;
  }
}
