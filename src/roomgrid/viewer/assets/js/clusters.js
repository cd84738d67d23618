// The clusters panel: every k-means cluster with its most central photos, size, share and dominant
// predicted type. Hovering one highlights its photos on the map, a click filters to it and flies to
// its largest region. Names and "drop" ticks become the cull config of the next run (cullconfig.js);
// the clusters with their member ids download as CSV. Its data (data/clusters.json) is fetched when
// the panel opens; the place names on the map read data/places.json once the first tiles are in.
import { cellCrop } from './panel.js';
import { createPlaceNames, placeLabel } from './placenames.js';
import { cullYaml, mergeCull, nameProblem } from './cullconfig.js';
import { download } from './export.js';
import { csvField, formatNumber } from './text.js';

const urlPath = (text) => text.split('/').map(encodeURIComponent).join('/');

export function createClusters(view, data, hooks) {
  const byId = (id) => document.getElementById(id);
  const config = view.config;
  const map = view.map;
  const count = data.index.clusters || 0;
  if (count === 0) return null; // a build without clusters: no panel, nothing fetched
  const aside = byId('clusters');
  const opener = byId('clusters-open');
  opener.hidden = false;
  opener.textContent = 'Clusters (' + count + ')';
  const places = createPlaceNames(view);
  const edits = new Map(); // cluster number -> {name, drop, problem}
  let clusters = []; // clusters.json's list
  let start = { cluster_labels: {}, drop: [], labels_csv: null };
  let loading = null;
  let yaml = '';

  function load() {
    if (loading === null) {
      loading = data.loadClusters().then((json) => {
        init(json);
        return json;
      });
      loading.catch((error) => {
        loading = null;
        hooks.status('The clusters could not be loaded (' + error.message + ').');
      });
    }
    return loading;
  }

  function init(json) {
    clusters = json.clusters;
    start = json.cull;
    for (const cluster of clusters) {
      const name = cluster.name || '';
      edits.set(cluster.number, { name: name, drop: name !== '' && start.drop.includes(name), problem: null });
    }
    places.show(clusters, (number) => edits.get(number).name);
    byId('clusters-summary').textContent = formatNumber(clusters.length) + ' clusters of ' +
      formatNumber(json.photos) + ' photos (k-means of the features), nearest their centre first. ' +
      'Hover one to see it on the map, click it to filter to it.';
    byId('clusters-list').replaceChildren(...clusters.map(item));
    refresh();
  }

  function thumb(photo) {
    const box = document.createElement('span');
    box.className = 'cluster-thumb';
    box.title = photo.id;
    const city = data.cities.find((c) => c.name === photo.city);
    const fallback = () => {
      if (photo.index >= 0) return cellCrop(config, data, photo.index);
      const none = document.createElement('span');
      none.className = 'no-photo';
      none.textContent = 'not shown';
      return none;
    };
    if (photo.file !== null && city !== undefined && city.linked) {
      const img = document.createElement('img');
      img.alt = photo.id;
      img.loading = 'lazy';
      img.src = 'photos/' + encodeURIComponent(city.name) + '/' + urlPath(photo.file);
      img.addEventListener('error', () => img.replaceWith(fallback()), { once: true });
      box.append(img);
    } else {
      box.append(fallback());
    }
    return box;
  }

  function item(cluster) {
    const li = document.createElement('li');
    li.className = 'cluster';
    li.dataset.cluster = cluster.number;
    const head = document.createElement('button');
    head.type = 'button';
    head.className = 'cluster-go';
    head.title = cluster.region ? 'Filter to this cluster and fly to it' : 'Filter to this cluster (none of it is on the map)';
    const title = document.createElement('span');
    title.className = 'cluster-title';
    const facts = document.createElement('span');
    facts.className = 'cluster-facts';
    const parts = [formatNumber(cluster.size) + ' photos', (100 * cluster.share).toFixed(1) + '%'];
    if (cluster.on_map !== cluster.size) parts.push(formatNumber(cluster.on_map) + ' on the map');
    if (cluster.predicted) {
      parts.push('mostly ' + cluster.predicted.type + ' (' + Math.round(100 * cluster.predicted.share) + '%)');
    }
    facts.textContent = parts.join(' \u00b7 ');
    head.append(title, facts);
    const thumbs = document.createElement('span');
    thumbs.className = 'cluster-thumbs';
    thumbs.append(...cluster.central.map(thumb));
    head.append(thumbs);
    head.addEventListener('click', () => go(cluster));

    const act = document.createElement('div');
    act.className = 'cluster-act';
    const name = document.createElement('input');
    name.type = 'text';
    name.className = 'cluster-name';
    name.placeholder = cluster.predicted ? 'name, e.g. ' + cluster.predicted.type : 'name';
    name.setAttribute('aria-label', 'Name of cluster ' + cluster.number);
    name.value = edits.get(cluster.number).name;
    const tick = document.createElement('label');
    tick.className = 'check';
    const drop = document.createElement('input');
    drop.type = 'checkbox';
    drop.className = 'cluster-drop';
    drop.checked = edits.get(cluster.number).drop;
    tick.append(drop, ' drop');
    tick.title = 'Leave photos of this type off the map in the next run';
    const problem = document.createElement('span');
    problem.className = 'problem';
    act.append(name, tick, problem);
    name.addEventListener('input', () => {
      const edit = edits.get(cluster.number);
      const text = name.value.trim();
      edit.problem = nameProblem(text);
      problem.textContent = edit.problem || '';
      name.setAttribute('aria-invalid', edit.problem ? 'true' : 'false');
      if (edit.problem === null) edit.name = text;
      places.rename(cluster.number, edit.name);
      title.textContent = heading(cluster);
      refresh();
    });
    drop.addEventListener('change', () => {
      edits.get(cluster.number).drop = drop.checked;
      refresh();
    });
    title.textContent = heading(cluster);
    li.append(head, act);
    // The highlight follows the pointer and the keyboard focus.
    li.addEventListener('mouseenter', () => hooks.highlight(cluster.number));
    li.addEventListener('mouseleave', () => hooks.highlight(-1));
    li.addEventListener('focusin', () => hooks.highlight(cluster.number));
    li.addEventListener('focusout', () => hooks.highlight(-1));
    return li;
  }

  function heading(cluster) {
    return cluster.number + ': ' + placeLabel(cluster, edits.get(cluster.number).name);
  }

  function go(cluster) {
    hooks.filterTo(cluster.number);
    if (!cluster.region) return;
    const [r0, c0, r1, c1] = cluster.region.bounds;
    const cell = config.cell_px;
    const bounds = L.latLngBounds(view.toLatLng(c0 * cell, (r1 + 1) * cell), view.toLatLng((c1 + 1) * cell, r0 * cell));
    map.flyToBounds(bounds, { duration: 0.6, maxZoom: config.max_zoom });
  }

  // The YAML for the next run, from the panel's names and ticks and the selection's named group.
  function refresh() {
    if (clusters.length === 0) return;
    const given = clusters.map((c) => ({ number: c.number, name: edits.get(c.number).name, drop: edits.get(c.number).drop }));
    const group = hooks.group();
    const merged = mergeCull(start, given, group);
    const notes = ['Re-run with it after your own config files, e.g.',
      '  snakemake --cores 8 --configfile config.yaml cull.yaml',
      'Only the classifier, the selection and what follows them re-run.'];
    for (const [number, name] of Object.entries(start.cluster_labels)) {
      if (merged.cluster_labels[number] === undefined) {
        notes.push('Cluster ' + number + ' is named ' + JSON.stringify(name) + " in the build's config: delete it there" +
          ' (a later config file adds names, it cannot remove one).');
      }
    }
    if (group && group.name !== '') {
      notes.push(start.labels_csv
        ? 'Append the rows of ' + group.file + ' (without its header) to ' + start.labels_csv + '.'
        : 'Save ' + group.file + ' (the selection labelled ' + JSON.stringify(group.name) + ') in the folder snakemake runs in.');
    }
    yaml = cullYaml(merged, notes);
    byId('cull-yaml').textContent = yaml;
    const problems = [...edits.values()].filter((e) => e.problem !== null).length;
    byId('cull-download').disabled = problems > 0;
    byId('cull-problem').textContent = problems > 0 ? 'Fix the names marked in red first.' : '';
    for (const li of byId('clusters-list').children) {
      const edit = edits.get(Number(li.dataset.cluster));
      li.querySelector('.cluster-drop').disabled = edit.name === '';
      li.classList.toggle('dropped', edit.drop && edit.name !== '');
    }
  }

  async function exportCsv() {
    try {
      await load();
    } catch (error) {
      return; // load() has said why
    }
    hooks.status('Collecting the members of ' + clusters.length + ' clusters\u2026');
    let chunks;
    let away;
    try {
      [chunks, away] = await Promise.all([data.allChunks(), data.loadClusterMembers()]);
    } catch (error) {
      hooks.status('The cluster members could not be loaded (' + error.message + ').');
      return;
    }
    const members = clusters.map(() => []);
    const column = data.columns.cluster;
    for (const chunk of chunks) {
      chunk.ids.forEach((id, local) => {
        const number = column[chunk.start + local];
        if (number >= 0 && number < members.length) members[number].push([id, 'true']);
      });
    }
    for (const [number, ids] of Object.entries(away.off_map)) {
      for (const id of ids) members[Number(number)].push([id, 'false']);
    }
    const lines = ['cluster,name,size,id,on_map'];
    clusters.forEach((cluster, number) => {
      const name = edits.get(cluster.number).name;
      for (const [id, onMap] of members[number]) {
        lines.push([cluster.number, name, cluster.size, id, onMap].map(csvField).join(','));
      }
    });
    download('clusters.csv', 'text/csv', lines.join('\n') + '\n');
    hooks.status('');
  }

  function toggle(open) {
    aside.hidden = !open;
    opener.setAttribute('aria-expanded', open ? 'true' : 'false');
    map.invalidateSize({ pan: false });
    if (open) load().catch(() => {});
    else hooks.highlight(-1);
  }

  opener.addEventListener('click', () => toggle(aside.hidden));
  byId('clusters-close').addEventListener('click', () => toggle(false));
  byId('cull-download').addEventListener('click', () => download('cull.yaml', 'application/yaml', yaml));
  byId('cull-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(yaml);
      hooks.status('The config is copied.');
    } catch (error) {
      window.getSelection().selectAllChildren(byId('cull-yaml'));
      hooks.status('Press Ctrl+C to copy the selected config.');
    }
  });
  byId('clusters-csv').addEventListener('click', exportCsv);
  // The place names have a small file of their own, fetched once the first tiles are in.
  const later = window.requestIdleCallback ? (f) => window.requestIdleCallback(f, { timeout: 3000 }) : (f) => setTimeout(f, 500);
  hooks.afterFirstPaint(() => later(() => data.loadPlaces().then(
    (json) => places.show(json.clusters, (number) => (edits.has(number) ? edits.get(number).name : undefined)),
    (error) => hooks.status('The place names could not be loaded (' + error.message + ').'))));
  return { load: load, refresh: refresh, open: () => toggle(true), yaml: () => yaml };
}
