// Arrangements: the same photos by look-alike, city, rent, date or at random, switched in place.
// data/arrangements/index.json lists them (fetched after the map shows, so the first paint costs
// the same for any number of them); an arrangement's cells (<name>.bin: photo -> cell, int32) and
// block labels (<name>.json) are fetched when it is first shown. A switch keeps the photo at the
// centre of the view (or the open one) at the centre, at the same zoom, and keeps filters,
// selection and search, which all work on photo indices.

const SIMILARITY = 'similarity';
const HASH_KEY = 'arrangement';

async function fetchOk(url, kind) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ': HTTP ' + response.status);
  return kind === 'json' ? response.json() : response.arrayBuffer();
}

// The arrangement an address names ("#arrangement=rent&id=..."), or null.
export function arrangementInHash(hash) {
  const match = /(?:^#|&)arrangement=([^&]*)/.exec(hash);
  if (match === null) return null;
  try { return decodeURIComponent(match[1]); } catch (error) { return null; }
}

// hooks: overlay (the filter layer), openPhoto() (photo index open in the panel, or -1) and
// switched(photo) (called once the new cells are in place, with the photo kept in view).
export function createArrangements(view, data, hooks) {
  const map = view.map;
  const config = view.config;
  const loaded = new Map(); // name -> Promise of { entry, cells, cellOf, blocks }
  const entries = new Map();
  let current = SIMILARITY;
  let labels = null;
  let select = null;

  loaded.set(SIMILARITY, Promise.resolve({
    entry: null, cells: data.cells, cellOf: data.cellOf, blocks: [],
  }));

  async function load(name) {
    if (!loaded.has(name)) {
      const entry = entries.get(name);
      const request = Promise.all([
        fetchOk('data/arrangements/' + encodeURIComponent(name) + '.bin', 'bytes'),
        fetchOk('data/arrangements/' + encodeURIComponent(name) + '.json', 'json'),
      ]).then(([buffer, facts]) => {
        const cellOf = new Int32Array(buffer);
        const cells = new Int32Array(entry.rows * entry.cols).fill(-1);
        for (let photo = 0; photo < cellOf.length; photo++) {
          if (cellOf[photo] >= 0) cells[cellOf[photo]] = photo;
        }
        return { entry: entry, cells: cells, cellOf: cellOf, blocks: facts.blocks };
      });
      request.catch(() => loaded.delete(name)); // a failed fetch may be retried
      loaded.set(name, request);
    }
    return loaded.get(name);
  }

  // The photo to keep in view: the open one, else the one at the centre, else the nearest.
  function keptPhoto() {
    const open = hooks.openPhoto();
    if (open >= 0) return open;
    const centre = view.toPixel(map.getCenter());
    const col = Math.floor(centre.x / config.cell_px);
    const row = Math.floor(centre.y / config.cell_px);
    for (let radius = 0; radius < 64; radius++) {
      let best = -1;
      let bestDistance = Infinity;
      for (let r = row - radius; r <= row + radius; r++) {
        for (let c = col - radius; c <= col + radius; c++) {
          if (Math.max(Math.abs(r - row), Math.abs(c - col)) !== radius) continue;
          if (r < 0 || c < 0 || r >= config.rows || c >= config.cols) continue;
          const photo = data.cells[r * config.cols + c];
          const distance = (r - row) * (r - row) + (c - col) * (c - col);
          if (photo >= 0 && distance < bestDistance) { best = photo; bestDistance = distance; }
        }
      }
      if (best >= 0) return best;
    }
    return -1;
  }

  async function show(name) {
    if (name === current) return true;
    if (!entries.has(name) || entries.get(name).unavailable) return false;
    const next = await load(name);
    const photo = keptPhoto();
    const zoom = map.getZoom();
    const entry = entries.get(name);
    // config.max_zoom stays the first map's: it is the zoom all positions are projected at.
    Object.assign(config, {
      rows: entry.rows, cols: entry.cols, width: entry.width, height: entry.height,
      tile_url: entry.tile_url, tile_zoom: entry.max_zoom,
    });
    data.cells = next.cells;
    data.cellOf = next.cellOf;
    current = name;
    const place = photo >= 0 ? { centre: view.cellBounds(data.cellOf[photo]).getCenter(), zoom: zoom } : null;
    const bounds = view.setTiles(entry, place);
    if (place === null) map.fitBounds(bounds);
    hooks.overlay.options.bounds = bounds;
    hooks.overlay.redraw();
    drawLabels(next.blocks);
    if (select !== null) select.value = name;
    const tiles = entry.tile_url;
    map.fire('arrangement', { name: name, tile_url: tiles, max_zoom: entry.max_zoom });
    hooks.switched(photo);
    document.getElementById('map').dataset.arrangement = name;
    return true;
  }

  // Each block's label sits in the empty header row just above it, so at the deepest zoom it
  // never covers a photo; at every zoom a label that would overlap a larger block's is hidden.
  function drawLabels(blocks) {
    if (labels !== null) labels.remove();
    labels = L.layerGroup();
    const order = blocks.map((block, i) => i).sort((a, b) => blocks[b].count - blocks[a].count);
    for (const i of order) {
      const block = blocks[i];
      const text = document.createElement('span');
      text.className = 'block-label-text';
      text.textContent = block.label;
      text.title = block.label + ': ' + block.count + (block.count === 1 ? ' photo' : ' photos');
      const at = view.toLatLng(block.col * config.cell_px, block.row * config.cell_px);
      L.marker(at, {
        icon: L.divIcon({ className: 'block-label', html: text, iconSize: null, iconAnchor: [0, 0] }),
        interactive: false, keyboard: false,
      }).addTo(labels);
    }
    labels.addTo(map);
    spaceLabels();
  }

  function spaceLabels() {
    if (labels === null) return;
    const shown = [];
    labels.eachLayer((marker) => {
      const element = marker.getElement();
      if (!element) return;
      element.classList.remove('crowded');
      const box = element.firstChild.getBoundingClientRect();
      const overlaps = shown.some((other) => box.left < other.right && other.left < box.right &&
        box.top < other.bottom && other.top < box.bottom);
      if (overlaps) element.classList.add('crowded'); else shown.push(box);
    });
  }
  map.on('zoomend', spaceLabels);

  function hashPrefix() {
    return current === SIMILARITY ? '' : HASH_KEY + '=' + encodeURIComponent(current) + '&';
  }

  function addSwitch(list) {
    const label = document.createElement('label');
    label.id = 'arrangement-switch';
    label.textContent = 'Arrange by ';
    select = document.createElement('select');
    select.id = 'arrangement';
    for (const entry of list) {
      const choice = document.createElement('option');
      choice.value = entry.name;
      choice.textContent = entry.name;
      if (entry.unavailable) { // not built: the data has no value to arrange by
        choice.disabled = true;
        choice.textContent = entry.name + ' (' + entry.unavailable + ')';
        choice.title = entry.unavailable;
      }
      select.append(choice);
    }
    select.value = current;
    select.addEventListener('change', async () => {
      await show(select.value);
      const id = /(?:^#|&)id=(.*)$/.exec(location.hash);
      const hash = (hashPrefix() + (id !== null ? 'id=' + id[1] : '')).replace(/&$/, '');
      history.replaceState(null, '', location.pathname + location.search + (hash ? '#' + hash : ''));
    });
    label.append(select);
    document.getElementById('counts').after(label);
  }

  // The list of arrangements; resolves false when there is none besides similarity.
  const ready = fetchOk('data/arrangements/index.json', 'json').then((index) => {
    for (const entry of index.arrangements) entries.set(entry.name, entry);
    if (index.arrangements.length > 1) addSwitch(index.arrangements);
    return index.arrangements.length > 1;
  }).catch(() => false);

  // Show the arrangement the address names (after the list is in); unknown names are ignored.
  async function fromHash() {
    await ready;
    const name = arrangementInHash(location.hash) || SIMILARITY;
    return show(name).catch(() => false);
  }

  return { ready: ready, show: show, fromHash: fromHash, hashPrefix: hashPrefix,
           current: () => current, names: () => [...entries.keys()] };
}
