// Search by listing title, post id or file name; the chunks are fetched on the first search only.
import { formatNumber } from './text.js';

const SHOWN = 50;

export function createSearch(data, onChoose) {
  const input = document.getElementById('search');
  const list = document.getElementById('search-results');
  const count = document.getElementById('search-count');
  let haystack = null; // Promise of [{index, text, label}] in photo order
  let typed = 0;

  function build() {
    if (haystack === null) {
      count.textContent = 'loading\u2026';
      haystack = data.allChunks((loaded, total) => {
        count.textContent = 'loading ' + loaded + ' of ' + total + '\u2026';
      }).then((chunks) => {
        const entries = [];
        for (const chunk of chunks) {
          chunk.ids.forEach((id, local) => {
            const listing = chunk.listing[local];
            const title = listing >= 0 ? chunk.listings.title[listing] : null;
            const post = listing >= 0 ? chunk.listings.post_id[listing] : null;
            entries.push({
              index: chunk.start + local,
              label: title ? title + ' \u2014 ' + id : id,
              text: [id, title || '', post === null ? '' : String(post)].join('\n').toLowerCase(),
            });
          });
        }
        return entries;
      });
      haystack.catch(() => { haystack = null; });
    }
    return haystack;
  }

  async function run() {
    const request = ++typed;
    const query = input.value.trim().toLowerCase();
    if (query === '') {
      list.replaceChildren();
      count.textContent = '';
      return [];
    }
    let entries;
    try {
      entries = await build();
    } catch (error) {
      count.textContent = 'search unavailable: ' + error.message;
      return [];
    }
    if (request !== typed) return null;
    const found = entries.filter((entry) => entry.text.includes(query));
    count.textContent = formatNumber(found.length) + (found.length === 1 ? ' match' : ' matches') +
      (found.length > SHOWN ? ', first ' + SHOWN + ' listed' : '');
    list.replaceChildren(...found.slice(0, SHOWN).map((entry) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = entry.label;
      button.dataset.index = entry.index;
      button.addEventListener('click', () => onChoose(entry.index));
      item.append(button);
      return item;
    }));
    return found;
  }

  let timer = null;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 150);
  });
  input.addEventListener('focus', () => { build().catch(() => {}); }, { once: true });
  // Enter jumps to the first match.
  input.addEventListener('keydown', async (event) => {
    if (event.key !== 'Enter') return;
    clearTimeout(timer);
    const found = await run();
    if (found && found.length > 0) onChoose(found[0].index);
  });
  return { run: run };
}
