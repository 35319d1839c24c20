// The strip of augmented samples: the last minibatch's first images as the network trained on them, each moved
// by its random shift (only while `augment_shift` > 0). From the `augmented` bundle.

import { sizeCanvas } from '../../core/canvas.js';
import { el } from '../../core/dom.js';

export class AugmentedStrip {
  constructor(root) {
    this.root = root;
    this.caption = el('div', 'muted');
    this.canvas = el('canvas', 'strip-canvas');
    root.append(this.caption, this.canvas);
    this.drawnVersion = -1;
  }

  /** bundle: {meta: {version, shift}, arrays: {augmented: (n, C, H, W)}} or null (augmentation off). */
  update(bundle, shift) {
    this.root.hidden = !(shift > 0 && bundle);
    if (this.root.hidden || bundle.meta.version === this.drawnVersion) return;
    this.drawnVersion = bundle.meta.version;
    const images = bundle.arrays.augmented;
    const [n, c, h, w] = images.shape;
    this.caption.textContent = `as trained on: shifted by up to ±${bundle.meta.shift} px`;
    const cell = Math.max(2, Math.floor(Math.min(56, (this.root.clientWidth - 4 * n) / n) / w));
    const ctx = sizeCanvas(this.canvas, n * (w * cell + 4), h * cell);
    this.canvas.style.width = `${n * (w * cell + 4)}px`;
    this.canvas.style.height = `${h * cell}px`;
    const image = new ImageData(w, h);
    const off = document.createElement('canvas');
    off.width = w;
    off.height = h;
    ctx.imageSmoothingEnabled = false;
    for (let i = 0; i < n; i += 1) {
      for (let p = 0; p < h * w; p += 1) {
        for (let ch = 0; ch < 3; ch += 1) {
          image.data[p * 4 + ch] = Math.round(255 * Math.min(1, Math.max(0, images[(i * c + (c === 3 ? ch : 0)) * h * w + p])));
        }
        image.data[p * 4 + 3] = 255;
      }
      off.getContext('2d').putImageData(image, 0, 0);
      ctx.drawImage(off, i * (w * cell + 4), 0, w * cell, h * cell);
    }
  }
}
