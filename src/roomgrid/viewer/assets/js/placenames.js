// Place names: zoomed out, the map reads as texture, so each cluster's name (or its number and
// dominant predicted type) is written on its largest region. Names fade out as the photos grow
// legible and are gone at the deepest zoom, where they would cover photos.

// Names are fully drawn while a cell is at most this many screen pixels wide.
const FULL_BELOW_PX = 16;

export function placeLabel(cluster, name) {
  if (name) return name;
  if (cluster.predicted) return cluster.number + ' \u00b7 ' + cluster.predicted.type;
  return 'Cluster ' + cluster.number;
}

// Opacity of the names at a zoom: 1 up to FULL_BELOW_PX-wide cells, 0 from the deepest tiles on.
export function placeOpacity(config, zoom) {
  if (zoom >= config.max_zoom) return 0;
  const cell = config.cell_px * Math.pow(2, zoom - config.max_zoom);
  if (cell <= FULL_BELOW_PX || config.cell_px <= FULL_BELOW_PX) return 1;
  return Math.max(0, Math.min(1, Math.log2(config.cell_px / cell) / Math.log2(config.cell_px / FULL_BELOW_PX)));
}

export function createPlaceNames(view) {
  const map = view.map;
  const config = view.config;
  const pane = map.createPane('placenames');
  pane.style.zIndex = 450; // above the filter overlay (400), below the cell outlines (markers: 600)
  pane.style.pointerEvents = 'none';
  const labels = new Map(); // cluster number -> its text element

  function fade() {
    const opacity = placeOpacity(config, map.getZoom());
    pane.style.opacity = opacity;
    pane.hidden = opacity === 0;
  }

  // Draws a name for each cluster that has cells on the map (clusters: the list of places.json or
  // clusters.json); nameOf(number) is the name typed in the panel, undefined before it opened.
  function show(clusters, nameOf) {
    for (const cluster of clusters) {
      if (!cluster.region || labels.has(cluster.number)) continue;
      const text = document.createElement('span');
      text.className = 'place-name';
      text.dataset.cluster = cluster.number;
      // Bigger regions get bigger names, within what stays readable.
      text.style.fontSize = Math.round(Math.min(22, 11 + Math.sqrt(cluster.region.cells) / 2)) + 'px';
      const given = nameOf(cluster.number); // undefined: as the build named it
      text.textContent = placeLabel(cluster, given === undefined ? cluster.name : given);
      const x = (cluster.region.col + 0.5) * config.cell_px;
      const y = (cluster.region.row + 0.5) * config.cell_px;
      L.marker(view.toLatLng(x, y), {
        icon: L.divIcon({ html: text, className: 'place-name-anchor', iconSize: null }),
        interactive: false, keyboard: false, pane: 'placenames',
      }).addTo(map);
      labels.set(cluster.number, { element: text, cluster: cluster });
    }
    fade();
  }

  function rename(number, name) {
    const label = labels.get(number);
    if (label) label.element.textContent = placeLabel(label.cluster, name);
  }

  map.on('zoomend zoom', fade);
  fade();
  return { show: show, rename: rename };
}
