// The side panel for the open photo: the photo, its listing, and look-alikes that fly to their cell.
import { formatNumber, setText, webUrl } from './text.js';

// A photo's cell cut from the deepest tiles, for photos whose source file cannot be shown.
export function cellCrop(config, data, index) {
  const crop = document.createElement('div');
  crop.className = 'tile-crop';
  const cellNumber = data.cellOf[index];
  const left = (cellNumber % config.cols) * config.cell_px;
  const top = Math.floor(cellNumber / config.cols) * config.cell_px;
  const size = config.tile_px;
  for (let tx = Math.floor(left / size); tx * size < left + config.cell_px; tx++) {
    for (let ty = Math.floor(top / size); ty * size < top + config.cell_px; ty++) {
      const img = document.createElement('img');
      // tile_zoom: the shown arrangement's deepest level (arrangements.js)
      img.src = config.tile_url.replace('{z}', config.tile_zoom ?? config.max_zoom).replace('{x}', tx).replace('{y}', ty);
      img.alt = '';
      img.style.width = (100 * size / config.cell_px) + '%';
      img.style.left = (100 * (tx * size - left) / config.cell_px) + '%';
      img.style.top = (100 * (ty * size - top) / config.cell_px) + '%';
      crop.appendChild(img);
    }
  }
  return crop;
}

export function createPanel(view, data, onChoose) {
  const byId = (id) => document.getElementById(id);
  const panel = byId('panel');
  const config = view.config;
  for (const element of panel.querySelectorAll('[data-needs]')) {
    element.hidden = !data.index.present[element.dataset.needs];
  }
  let shown = 0; // request counter: a slow chunk never overwrites a later photo
  let shownIndex = -1;

  const tileCrop = (index) => cellCrop(config, data, index);

  function photoElement(photo, alt) {
    if (photo.file === null) return tileCrop(photo.index);
    const img = document.createElement('img');
    img.src = photo.file;
    img.alt = alt;
    // A photo that moved or was deleted since the build: show its tile region instead.
    img.addEventListener('error', () => img.replaceWith(tileCrop(photo.index)), { once: true });
    return img;
  }

  function clear() {
    byId('panel-photo').replaceChildren(tileCrop(shownIndex));
    for (const name of ['title', 'city', 'price', 'size', 'neighbourhood', 'posted', 'post',
      'bin', 'predicted', 'id']) {
      byId('panel-' + name).textContent = '';
    }
    byId('panel-link').hidden = true;
    byId('panel-neighbours').replaceChildren();
  }

  async function open(index) {
    const request = ++shown;
    shownIndex = index;
    const wasHidden = panel.hidden;
    panel.hidden = false;
    panel.dataset.index = index;
    if (wasHidden) view.map.invalidateSize({ pan: false });
    clear();
    setText(byId('panel-city'), data.cityOf(index).name);
    const bin = data.columns.bin[index];
    setText(byId('panel-bin'), bin < data.index.bins.length ? data.index.bins[bin] : null);
    let photo;
    try {
      photo = await data.photo(index);
    } catch (error) {
      if (request === shown) byId('panel-title').textContent = 'Details could not be loaded (' + error.message + ')';
      return;
    }
    if (request !== shown) return;
    fill(photo);
    const others = await data.photos(photo.neighbours).catch(() => []);
    if (request !== shown) return;
    byId('panel-neighbours').replaceChildren(...others.map((other) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.title = other.id;
      button.dataset.index = other.index;
      button.appendChild(photoElement(other, other.id));
      button.addEventListener('click', () => onChoose(other.index));
      return button;
    }));
  }

  function fill(photo) {
    const f = photo.fields;
    byId('panel-photo').replaceChildren(photoElement(photo, f.title || photo.id));
    byId('panel-title').textContent = f.title || '';
    setText(byId('panel-price'), f.price === null ? null : '$' + formatNumber(f.price));
    const size = [];
    if (f.beds !== null) size.push(formatNumber(f.beds) + ' bd');
    if (f.sqft !== null) size.push(formatNumber(f.sqft) + ' sqft');
    setText(byId('panel-size'), size.join(' \u00b7 '));
    setText(byId('panel-neighbourhood'), f.neighbourhood);
    setText(byId('panel-posted'), f.posted);
    setText(byId('panel-post'), f.post_id);
    const predicted = data.columns.predicted[photo.index];
    const classes = data.index.classes;
    setText(byId('panel-predicted'), predicted < classes.length
      ? classes[predicted] + (photo.probability === null ? '' : ' (' + photo.probability.toFixed(2) + ')')
      : null);
    const link = byId('panel-link');
    const url = webUrl(f.url);
    if (url !== null) {
      link.href = url;
      link.hidden = false;
    } else {
      link.removeAttribute('href');
      link.hidden = true;
    }
    byId('panel-id').textContent = photo.id;
  }

  function close() {
    shown++;
    shownIndex = -1;
    panel.hidden = true;
    delete panel.dataset.index;
    view.map.invalidateSize({ pan: false });
  }

  byId('panel-close').addEventListener('click', () => onChoose(-1));
  return { open: open, close: close, isOpen: () => !panel.hidden, current: () => shownIndex };
}
