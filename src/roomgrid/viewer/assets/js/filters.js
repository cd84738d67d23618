// Filters over the typed columns: which photos match, how many, and a sentence saying what is shown.
import { formatNumber, option } from './text.js';

export function createFilters(data, onChange) {
  const byId = (id) => document.getElementById(id);
  const index = data.index;
  const missing = index.missing;
  const columns = data.columns;
  const match = new Uint8Array(data.count);
  const result = { active: false, match: match, count: data.count, describe: '' };

  // Hide controls for what this map has no data for (older tables, no classifier run).
  for (const element of document.querySelectorAll('#filters [data-needs]')) {
    element.hidden = !index.present[element.dataset.needs];
  }
  for (const city of data.cities) byId('filter-city').append(option(city.name, city.name + ' (' + city.count + ')'));
  index.bins.forEach((name, code) => byId('filter-bin').append(option(code, name)));
  index.classes.forEach((name, code) => byId('filter-predicted').append(option(code, name)));
  index.labels.forEach((name, code) => byId('filter-label').append(option(code, name)));

  const inputs = ['filter-city', 'filter-price-min', 'filter-price-max', 'filter-beds', 'filter-bin',
    'filter-predicted', 'filter-label', 'filter-cluster', 'filter-duplicate'].map(byId);

  function number(id) {
    const value = byId(id).value.trim();
    if (value === '') return null;
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : null;
  }

  function read() {
    const chosen = (id) => byId(id).value;
    return {
      city: chosen('filter-city'),
      priceMin: number('filter-price-min'),
      priceMax: number('filter-price-max'),
      beds: chosen('filter-beds'),
      bin: chosen('filter-bin'),
      predicted: chosen('filter-predicted'),
      label: chosen('filter-label'),
      cluster: number('filter-cluster'),
      duplicate: byId('filter-duplicate').checked,
    };
  }

  function apply() {
    const f = read();
    const tests = [];
    const words = [];
    let start = 0;
    let end = data.count;
    if (f.city !== '') {
      const city = data.cities.find((c) => c.name === f.city);
      start = city.start;
      end = city.start + city.count;
      words.push('in ' + city.name);
    }
    if (f.priceMin !== null || f.priceMax !== null) {
      const low = f.priceMin === null ? 0 : f.priceMin;
      const high = f.priceMax === null ? Infinity : f.priceMax;
      const price = columns.price;
      tests.push((i) => price[i] !== missing.uint16 && price[i] >= low && price[i] <= high);
      words.push('$' + formatNumber(low) + ' to ' + (high === Infinity ? 'any' : '$' + formatNumber(high)));
    }
    if (f.beds !== '') {
      const beds = columns.beds;
      if (f.beds === '4+') tests.push((i) => beds[i] !== missing.uint8 && beds[i] >= 4);
      else {
        const wanted = Number(f.beds);
        tests.push((i) => beds[i] === wanted);
      }
      words.push(f.beds === '0' ? 'studios' : f.beds + ' bedrooms');
    }
    const coded = [['bin', 'bin', index.bins, 'triage bin '], ['predicted', 'predicted', index.classes, 'predicted '],
      ['label', 'label', index.labels, 'labelled ']];
    for (const [key, column, names, word] of coded) {
      if (f[key] === '') continue;
      const wanted = Number(f[key]);
      const values = columns[column];
      tests.push((i) => values[i] === wanted);
      words.push(word + names[wanted]);
    }
    if (f.cluster !== null) {
      const cluster = columns.cluster;
      tests.push((i) => cluster[i] === f.cluster);
      words.push('cluster ' + f.cluster);
    }
    if (f.duplicate) {
      const duplicate = columns.duplicate;
      tests.push((i) => duplicate[i] === 1);
      words.push('with duplicates');
    }
    match.fill(0);
    let count = 0;
    for (let i = start; i < end; i++) {
      let ok = 1;
      for (const test of tests) {
        if (!test(i)) { ok = 0; break; }
      }
      match[i] = ok;
      count += ok;
    }
    result.active = words.length > 0;
    result.count = result.active ? count : data.count;
    result.describe = result.active ? 'Highlighted: photos ' + words.join(', ') + '.' : 'No filter: every photo is shown.';
    byId('filter-count').textContent = result.active
      ? formatNumber(count) + ' of ' + formatNumber(data.count) + ' photos match'
      : formatNumber(data.count) + ' photos';
    byId('legend-filter').textContent = result.describe;
    onChange(result);
  }

  for (const input of inputs) {
    input.addEventListener(input.tagName === 'SELECT' || input.type === 'checkbox' ? 'change' : 'input', apply);
  }
  byId('filter-clear').addEventListener('click', () => {
    for (const input of inputs) {
      if (input.type === 'checkbox') input.checked = false; else input.value = '';
    }
    apply();
  });
  // The clusters panel filters to one cluster (null: none) as if it had been typed.
  result.setCluster = (number) => {
    byId('filter-cluster').value = number === null ? '' : String(number);
    apply();
  };
  apply();
  return result;
}
