// Plotly.js is loaded by a classic <script> tag before the modules (templates/index.html).
export const { Plotly } = window;

/** Keep a plot the size of its element: Plotly's own `responsive` only follows the window. */
export function fitToElement(el) {
  let queued = false;
  new ResizeObserver(() => {
    if (queued || !el.data) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      Plotly.Plots.resize(el);
    });
  }).observe(el);
}
