// What every canvas view does first: match the canvas's pixels to its CSS size on this screen.

/**
 * Size `canvas` to width × height CSS pixels at the screen's pixel ratio (only when that changed: resizing clears
 * it) and return its 2-D context, scaled so that drawing is in CSS pixels.
 */
export function sizeCanvas(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}
