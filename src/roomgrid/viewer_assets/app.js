// roomgrid viewer: Leaflet map of photo tiles (CRS.Simple) and a side panel for the clicked photo.
// All sizes come from the map description that build_viewer put inline in index.html.
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('map-config').textContent);
  const maxZoom = config.max_zoom;
  const cell = config.cell_px;

  const map = L.map('map', {
    crs: L.CRS.Simple,
    minZoom: 0,
    maxZoom: maxZoom + config.overzoom,
    zoomControl: true,
    attributionControl: false,
  });
  // Pixel coordinates of the deepest zoom; y grows downward in CRS.Simple.
  const toLatLng = (x, y) => map.unproject([x, y], maxZoom);
  const bounds = L.latLngBounds(toLatLng(0, config.height), toLatLng(config.width, 0));
  map.setMaxBounds(bounds.pad(0.25));
  L.tileLayer(config.tile_url, {
    tileSize: config.tile_px,
    bounds: bounds, // no tile outside the map is ever requested
    noWrap: true,
    minZoom: 0,
    maxNativeZoom: maxZoom,
    maxZoom: maxZoom + config.overzoom,
  }).addTo(map);
  map.fitBounds(bounds);

  const panel = document.getElementById('panel');
  const byId = (id) => document.getElementById(id);
  let data = null;
  let indexOfId = null;
  let highlight = null;

  function cellBounds(index) {
    const x = data.photos.col[index] * cell;
    const y = data.photos.row[index] * cell;
    return L.latLngBounds(toLatLng(x, y + cell), toLatLng(x + cell, y));
  }

  function photoUrl(index) {
    const file = data.photos.file[index];
    if (file === null) return null;
    const city = data.cities[data.photos.city[index]];
    return 'photos/' + encodeURIComponent(city) + '/' +
      file.split('/').map(encodeURIComponent).join('/');
  }

  // The photo's cell cut from the deepest tiles, for photos whose source file cannot be shown.
  function tileCrop(index) {
    const crop = document.createElement('div');
    crop.className = 'tile-crop';
    const left = data.photos.col[index] * cell;
    const top = data.photos.row[index] * cell;
    const size = config.tile_px;
    for (let tx = Math.floor(left / size); tx * size < left + cell; tx++) {
      for (let ty = Math.floor(top / size); ty * size < top + cell; ty++) {
        const img = document.createElement('img');
        img.src = config.tile_url.replace('{z}', maxZoom).replace('{x}', tx).replace('{y}', ty);
        img.alt = '';
        img.style.width = (100 * size / cell) + '%';
        img.style.left = (100 * (tx * size - left) / cell) + '%';
        img.style.top = (100 * (ty * size - top) / cell) + '%';
        crop.appendChild(img);
      }
    }
    return crop;
  }

  function photoElement(index, alt) {
    const url = photoUrl(index);
    if (url === null) return tileCrop(index);
    const img = document.createElement('img');
    img.src = url;
    img.alt = alt;
    img.addEventListener('error', () => img.replaceWith(tileCrop(index)), { once: true });
    return img;
  }

  function formatNumber(value) {
    return typeof value === 'number' ? value.toLocaleString('en-US') : String(value);
  }

  function setText(id, value) {
    byId(id).textContent = value === null || value === '' ? '\u2014' : value;
  }

  function fillPanel(index) {
    const p = data.photos;
    byId('panel-photo').replaceChildren(photoElement(index, p.title[index] || p.id[index]));
    byId('panel-title').textContent = p.title[index] || '';
    setText('panel-city', data.cities[p.city[index]]);
    setText('panel-price', p.price[index] === null ? null : '$' + formatNumber(p.price[index]));
    const size = [];
    if (p.beds[index] !== null) size.push(formatNumber(p.beds[index]) + ' bd');
    if (p.sqft[index] !== null) size.push(formatNumber(p.sqft[index]) + ' sqft');
    setText('panel-size', size.join(' \u00b7 '));
    setText('panel-neighbourhood', p.neighbourhood[index]);
    setText('panel-posted', p.posted[index]);
    const link = byId('panel-link');
    const url = p.url[index];
    // Only web links: a listing URL is data, never script.
    if (typeof url === 'string' && /^https?:\/\//i.test(url)) {
      link.href = url;
      link.hidden = false;
    } else {
      link.removeAttribute('href');
      link.hidden = true;
    }
    byId('panel-id').textContent = p.id[index];
    const similar = p.neighbours[index].map((other) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.title = p.id[other];
      button.dataset.index = other;
      button.appendChild(photoElement(other, p.id[other]));
      button.addEventListener('click', () => select(other, { fly: true }));
      return button;
    });
    byId('panel-neighbours').replaceChildren(...similar);
  }

  function select(index, options) {
    const opening = panel.hidden;
    fillPanel(index);
    panel.hidden = false;
    panel.dataset.index = index;
    if (opening) map.invalidateSize({ pan: false });
    const box = cellBounds(index);
    if (highlight === null) {
      highlight = L.rectangle(box, {
        className: 'selected-cell', color: '#ffd400', weight: 3, fill: false, interactive: false,
      }).addTo(map);
    } else {
      highlight.setBounds(box);
    }
    history.replaceState(null, '', '#id=' + encodeURIComponent(data.photos.id[index]));
    if (options.fly) {
      map.flyTo(box.getCenter(), Math.max(map.getZoom(), maxZoom), { duration: 0.6 });
    } else if (options.jump) {
      map.setView(box.getCenter(), Math.max(map.getZoom(), maxZoom));
    }
  }

  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    delete panel.dataset.index;
    if (highlight !== null) {
      highlight.remove();
      highlight = null;
    }
    history.replaceState(null, '', location.pathname + location.search);
    map.invalidateSize({ pan: false });
  }

  function selectFromHash() {
    const match = /^#id=(.+)$/.exec(location.hash);
    if (match === null) return;
    const index = indexOfId.get(decodeURIComponent(match[1]));
    if (index !== undefined) select(index, { jump: true });
  }

  map.on('click', (event) => {
    if (data === null) return;
    const point = map.project(event.latlng, maxZoom);
    const col = Math.floor(point.x / cell);
    const row = Math.floor(point.y / cell);
    const inside = row >= 0 && row < config.rows && col >= 0 && col < config.cols;
    const index = inside ? data.cells[row * config.cols + col] : -1;
    if (index < 0) close(); else select(index, {});
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  byId('panel-close').addEventListener('click', close);
  window.addEventListener('hashchange', () => data !== null && selectFromHash());

  const ready = fetch('data/photos.json')
    .then((response) => {
      if (!response.ok) throw new Error('data/photos.json: HTTP ' + response.status);
      return response.json();
    })
    .then((photos) => {
      data = photos;
      indexOfId = new Map(data.photos.id.map((id, index) => [id, index]));
      selectFromHash();
      document.body.dataset.ready = 'true';
    });

  // A handle for debugging from the console and for the browser tests.
  window.roomgrid = { map: map, config: config, ready: ready, select: select, close: close };
})();
