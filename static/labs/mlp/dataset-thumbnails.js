// The dataset picker's thumbnails, above the #dataset <select> (which stays the one source of the choice).
// A thumbnail is drawn from the real data the first time that dataset's bundle arrives, and kept in
// localStorage, so the picker fills in as a class visits the datasets.

import { classColors, colors } from '../../core/theme.js';

const STORE = 'nnplayground.thumbnail.';
const SIZE = 64;

export class DatasetThumbnails {
  constructor(onPick) {
    this.onPick = onPick;
    this.buttons = new Map();
  }

  /** Build the thumbnails for the schema's dataset choices, just above the select. */
  attach(select, schema) {
    if (!select) return;
    const control = schema.controls.find((c) => c.name === 'dataset');
    const grid = document.createElement('div');
    grid.className = 'thumbs';
    grid.id = 'dataset-thumbnails';
    this.buttons.clear();
    for (const name of control.choices) {
      const button = document.createElement('button');
      button.type = 'button';
      button.title = name;
      button.dataset.dataset = name;
      button.setAttribute('aria-pressed', 'false');
      const canvas = document.createElement('canvas');
      canvas.width = SIZE;
      canvas.height = SIZE;
      const caption = document.createElement('span');
      caption.textContent = name;
      button.append(canvas, caption);
      button.addEventListener('click', () => this.onPick(name));
      grid.append(button);
      this.buttons.set(name, { button, canvas });
      const stored = localStorage.getItem(STORE + name);
      const preview = control.previews?.[name];
      if (stored) paintStored(canvas, stored);
      else if (preview?.pixels) paintImage(canvas, preview);
      else if (preview?.x) paintPoints(canvas, preview.x.flat(), preview.y, control.tasks?.[name], [-6, 6]);
    }
    select.closest('.control')?.prepend(grid);
  }

  select(name) {
    for (const [key, { button }] of this.buttons) button.setAttribute('aria-pressed', String(key === name));
  }

  /** Draw (and keep) the thumbnail of the dataset a bundle carries. */
  remember(dataset) {
    const { name, task, extent } = dataset.meta;
    const x = dataset.arrays['train.x'];
    const y = dataset.arrays['train.y'];
    const entry = this.buttons.get(name);
    if (!entry || !x || !y) return;
    const { canvas } = entry;
    paintPoints(canvas, x, y, task, extent ?? [-6, 6]);
    try {
      localStorage.setItem(STORE + name, canvas.toDataURL());
    } catch {
      // Storage full or disabled: the thumbnail still shows for this visit.
    }
  }
}

/** Points (x: flat [x1, x2, ...]) coloured by class, or by the sign and size of a regression target. */
function paintPoints(canvas, x, y, task, [lo, hi]) {
  const g = canvas.getContext('2d');
  g.fillStyle = colors.background;
  g.fillRect(0, 0, SIZE, SIZE);
  let scale = 1;
  if (task === 'regression') y.forEach((v) => { scale = Math.max(scale, Math.abs(v)); });
  for (let i = 0; i < y.length; i += 1) {
    const px = ((x[2 * i] - lo) / (hi - lo)) * SIZE;
    const py = SIZE - ((x[2 * i + 1] - lo) / (hi - lo)) * SIZE;
    g.fillStyle = task === 'regression'
      ? (y[i] >= 0 ? `rgba(88,196,221,${Math.abs(y[i]) / scale})` : `rgba(252,98,85,${Math.abs(y[i]) / scale})`)
      : classColors[y[i] % classColors.length];
    g.fillRect(px - 1.5, py - 1.5, 3, 3);
  }
}

/** One example digit, grey levels on the page's background (the button's caption names the set). */
function paintImage(canvas, { shape: [h, w], pixels }) {
  const g = canvas.getContext('2d');
  g.fillStyle = colors.background;
  g.fillRect(0, 0, SIZE, SIZE);
  const cell = (SIZE - 8) / Math.max(h, w);
  const left = (SIZE - cell * w) / 2;
  for (let r = 0; r < h; r += 1) {
    for (let c = 0; c < w; c += 1) {
      const v = pixels[r * w + c];
      if (!v) continue;
      g.fillStyle = `rgb(${v},${v},${v})`;
      g.fillRect(left + c * cell, 4 + r * cell, Math.ceil(cell), Math.ceil(cell));
    }
  }
}

function paintStored(canvas, dataUrl) {
  const image = new Image();
  image.onload = () => canvas.getContext('2d').drawImage(image, 0, 0, SIZE, SIZE);
  image.src = dataUrl;
}
