// Callouts: what a lesson step points at. The target itself is marked (class `lesson-highlight`: an outline and,
// for a view, its title in yellow with an arrow), so the mark moves with it whatever the layout does — resize,
// presenter mode, the controls tucked away, a lab's views rebuilt. A control, or anything without a title of its
// own, also gets a label pointing at it. A control that is not on screen (the controls tucked into their strip)
// is pointed at through the strip that brings it back. Highlighted views are scrolled into sight within the views'
// own scroll area (a lab whose views are taller than the window: the RNN and CNN labs at 1366×768) once the lab's
// views have laid out — never by scrolling the window.

import { idOf } from '../core/controls.js';

const REMEASURE_MS = 250; // and at once on resize/scroll: cheap (a few getBoundingClientRect per tick)
const MARK = 'lesson-highlight';
const SIGHT_TICKS = 2; // the highlighted views stay in sight this many measures in a row: the layout has settled
const SIGHT_GIVE_UP_MS = 5000; // a lab that never lays out, or a teacher scrolling away, is left alone after this

export class Callouts {
  constructor(layer, labelOf) {
    this.layer = layer; // a fixed, full-window, click-through element for the labels
    this.labelOf = labelOf; // name -> the words a label shows (asked each time: a lab's controls come and go)
    this.items = [];
    this.timer = null;
    const again = () => this.place();
    window.addEventListener('resize', again);
    window.addEventListener('scroll', again, true);
  }

  /** Point at `targets` (a control's name or "#id" each); [] removes every mark. */
  show(targets) {
    for (const el of document.querySelectorAll(`.${MARK}`)) el.classList.remove(MARK);
    this.layer.replaceChildren();
    this.items = targets.map((name) => {
      const target = { name };
      const tag = document.createElement('div');
      tag.className = 'callout-tag';
      tag.dataset.target = name;
      this.layer.append(tag);
      return { target, tag, marked: null };
    });
    clearInterval(this.timer);
    this.timer = targets.length ? setInterval(() => this.place(), REMEASURE_MS) : null;
    this.sight = targets.some((name) => name.startsWith('#')) ? { since: performance.now(), inSight: 0 } : null;
    this.place();
    // A control scrolled out of the controls panel is brought into it (once: the teacher may scroll away).
    for (const item of this.items) {
      if (!item.target.name.startsWith('#') && item.marked?.closest('#controls')) {
        item.marked.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      }
    }
    this.place();
  }

  /** The element to mark for a target, whether it is a view with its own title, and whether it stands in
   * (the controls' strip) for a control tucked away. */
  static resolve(name) {
    if (name.startsWith('#')) {
      const el = document.getElementById(name.slice(1));
      const figure = el?.closest('figure.view');
      if (figure) return { el: figure, titled: Boolean(figure.querySelector('figcaption .title')), standIn: false };
      // A readout (<dt>Test accuracy</dt><dd id=…>): the pair is marked, its <dt> is the label.
      const readout = el?.tagName === 'DD' ? el.parentElement : null;
      return { el: readout ?? el, titled: Boolean(readout?.querySelector('dt')), standIn: false };
    }
    const input = document.getElementById(idOf(name)); // core/controls.js gives a control's widget this id
    const control = input?.closest('.control') ?? input;
    if (control && visible(control)) return { el: control, titled: false, standIn: false };
    const strip = document.getElementById('controls-strip');
    const standIn = Boolean(strip && visible(strip));
    return { el: standIn ? strip : control, titled: false, standIn };
  }

  /** Scroll the views' area so the highlighted views are in sight (their top first, as many as fit below it),
   * until they have stayed there SIGHT_TICKS measures in a row (the lab's views have laid out), for at most
   * SIGHT_GIVE_UP_MS. */
  bringViewsIntoSight() {
    const sight = this.sight;
    if (!sight) return;
    if (performance.now() - sight.since > SIGHT_GIVE_UP_MS) {
      this.sight = null;
      return;
    }
    const views = this.items.filter((item) => item.target.name.startsWith('#'))
      .map((item) => Callouts.resolve(item.target.name).el).filter((el) => el && visible(el));
    const area = views[0]?.closest('.views');
    if (!area) return; // not laid out yet (a lab switch builds its views): the next measure
    const box = area.getBoundingClientRect();
    const top = Math.min(...views.map((el) => el.getBoundingClientRect().top));
    const bottom = Math.max(...views.map((el) => el.getBoundingClientRect().bottom));
    const fits = bottom - top <= box.height;
    const inSight = top >= box.top - 1 && (fits ? bottom <= box.bottom + 1 : top <= box.top + 16);
    sight.inSight = inSight ? sight.inSight + 1 : 0;
    if (sight.inSight >= SIGHT_TICKS) this.sight = null;
    else if (!inSight) {
      const before = area.scrollTop;
      area.scrollTop += top - box.top - 8; // room above for the callout's arrow
      if (area.scrollTop === before) sight.inSight += 1; // as far as the area scrolls: as good as it gets
    }
  }

  place() {
    this.bringViewsIntoSight();
    let besideStrip = 0; // labels of several tucked-away controls stack beside the strip
    for (const item of this.items) {
      item.target.label = this.labelOf(item.target.name);
      const { el, titled, standIn } = Callouts.resolve(item.target.name);
      if (item.marked !== el) {
        item.marked?.classList.remove(MARK);
        item.marked = el;
      }
      el?.classList.add(MARK); // again each time: a rebuilt control is a new element
      if (el) el.dataset.lessonLabel = item.target.label;
      const tag = item.tag;
      // A view's own title is its label; so is a banner or a large area (wider than a view column).
      const shown = el && visible(el) && !titled && el.getBoundingClientRect().width < 600;
      tag.hidden = !shown;
      if (!shown) continue;
      tag.textContent = standIn ? `${item.target.label}: open the controls ›` : item.target.label;
      const r = el.getBoundingClientRect();
      const size = tag.getBoundingClientRect();
      const gap = 12;
      let left;
      let top;
      let side;
      if (standIn) { // the slim strip: the label to its right, at its middle (above it would cover play)
        side = 'right';
        left = r.right + gap;
        top = r.top + r.height / 2 - size.height / 2 + besideStrip * (size.height + 8);
        top = Math.min(Math.max(4, top), window.innerHeight - size.height - 4);
        besideStrip += 1;
      } else { // above the target (below when there is no room), its arrow on it, inside the window
        side = r.top - size.height - gap >= 0 ? 'above' : 'below';
        top = side === 'above' ? r.top - size.height - gap : Math.min(r.bottom + gap, window.innerHeight - size.height);
        left = Math.max(4, Math.min(r.left, window.innerWidth - size.width - 4));
      }
      tag.dataset.side = side;
      Object.assign(tag.style, { left: `${left}px`, top: `${top}px` });
      tag.style.setProperty('--arrow-left', `${Math.max(12, Math.min(r.left + 18 - left, size.width - 12))}px`);
    }
  }
}

function visible(el) {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
}
