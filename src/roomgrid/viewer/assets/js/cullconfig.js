// The config the clusters panel writes: cluster names and dropped types as a `cull:` section, merged
// with what the build's config already had, so that nobody types cluster numbers by hand.

// What the config schema accepts as a class name (workflow/schemas/config.schema.yaml).
const NAME = /^[A-Za-z0-9][A-Za-z0-9_ .-]*$/;
// Plain YAML scalars that would not read back as the same string.
const YAML_WORDS = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;

// Why a typed (trimmed) class name cannot be used, or null when it can.
export function nameProblem(name) {
  if (name === '') return null;
  if (!NAME.test(name)) {
    return 'A name starts with a letter or digit and holds only letters, digits, spaces and _ . -';
  }
  return null;
}

// A string as YAML: plain when it reads back as itself, double-quoted (JSON is valid YAML) otherwise.
export function yamlString(text) {
  const plain = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(text) && !YAML_WORDS.test(text);
  return plain ? text : JSON.stringify(text);
}

// The merged cull settings: the build's names, overridden by the ones given here (an empty name
// removes a cluster's name), and the dropped types. A type is dropped when a cluster or group named
// so is ticked; dropped types no cluster or group here is named after (e.g. from cull.labels_dir)
// stay as the build had them.
//   start: {cluster_labels: {"7": "floorplan"}, drop: ["bathroom"], labels_csv: null}
//   clusters: [{number, name, drop}] (every cluster of the map)
//   group: null or {name, drop, file} for a selection exported as cull.labels_csv rows
export function mergeCull(start, clusters, group) {
  const labels = {};
  for (const [number, name] of Object.entries(start.cluster_labels || {})) labels[Number(number)] = name;
  const ticked = new Set();
  const named = new Set();
  for (const cluster of clusters) {
    if (cluster.name === '') delete labels[cluster.number];
    else labels[cluster.number] = cluster.name;
  }
  for (const cluster of clusters) {
    if (cluster.name === '') continue;
    named.add(cluster.name);
    if (cluster.drop) ticked.add(cluster.name);
  }
  if (group && group.name !== '') {
    named.add(group.name);
    if (group.drop) ticked.add(group.name);
  }
  const drop = [];
  for (const name of start.drop || []) {
    if ((!named.has(name) || ticked.has(name)) && !drop.includes(name)) drop.push(name);
  }
  for (const name of ticked) if (!drop.includes(name)) drop.push(name);
  const numbers = Object.keys(labels).map(Number).sort((a, b) => a - b);
  const sorted = {};
  for (const number of numbers) sorted[number] = labels[number];
  const labelsCsv = group && group.name !== '' ? (start.labels_csv || group.file) : start.labels_csv || null;
  return { cluster_labels: sorted, drop: drop, labels_csv: labelsCsv };
}

// The YAML text of merged cull settings (see mergeCull), to pass after the build's own config
// files: `snakemake --configfile config.yaml cull.yaml`.
export function cullYaml(cull, notes) {
  const lines = ['# Cluster names and dropped types, chosen in the roomgrid viewer.'];
  for (const note of notes || []) lines.push('# ' + note);
  lines.push('cull:');
  const numbers = Object.keys(cull.cluster_labels);
  if (numbers.length === 0) lines.push('  cluster_labels: {}');
  else {
    lines.push('  cluster_labels:');
    for (const number of numbers) lines.push('    ' + number + ': ' + yamlString(cull.cluster_labels[number]));
  }
  lines.push('  drop: [' + cull.drop.map(yamlString).join(', ') + ']');
  if (cull.labels_csv) lines.push('  labels_csv: ' + yamlString(cull.labels_csv));
  return lines.join('\n') + '\n';
}
