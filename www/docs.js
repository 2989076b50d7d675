// The documentation page (docs.html): renders docs/*.md in the browser with marked (vendored in
// www/vendor/ by scripts/build.sh, never fetched from elsewhere). docs/README.md is the overview
// and its numbered list of links is the table of contents; `?topic=learner` shows docs/learner.md.
// Links between the Markdown files become links between topics of this page, without a reload.
import { marked } from './vendor/marked.esm.js';

const DOCS = new URL('../docs/', import.meta.url);
const article = document.getElementById('doc');
const topicList = document.getElementById('docs-topics');

/** A topic's address on this page (the overview when `name` is empty), with an optional #section. */
const topicUrl = (name, hash = '') => `docs.html${name ? `?topic=${name}` : ''}${hash}`;

/**
 * Links inside the Markdown: `learner.md#section` → this page's topic; `../index.html` (the repo's
 * layout, docs/ beside the pages) → the page at the site root.
 */
function walkTokens(token) {
  if (token.type !== 'link') return;
  const doc = /^([\w-]+)\.md(#.*)?$/.exec(token.href);
  if (doc) token.href = topicUrl(doc[1] === 'README' ? '' : doc[1], doc[2]);
  else if (token.href.startsWith('../')) token.href = token.href.slice(3);
}
marked.use({ walkTokens });

async function fetchText(file) {
  const response = await fetch(new URL(file, DOCS));
  if (!response.ok) throw new Error(`docs/${file} could not be loaded (HTTP ${response.status})`);
  return response.text();
}

/** The topics in the overview's numbered list: [{name, title}]. */
const parseTopics = (overview) => [...overview.matchAll(/^\d+\. \[([^\]]+)\]\(([\w-]+)\.md\)/gm)].map((m) => ({ title: m[1], name: m[2] }));

/** An id for a heading from its text: "Unfreezing and discriminative rates" → "unfreezing-and-discriminative-rates". */
const slug = (text) => text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '');

let topics = [];
let overview = '';

/** The nav: every topic, the current one marked, with its sections under it. */
function showNav(current, sections) {
  topicList.replaceChildren(...topics.map(({ name, title }) => {
    const item = document.createElement('li');
    const link = Object.assign(document.createElement('a'), { href: topicUrl(name), textContent: title });
    item.append(link);
    if (name === current) {
      link.setAttribute('aria-current', 'page');
      const list = document.createElement('ul');
      list.append(...sections.map((h) => {
        const entry = document.createElement('li');
        entry.append(Object.assign(document.createElement('a'), { href: topicUrl(name, `#${h.id}`), textContent: h.textContent }));
        return entry;
      }));
      if (sections.length) item.append(list);
    }
    return item;
  }));
  document.querySelector('.docs-home').toggleAttribute('aria-current', current === '');
}

/** A "Copy" button on a code block, which puts its code on the clipboard. */
function addCopyButton(pre) {
  const box = Object.assign(document.createElement('div'), { className: 'code' });
  const button = Object.assign(document.createElement('button'), { type: 'button', className: 'copy', textContent: 'Copy' });
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(pre.textContent);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
  pre.replaceWith(box);
  box.append(pre, button);
}

/** How many times `show` has been called: each call knows whether a later one overtook it. */
let shown = 0;
/** Shows the topic the address names (the overview for none or an unknown one). */
async function show() {
  const params = new URLSearchParams(location.search);
  const topic = topics.find((t) => t.name === params.get('topic'));
  // Back twice in quick succession starts two of these; only the last one may fill the page.
  const call = ++shown;
  try {
    const markdown = topic ? await fetchText(`${topic.name}.md`) : overview;
    if (call !== shown) return;
    article.innerHTML = marked.parse(markdown);
  } catch (error) {
    if (call !== shown) return;
    const notice = Object.assign(document.createElement('p'), { className: 'notice error', textContent: error.message });
    notice.setAttribute('role', 'alert');
    article.replaceChildren(notice);
  }
  article.querySelectorAll('pre').forEach(addCopyButton);
  const headings = [...article.querySelectorAll('h2, h3')];
  headings.forEach((h) => { h.id = slug(h.textContent); });
  document.title = `kiln · ${topic ? topic.title : 'Documentation'}`;
  showNav(topic?.name ?? '', headings.filter((h) => h.tagName === 'H2'));
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target) target.scrollIntoView();
  else {
    window.scrollTo(0, 0);
    article.focus({ preventScroll: true });
  }
}

// Links to a topic of this page change the address and the article, not the whole page.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || url.pathname !== location.pathname) return;
  event.preventDefault();
  const sameTopic = url.search === location.search;
  history.pushState(null, '', url);
  if (sameTopic && url.hash) document.getElementById(decodeURIComponent(url.hash.slice(1)))?.scrollIntoView();
  else show();
});
window.addEventListener('popstate', show);

try {
  overview = await fetchText('README.md');
  topics = parseTopics(overview);
} catch (error) {
  overview = `# Documentation\n\n${error.message}`;
}
await show();
