// A step's text: Markdown (markdown-it) with $…$ and $$…$$ formulas (KaTeX, through markdown-it-texmath), all
// from npm's packages served by the app (/vendor/npm/…): offline, no CDN. Loaded the first time a lesson opens.

const SCRIPTS = ['katex/dist/katex.min.js', 'markdown-it/dist/markdown-it.min.js', 'markdown-it-texmath/texmath.js'];
const STYLES = ['katex/dist/katex.min.css'];

let ready = null;

function loadScript(path) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = `/vendor/npm/${path}`;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${path}`));
    document.head.append(script);
  });
}

/** markdown-it with KaTeX math, once. */
function renderer() {
  ready ??= (async () => {
    for (const path of STYLES) {
      document.head.append(Object.assign(document.createElement('link'), { rel: 'stylesheet', href: `/vendor/npm/${path}` }));
    }
    for (const path of SCRIPTS) await loadScript(path); // in order: texmath finds katex, markdown-it first
    // html: false — a lesson file's text never becomes markup of its own (an uploaded file is a stranger's).
    const md = window.markdownit({ html: false, linkify: true, typographer: true });
    md.use(window.texmath, { engine: window.katex, delimiters: 'dollars', katexOptions: { throwOnError: false } });
    // Links open beside the lesson, never in place of the page the class is watching.
    const defaultLink = md.renderer.rules.link_open ?? ((tokens, i, options, env, self) => self.renderToken(tokens, i, options));
    md.renderer.rules.link_open = (tokens, i, options, env, self) => {
      tokens[i].attrSet('target', '_blank');
      tokens[i].attrSet('rel', 'noopener');
      return defaultLink(tokens, i, options, env, self);
    };
    return md;
  })();
  return ready;
}

/** `text` (Markdown with formulas) as HTML. */
export async function renderMarkdown(text) {
  const md = await renderer();
  return md.render(text ?? '');
}

/** Inline Markdown (a question, a choice, a check's text): no paragraphs. */
export async function renderInline(text) {
  const md = await renderer();
  return md.renderInline(text ?? '');
}
