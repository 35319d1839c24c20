// What the pointer does on the network view: finds the link, bias or neuron under it (network-layout.js's
// hitTest), shows that thing's exact numbers in a tooltip refreshed with every frame, opens the weight editor on a
// click on a link or a bias, and tells the page which neuron is hovered (its map fills the boundary view).

import { parameterName } from './gradient-view.js';
import { hitTest } from './network-layout.js';

/** The tooltip's HTML for a hovered weight, bias or neuron `h` of frame `f`. */
export function tooltipHtml(h, f) {
  if (h.kind === 'weight') {
    const nIn = f.layerSizes[h.layer];
    const w = f.weights[h.layer][h.row * nIn + h.col];
    const grad = f.weightGrads[h.layer][h.row * nIn + h.col];
    return `<b>${parameterName(h, f.parameterNames)}</b> = ${w.toFixed(4)}<br>∂C/∂w = ${grad.toExponential(2)}<br><i>click to edit</i>`;
  }
  if (h.kind === 'bias') {
    return `<b>${parameterName(h, f.parameterNames)}</b> = ${f.biases[h.layer][h.row].toFixed(4)}<br>`
      + `∂C/∂b = ${f.biasGrads[h.layer][h.row].toExponential(2)}<br><i>click to edit</i>`;
  }
  const a = f.activations[h.layer][h.index];
  const name = h.layer === 0 ? (f.inputNames?.[h.index] ?? `input ${h.index}`)
    : h.layer === f.layerSizes.length - 1 ? `output ${f.outputNames?.[h.index] ?? h.index}` : `neuron ${h.layer}.${h.index}`;
  let html = `<b>${name}</b><br>a = ${a.toFixed(4)}`;
  if (h.layer > 0) html += `<br>z = ${f.preActivations[h.layer - 1][h.index].toFixed(4)}`;
  return html;
}

export class NetworkPointer {
  /**
   * @param {import('./network-view.js').NetworkView} view the view whose canvas it listens to; it reads the
   *   view's geometry, links and frame, and redraws the view when what is hovered changes
   * @param {{onEdit, onHoverNeuron}} hooks
   */
  constructor(view, hooks) {
    this.view = view;
    this.hooks = hooks;
    this.hovered = null; // {kind: 'weight' | 'bias' | 'neuron', layer, row, col | index}, or null
    this.at = null; // the pointer's last client position
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'tooltip';
    this.tooltip.hidden = true;
    const canvas = view.canvas;
    canvas.addEventListener('mousemove', (event) => this.set(this.hitAt(event), event));
    canvas.addEventListener('mouseleave', () => this.set(null));
    canvas.addEventListener('click', (event) => {
      const hit = this.hitAt(event);
      if (hit && hit.kind !== 'neuron') this.hooks.onEdit({ ...hit, event });
    });
  }

  /** Whether the weight (kind 'weight', by row) / bias (by row) / neuron (by index) is the hovered one. */
  is(kind, layer, index) {
    const h = this.hovered;
    return h && h.kind === kind && h.layer === layer && (kind === 'neuron' ? h.index === index : h.row === index);
  }

  hitAt(event) {
    const v = this.view;
    if (!v.geometry || !v.frame) return null;
    const box = v.canvas.getBoundingClientRect();
    return hitTest(v.geometry, v.links ?? [], event.clientX - box.left, event.clientY - box.top);
  }

  set(hit, event) {
    if (event) this.at = { x: event.clientX, y: event.clientY };
    if (JSON.stringify(hit) === JSON.stringify(this.hovered)) {
      this.place();
      return;
    }
    const wasNeuron = this.hovered?.kind === 'neuron';
    this.hovered = hit;
    this.view.canvas.style.cursor = hit && hit.kind !== 'neuron' ? 'pointer' : 'default';
    if (hit?.kind === 'neuron') this.hooks.onHoverNeuron({ layer: hit.layer, index: hit.index });
    else if (wasNeuron) this.hooks.onHoverNeuron(null);
    if (this.view.frame) this.view.update(this.view.frame);
  }

  /** The hovered thing's numbers in the newest frame (the view calls this after each draw). */
  show() {
    const h = this.hovered;
    const f = this.view.frame;
    if (!h || !f) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.innerHTML = tooltipHtml(h, f);
    this.tooltip.hidden = false;
    this.place();
  }

  place() {
    if (this.tooltip.hidden || !this.at) return;
    const box = this.view.el.getBoundingClientRect();
    const x = Math.min(this.at.x - box.left + 16, box.width - this.tooltip.offsetWidth - 4);
    const y = Math.min(this.at.y - box.top + 16, box.height - this.tooltip.offsetHeight - 4);
    this.tooltip.style.left = `${x}px`;
    this.tooltip.style.top = `${y}px`;
  }
}
